import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';

/** Exit codes and stream discipline of cost/audit/verify/doctor, through the built binary (npm run build). */

const bin = path.join(import.meta.dirname, '..', 'bin', 'run.js');
// Port 9 (discard) is closed on loopback: an unreachable store without starting anything.
const DOWN = 'http://127.0.0.1:9';
const env = { SAGEWAI_OBS_VM_URL: DOWN, SAGEWAI_OBS_VL_URL: DOWN, SAGEWAI_OBS_BACKEND_URL: DOWN, SAGEWAI_OBS_STATE_DIR: path.join(import.meta.dirname, 'no-such-state-dir'), NO_COLOR: '1' };
const run = (args: string[]) => execa(process.execPath, [bin, ...args], { reject: false, env });

describe('bad input → one clear line and exit 2', () => {
  it.each([
    [['cost', '--by', 'planet'], /--by=planet/],
    [['cost', '--since', 'soon'], /cannot parse duration "soon"/],
    [['cost', '--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'], /inverted/],
    [['cost', '--from', 'last tuesday'], /cannot parse --from/],
    [['cost', '--format', 'xml'], /--format=xml/],
    [['audit', '--since', '-5m'], /cannot parse duration/],
    [['verify', '--since', 'forever'], /cannot parse duration/],
  ])('%j', async (args, message) => {
    const r = await run(args);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toMatch(message);
  }, 20_000);

  it('an unreachable store names its URL, on stderr, or as {"error"} under --json', async () => {
    const r = await run(['cost']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`Error: VictoriaMetrics at ${DOWN} is unreachable: connect ECONNREFUSED 127.0.0.1:9`);
    const a = await run(['audit', '--json']);
    expect(a.exitCode).toBe(2);
    expect(JSON.parse(a.stdout).error.message).toMatch(/VictoriaLogs at http:\/\/127\.0\.0\.1:9 is unreachable/);
  }, 20_000);

  it('doctor reports the stores down as failed probes with hints (exit 3)', async () => {
    const r = await run(['doctor']);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/FAIL {2}victoria-metrics reachable/);
    expect(r.stdout).toMatch(/→ start the stack with `sagewai-obs up`/);
  }, 20_000);
});
