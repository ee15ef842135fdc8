import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, LOCK_FILE, processStartTime, type LockOwner } from '../src/backend/data-dir-lock.js';
import { isUserError } from '../src/errors.js';
import { packageRoot } from '../src/paths.js';

// One serve per data dir, with real processes: the built `serve` (run `npm run build` first).
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-lock-'));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Serve {
  child: ChildProcess;
  /** Everything on stderr so far. */
  stderr: () => string;
  /** Resolves with the URL once listening, or with the exit code and stderr if it exits first. */
  outcome: Promise<{ url?: string; code?: number | null; stderr: string }>;
}

function serve(dataDir: string): Serve {
  const stateDir = fs.mkdtempSync(path.join(tmp, 'state-'));
  const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--state-dir', stateDir], {
    env: { ...process.env, OTEL_SDK_DISABLED: 'true', SAGEWAI_OBS_LATENCY_SCALE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const outcome = new Promise<{ url?: string; code?: number | null; stderr: string }>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m) resolve({ url: m[1] as string, stderr });
    });
    child.once('exit', (code) => resolve({ code, stderr }));
  });
  return { child, outcome, stderr: () => stderr };
}

const exited = (c: ChildProcess): Promise<void> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r())));
const lockOf = (dataDir: string): LockOwner => JSON.parse(fs.readFileSync(path.join(dataDir, LOCK_FILE), 'utf8')) as LockOwner;

describe('serve holds an exclusive lock on its data dir', () => {
  it('a second serve on the same dir exits 2 naming the running PID; the first keeps serving', async () => {
    const dataDir = path.join(tmp, 'shared');
    const first = serve(dataDir);
    const up = await first.outcome;
    expect(up.url).toBeDefined();
    expect(lockOf(dataDir).pid).toBe(first.child.pid);

    const second = serve(dataDir);
    const refused = await second.outcome;
    expect(refused.url).toBeUndefined();
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/in use by another sagewai-obs serve \(PID \d+/);
    const tryThis = refused.stderr.slice(refused.stderr.indexOf('Try this:'));
    expect(tryThis).toContain(`kill ${first.child.pid}`);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace

    // The refused serve touched nothing: the first one still answers and still owns the lock.
    const health = await fetch(`${up.url}/healthz`);
    expect(health.status).toBe(200);
    expect(lockOf(dataDir).pid).toBe(first.child.pid);

    // SIGTERM releases the lock.
    first.child.kill('SIGTERM');
    await exited(first.child);
    expect(first.child.exitCode).toBe(0);
    expect(fs.existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
  });

  it('a lock left by a serve killed with SIGKILL is detected as stale and taken over', async () => {
    const dataDir = path.join(tmp, 'killed');
    const first = serve(dataDir);
    expect((await first.outcome).url).toBeDefined();
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(lockOf(dataDir).pid).toBe(first.child.pid); // left behind

    const next = serve(dataDir);
    const up = await next.outcome;
    expect(up.url).toBeDefined();
    // The progress lines follow the URL line on stderr.
    for (let i = 0; i < 100 && !next.stderr().includes('data:'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(next.stderr()).toContain(`took over the data dir's lock from PID ${first.child.pid}, which is no longer running`);
    expect(lockOf(dataDir).pid).toBe(next.child.pid);
    next.child.kill('SIGTERM');
    await exited(next.child);
  });

  it('three serves racing for one stale lock: exactly one wins, the others exit 2', async () => {
    const dataDir = path.join(tmp, 'race');
    fs.mkdirSync(dataDir, { recursive: true });
    // A stale lock: this test process's own PID, with a start time that is not ours (a recycled PID).
    fs.writeFileSync(path.join(dataDir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: os.hostname(), since: '2020-01-01T00:00:00.000Z', procStart: '1' }));
    const racers = [serve(dataDir), serve(dataDir), serve(dataDir)];
    const outcomes = await Promise.all(racers.map((r) => r.outcome));
    const winners = outcomes.filter((o) => o.url !== undefined);
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.code === 2)).toHaveLength(2);
    const winner = racers[outcomes.findIndex((o) => o.url !== undefined)] as Serve;
    expect(lockOf(dataDir).pid).toBe(winner.child.pid);
    winner.child.kill('SIGTERM');
    await exited(winner.child);
  });
});

describe('acquireDataDirLock', () => {
  it('tells a recycled PID from its owner by the process start time (Linux)', () => {
    if (processStartTime(process.pid) === undefined) return; // no /proc: liveness is all we can know
    const dir = path.join(tmp, 'recycled');
    fs.mkdirSync(dir, { recursive: true });
    // A live PID (ours) with the right start time is a live owner…
    const live = acquireDataDirLock(dir);
    let err: unknown;
    try {
      acquireDataDirLock(dir);
    } catch (e) {
      err = e;
    }
    expect(isUserError(err)).toBe(true);
    expect((err as Error).message).toContain(`PID ${process.pid}`);
    live.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    // …the same PID with another start time is a recycled PID: stale.
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'then', procStart: '1' }));
    const taken = acquireDataDirLock(dir);
    expect(taken.tookOver?.since).toBe('then');
    taken.release();
  });

  it('a damaged lock file is stale; release() leaves a lock that is no longer ours alone', () => {
    const dir = path.join(tmp, 'damaged');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, LOCK_FILE), 'not json');
    const lock = acquireDataDirLock(dir);
    expect(lock.tookOver).toBeDefined();
    fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: 1, since: 'someone else' }));
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
  });
});
