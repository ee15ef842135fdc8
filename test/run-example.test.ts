import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { catalog } from '../src/queries/index.js';
import { EXAMPLES, exampleDefinition, runExample } from '../src/run-example/index.js';
import { eventFilter } from '../src/run-example/verify.js';

const run = promisify(execFile);
const bin = path.resolve(__dirname, '..', 'bin', 'run.js');

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('run-example input checks (library)', () => {
  it('knows exactly the four examples', () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(['12', '17', '34', '40', '43']);
    expect(() => exampleDefinition('99')).toThrow(UserError);
  });

  it('refuses a non-positive duration before starting anything', async () => {
    await expect(runExample({ example: '43', durationMs: -5000, verify: false, keep: false })).rejects.toThrow(/duration must be positive/);
  });

  it('refuses an unreachable --backend-url before starting a stack', async () => {
    const port = await closedPort();
    const t0 = Date.now();
    await expect(runExample({ example: '43', backendUrl: `http://127.0.0.1:${port}`, verify: false, keep: false, stateDir: '/nonexistent/never-created' })).rejects.toThrow(/unreachable/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('example 43 asks every board panel for data; the others a named subset', () => {
    const panels = catalog.filter((e) => e.panel !== undefined);
    expect(panels.length).toBeGreaterThanOrEqual(14);
    expect(panels.every((e) => EXAMPLES['43']!.panels(e))).toBe(true);
    for (const id of ['12', '34', '40']) {
      const chosen = panels.filter((e) => EXAMPLES[id]!.panels(e));
      expect(chosen.length).toBeGreaterThan(0);
      expect(chosen.length).toBeLessThan(panels.length);
    }
  });

  it('audit checks filter by event name and tenant through the catalog entry', () => {
    const f = eventFilter({ event: 'agent.run.completed', project: 'acme-support' });
    expect(f.startsWith('event.name:"agent.run.completed" ')).toBe(true);
    expect(f).toContain('acme-support');
    expect(eventFilter({ event: 'auth.login.success', project: null })).toContain('.*');
  });
});

describe('run-example input checks (built binary)', () => {
  it.each([
    [['run-example', '99'], /unknown example "99"/],
    [['run-example', '43', '--duration=-5s'], /duration/],
    [['run-example', '43', '--duration', 'soon'], /duration/],
  ])('%j exits 2 with one error line', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(2);
    const errorLines = r.stderr.split('\n').filter((l) => l.startsWith('Error:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('an unreachable --backend-url exits 2 naming the URL', async () => {
    const port = await closedPort();
    const r = await cli(['run-example', '43', '--backend-url', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`Error: the backend at http://127.0.0.1:${port} is unreachable`));
  });

  it('--json turns a usage error into {"error"} on stdout', async () => {
    const r = await cli(['run-example', '7', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { kind: 'usage' } });
  });
});
