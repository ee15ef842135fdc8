import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStartedBackend, startedBackendPath } from '../src/backend/background.js';
import { packageRoot } from '../src/paths.js';
import { pidAlive } from '../src/stack/process.js';
import type { RunExampleReport } from '../src/run-example/index.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * `run-example --keep` through the built binary against the real stack (the test's, on free
 * ports): the command prints its proof and exits with its usual code while the backend it started
 * runs on; the next run uses that backend; `down` stops it and the stack by PID.
 */
const bin = path.join(packageRoot(), 'bin', 'run.js');
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_'))), NO_COLOR: '1' };
let stack: TestStack;
let keptPid: number | undefined;

/** The built CLI, given at most `ms` to exit by itself; SIGKILLed (and reported) when it does not. */
function cli(args: string[], ms: number): Promise<{ code: number | null; stdout: string; stderr: string; hung: boolean }> {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, hung });
    });
  });
}

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  // Whatever happened above, nothing started here is left running.
  let recorded: number | undefined;
  try {
    recorded = stack ? readStartedBackend(stack.stateDir)?.pid : undefined;
  } catch {
    recorded = undefined;
  }
  for (const pid of [keptPid, recorded]) if (pid !== undefined && pidAlive(pid)) process.kill(pid, 'SIGKILL');
  await stack?.stop();
});

describe('run-example --keep', () => {
  it('exits with its proof while the backend it started runs on; the next run uses it; down stops it', async () => {
    const sd = stack.stateDir;
    const r = await cli(['run-example', '34', '--keep', '--state-dir', sd], 120_000);
    const rec = fs.existsSync(startedBackendPath(sd)) ? readStartedBackend(sd) : undefined;
    keptPid = rec?.pid;
    expect(r.hung, `run-example --keep did not exit within 120 s; stderr: ${r.stderr}`).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Example 34 — cost tracking: PASSED/);
    expect(rec).toBeDefined();
    const kept = rec!;
    // The proof names what was kept and how to stop it.
    expect(r.stdout).toContain(`backend on ${kept.url} (pid ${kept.pid}, log ${kept.logFile}); stop it alone with: kill ${kept.pid}`);
    expect(r.stdout).toContain(`stop it with: sagewai-obs down --state-dir ${sd}`);
    expect(r.stdout).not.toContain('stack in '); // the stack was already running: not run-example's to keep
    // The backend answers after the command has gone, and has logged to its serve.log.
    const health = await fetch(`${kept.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    expect(health.status).toBe(200);
    expect(fs.readFileSync(kept.logFile, 'utf8')).toContain(`listening on ${kept.url}`);

    // The next run finds the kept backend instead of starting another, and leaves it running.
    const again = await cli(['run-example', '34', '--json', '--state-dir', sd], 120_000);
    expect(again.hung).toBe(false);
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as RunExampleReport;
    expect(report.started).toEqual({ stack: false, backend: false });
    expect(report.endpoints.backendUrl).toBe(kept.url);
    expect(report.kept).toBeNull();
    expect(pidAlive(kept.pid)).toBe(true);

    // down: the backend by PID first, then the stack.
    const d = await cli(['down', '--state-dir', sd, '--json'], 60_000);
    expect(d.code, d.stderr).toBe(0);
    const down = JSON.parse(d.stdout) as { runtime: string; backend: { pid: number; stopped: string } };
    expect(down).toMatchObject({ runtime: 'native', wasRunning: true, backend: { pid: kept.pid, stopped: 'terminated' } });
    expect(pidAlive(kept.pid)).toBe(false);
    for (const c of Object.values(stack.record.components)) expect(pidAlive(c.pid), `stack pid ${c.pid}`).toBe(false);
    expect(fs.existsSync(startedBackendPath(sd))).toBe(false);
  });
});
