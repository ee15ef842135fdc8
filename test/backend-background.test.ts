import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStartedBackend, startBackgroundBackend, startedBackendPath, type StartedBackendRecord } from '../src/backend/background.js';
import { resolveEndpoints } from '../src/clients/endpoints.js';
import { packageRoot } from '../src/paths.js';
import { pidAlive } from '../src/stack/process.js';

/**
 * The backend run-example starts (and, with --keep, leaves running): the built `serve`, detached
 * from the process that started it, which can exit while it runs on; found by later commands
 * through the state dir; stopped by `down` by PID, and never a PID that is no longer it.
 * Run `npm run build` first.
 */
const bin = path.join(packageRoot(), 'bin', 'run.js');
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_'))), NO_COLOR: '1', OTEL_SDK_DISABLED: 'true' };
let tmp: string;
/** Every PID a test started, SIGKILLed at the end if still alive (a failed assertion must not leave a backend behind). */
const pids = new Set<number>();

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-background-'));
});
afterAll(() => {
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

async function healthz(url: string): Promise<number | string> {
  return fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) }).then(
    (r) => r.status,
    (err: Error) => err.message,
  );
}

async function gone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !pidAlive(pid);
}

/** Process group of a PID (field 5 of /proc/<pid>/stat). */
function processGroup(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

/**
 * A separate Node process starts a background backend through the built library, keeps it and
 * prints its record. Resolves once that process exits by itself, or rejects after 20 s (a
 * starter held by its backend never exits: the bug --keep had).
 */
function startAndKeepInAnotherProcess(stateDir: string, dataDir: string): Promise<{ code: number | null; record: StartedBackendRecord; stderr: string }> {
  const lib = path.join(packageRoot(), 'dist', 'src', 'backend', 'background.js');
  const script = `const m = await import(${JSON.stringify(lib)});
const b = await m.startBackgroundBackend({ stateDir: ${JSON.stringify(stateDir)}, dataDir: ${JSON.stringify(dataDir)} });
b.keep();
process.stdout.write(JSON.stringify(b.record));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const rec = readStartedBackend(stateDir);
      if (rec) pids.add(rec.pid);
      reject(new Error(`the starting process did not exit within 20 s; stderr: ${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try {
        const record = JSON.parse(stdout) as StartedBackendRecord;
        pids.add(record.pid);
        resolve({ code, record, stderr });
      } catch {
        reject(new Error(`the starting process exited (code ${code}) without a record; stderr: ${stderr}`));
      }
    });
  });
}

describe('a backend started in the background', { timeout: 60_000 }, () => {
  it('outlives the process that started it, logs to <data>/serve.log and is found through the state dir', async () => {
    const stateDir = path.join(tmp, 'state-kept');
    const dataDir = path.join(stateDir, 'run-example', 'backend-kept');
    const started = await startAndKeepInAnotherProcess(stateDir, dataDir);
    expect(started.code, started.stderr).toBe(0);
    const { record } = started;
    // Still running after its starter exited, answering at its URL, in its own process group
    // (a Ctrl-C in the starter's terminal does not reach it).
    expect(pidAlive(record.pid)).toBe(true);
    expect(await healthz(record.url)).toBe(200);
    expect(processGroup(record.pid)).toBe(record.pid);
    expect(record.logFile).toBe(path.join(dataDir, 'serve.log'));
    expect(fs.readFileSync(record.logFile, 'utf8')).toContain(`sagewai-admin listening on ${record.url}`);
    expect(readStartedBackend(stateDir)).toEqual(record);
    // Later commands use it: the URL and its operator token come from the state dir.
    const ep = resolveEndpoints({ 'state-dir': stateDir });
    expect(ep.backendUrl).toBe(record.url);
    expect(ep.token).toBe(fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim());

    // `status` shows it; `down` stops it by PID (a clean SIGTERM: serve removes its backend.json) and forgets it.
    const s = await cli(['status', '--state-dir', stateDir, '--json']);
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ running: false, backend: { url: record.url, pid: record.pid, processAlive: true, healthy: true } });
    const d = await cli(['down', '--state-dir', stateDir, '--json']);
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ runtime: null, backend: { url: record.url, pid: record.pid, stopped: 'terminated' } });
    expect(await gone(record.pid, 5000)).toBe(true);
    expect(await healthz(record.url)).not.toBe(200);
    expect(fs.existsSync(startedBackendPath(stateDir))).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'backend.json'))).toBe(false);
    const again = await cli(['down', '--state-dir', stateDir]);
    expect(again.stdout).toMatch(/nothing to stop/);
  });

  it('stopAndForget (run-example without --keep) stops it and removes its record', async () => {
    const stateDir = path.join(tmp, 'state-released');
    const b = await startBackgroundBackend({ stateDir, dataDir: path.join(stateDir, 'run-example', 'backend-1'), env: { OTEL_SDK_DISABLED: 'true' } });
    pids.add(b.pid);
    expect(await healthz(b.url)).toBe(200);
    await b.stopAndForget();
    expect(pidAlive(b.pid)).toBe(false);
    expect(fs.existsSync(startedBackendPath(stateDir))).toBe(false);
  });

  it('down never signals a recorded PID that is no longer that backend', async () => {
    const stateDir = path.join(tmp, 'state-recycled');
    fs.mkdirSync(stateDir, { recursive: true });
    // A live process that is not a serve on the recorded data dir stands in for a recycled PID.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    const pid = other.pid as number;
    pids.add(pid);
    const record: StartedBackendRecord = { url: 'http://127.0.0.1:9', pid, dataDir: path.join(stateDir, 'run-example', 'backend-gone'), logFile: path.join(stateDir, 'run-example', 'backend-gone', 'serve.log'), startedAt: new Date().toISOString() };
    fs.writeFileSync(startedBackendPath(stateDir), JSON.stringify(record));
    const d = await cli(['down', '--state-dir', stateDir]);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stdout).toContain(`backend pid ${pid} (http://127.0.0.1:9) was no longer running`);
    expect(pidAlive(pid)).toBe(true);
    expect(fs.existsSync(startedBackendPath(stateDir))).toBe(false);
    other.kill('SIGKILL');
  });
});
