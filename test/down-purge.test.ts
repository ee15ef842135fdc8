import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock, LOCK_FILE } from '../src/backend/data-dir-lock.js';
import { down } from '../src/stack/runtime.js';

/**
 * Every backend run-example starts gets a fresh data directory under <state>/run-example; they
 * stay after the run. `down --purge` removes them, except one a running serve still holds.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function stateDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-down-purge-'));
  dirs.push(d);
  return d;
}

function backendDir(state: string, name: string): string {
  const d = path.join(state, 'run-example', name);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, 'sagewai.db'), 'x');
  fs.writeFileSync(path.join(d, 'serve.log'), 'log');
  return d;
}

describe('down --purge and the data of the backends run-example started', () => {
  it('removes every backend-* directory no running serve holds, keeps the held one and anything else', async () => {
    const state = stateDir();
    const plain = backendDir(state, 'backend-2026-12-02T10-00-00-000Z');
    const stale = backendDir(state, 'backend-2026-12-02T11-00-00-000Z');
    const held = backendDir(state, 'backend-2026-12-02T12-00-00-000Z');
    const other = path.join(state, 'run-example', 'report.json');
    fs.writeFileSync(other, '{}');
    // A lock whose owner has exited (a PID that ran and is gone), and one this process holds.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => gone.once('exit', r));
    fs.writeFileSync(path.join(stale, LOCK_FILE), `${JSON.stringify({ pid: gone.pid, host: os.hostname(), since: new Date().toISOString() })}\n`);
    const lock = acquireDataDirLock(held);
    try {
      const r = await down({ stateDir: state, purge: true, timeoutMs: 1000 });
      expect(r.runtime).toBeNull();
      expect(r.backendDataDirs).toEqual({ removed: 2, inUse: [held] });
      expect(fs.existsSync(plain)).toBe(false);
      expect(fs.existsSync(stale)).toBe(false);
      expect(fs.existsSync(path.join(held, 'sagewai.db'))).toBe(true);
      expect(fs.existsSync(other)).toBe(true);
    } finally {
      lock.release();
    }
    // Once that serve is gone, the next purge removes its directory too, and the empty folder.
    fs.rmSync(other);
    expect((await down({ stateDir: state, purge: true, timeoutMs: 1000 })).backendDataDirs).toEqual({ removed: 1, inUse: [] });
    expect(fs.existsSync(path.join(state, 'run-example'))).toBe(false);
  });

  it('without --purge keeps them; with nothing there it reports nothing', async () => {
    const state = stateDir();
    const d = backendDir(state, 'backend-2026-12-02T10-00-00-000Z');
    const kept = await down({ stateDir: state, timeoutMs: 1000 });
    expect(kept.backendDataDirs).toBeUndefined();
    expect(fs.existsSync(d)).toBe(true);
    expect((await down({ stateDir: stateDir(), purge: true, timeoutMs: 1000 })).backendDataDirs).toEqual({ removed: 0, inUse: [] });
  });
});
