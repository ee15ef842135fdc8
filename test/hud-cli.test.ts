import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { freePort } from '../src/stack/ports.js';

/**
 * `sagewai-obs hud` through the built binary (`npm run build` first), with nothing listening on
 * its endpoints: stdout is not a terminal, so it prints one plain frame whose panels say which
 * source is down and why; bad input is one line and exit 2.
 */
const bin = path.join(packageRoot(), 'bin', 'run.js');
let stateDir: string;
let urls: string[];

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [bin, ...args], { env: { ...base, SAGEWAI_OBS_STATE_DIR: stateDir, COLUMNS: '100', LINES: '30' }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-hud-cli-'));
  // Free ports that nothing listens on: every source is refused.
  urls = [];
  for (let i = 0; i < 3; i++) urls.push(`http://127.0.0.1:${await freePort()}`);
});
afterAll(() => fs.rmSync(stateDir, { recursive: true, force: true }));

describe('sagewai-obs hud (built binary)', () => {
  it('prints one plain frame when stdout is not a terminal, every source reported down', async () => {
    const [vm, vl, be] = urls as [string, string, string];
    const r = await run(['hud', '--vm-url', vm, '--vl-url', vl, '--backend-url', be]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('\u001b');
    const port = (u: string) => u.split(':').at(-1);
    expect(r.stdout).toContain(`down: connection refused 127.0.0.1:${port(vm)} (last good never)`);
    expect(r.stdout).toContain(`down: connection refused 127.0.0.1:${port(be)} (last good never)`);
    expect(r.stdout).toContain(`down: connection refused 127.0.0.1:${port(vl)} (last good never)`);
    expect(r.stdout).toContain('metrics ✕ live ✕ logs ✕');
    expect(r.stdout).toContain('req —');
    for (const line of r.stdout.trimEnd().split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  }, 60_000);

  it('--json prints the model with each source down and its reason', async () => {
    const [vm, vl, be] = urls as [string, string, string];
    const r = await run(['hud', '--json', '--project', 'acme', '--vm-url', vm, '--vl-url', vl, '--backend-url', be]);
    expect(r.code, r.stderr).toBe(0);
    const model = JSON.parse(r.stdout) as { project: string; sources: Record<string, { state: string; reason: string; lastGoodAt: null }>; kpis: Array<{ value: unknown }> };
    expect(model.project).toBe('acme');
    for (const s of Object.values(model.sources)) expect(s).toMatchObject({ state: 'down', lastGoodAt: null, reason: expect.stringContaining('connection refused') });
    expect(model.kpis.every((k) => k.value === null)).toBe(true);
  }, 60_000);

  it('rejects a bad --refresh with one line and exit 2', async () => {
    const r = await run(['hud', '--once', '--refresh', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: cannot parse duration "soon"/);
    const short = await run(['hud', '--once', '--refresh', '10ms']);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/too short/);
  }, 60_000);
});
