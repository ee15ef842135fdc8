import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.js';
import { pidAlive } from '../stack/process.js';

/**
 * One `serve` per data directory. The SQLite ledger is single-writer by design: a second `serve`
 * on the same directory would run its own start-up recovery over the first one's open runs and
 * reservations, and both would export ledger totals under one service.instance.id.
 *
 * The lock is the file <data-dir>/serve.lock, created atomically (link(2) of a fully written
 * temporary file, which fails with EEXIST when the lock exists), holding the owner's PID and the
 * process start time. A lock whose PID is gone — or whose PID now belongs to another process,
 * told apart by the start time the kernel reports for it — is stale (its owner was killed with
 * SIGKILL or the machine rebooted) and is taken over. Taking over is itself guarded by a second
 * exclusive file, so two `serve`s racing for one stale lock cannot both win.
 */
export interface LockOwner {
  pid: number;
  /** Host name, so that a lock on a shared file system names where its owner runs. */
  host: string;
  /** When the owner took the lock (ISO 8601). */
  since: string;
  /** The kernel's start time of the owner process (Linux /proc/<pid>/stat field 22), if known. */
  procStart?: string;
  /** The kernel boot id at that time (Linux), if known. */
  bootId?: string;
}

export interface DataDirLock {
  file: string;
  owner: LockOwner;
  /** Whether an earlier owner's stale lock was taken over (and whose it was). */
  tookOver?: LockOwner;
  /** Removes the lock if it is still ours. Safe to call more than once. */
  release(): void;
}

export const LOCK_FILE = 'serve.lock';

/** Linux: the start time of a process in clock ticks since boot, which differs for a recycled PID. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces and parentheses); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function bootId(): string | undefined {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readOwner(file: string): LockOwner | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && Number.isInteger(o.pid) && o.pid > 0) return { pid: o.pid, host: String(o.host ?? ''), since: String(o.since ?? ''), ...(o.procStart ? { procStart: String(o.procStart) } : {}), ...(o.bootId ? { bootId: String(o.bootId) } : {}) };
  } catch {
    /* unreadable: treated as stale below */
  }
  return { pid: 0, host: '', since: '' };
}

/**
 * Is the process that wrote this lock still running? Its PID must be alive and, where the kernel
 * tells us (Linux), be the same process: same boot, same start time. The host name is not
 * consulted: a container recreated on the same volume gets a new one, and a data dir is local
 * (SQLite on a network file system is unsupported anyway).
 */
export function ownerAlive(owner: LockOwner): boolean {
  // PID 0 stands for a lock file that could not be read (readOwner): no owner to ask.
  if (owner.pid <= 0 || !pidAlive(owner.pid)) return false;
  const boot = bootId();
  if (owner.bootId && boot && owner.bootId !== boot) return false;
  const start = processStartTime(owner.pid);
  if (owner.procStart && start && owner.procStart !== start) return false;
  return true;
}

/** True when a running `serve` holds the lock of `dataDir` (its lock file names a live owner). */
export function dataDirInUse(dataDir: string): boolean {
  const owner = readOwner(path.join(dataDir, LOCK_FILE));
  return owner !== undefined && ownerAlive(owner);
}

function sameOwner(a: LockOwner | undefined, b: LockOwner): boolean {
  return a !== undefined && a.pid === b.pid && a.since === b.since && a.procStart === b.procStart;
}

/** Writes `owner` to a private temp file and links it to `file`; false when `file` already exists. */
function tryCreate(file: string, owner: LockOwner): boolean {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(owner)}\n`, { mode: 0o644 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** A take-over guard older than this was left by a process killed mid-take-over. */
const TAKEOVER_STALE_MS = 10_000;

function removeStale(file: string, stale: LockOwner): boolean {
  const guard = `${file}.takeover`;
  let fd: number;
  try {
    fd = fs.openSync(guard, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    try {
      if (Date.now() - fs.statSync(guard).mtimeMs > TAKEOVER_STALE_MS) fs.rmSync(guard, { force: true });
    } catch {
      /* gone meanwhile */
    }
    return false;
  }
  try {
    fs.writeSync(fd, `${process.pid}\n`);
    // Still the same stale lock (nobody took it over between our read and the guard)?
    if (!sameOwner(readOwner(file), stale)) return false;
    fs.rmSync(file, { force: true });
    return true;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(guard, { force: true });
  }
}

function inUse(dataDir: string, owner: LockOwner): UserError {
  const where = owner.host && owner.host !== os.hostname() ? ` on host ${owner.host}` : '';
  // The PID is in the first suggestion so that a reader of only the Try this: lines has it.
  return new UserError(`the data dir ${dataDir} is in use by another sagewai-obs serve (PID ${owner.pid}${where}, since ${owner.since || 'unknown'}); one serve per data dir keeps the ledger consistent`, [
    `kill ${owner.pid}   # stops the serve already running on this data dir (PID ${owner.pid}); or keep it and point clients at it`,
    'sagewai-obs serve --data-dir <another directory>',
  ]);
}

/**
 * Takes the data dir's lock or throws a UserError naming the running owner. The lock is released
 * by release(), and as a last resort when this process exits (an uncaught error, process.exit);
 * a SIGKILL leaves it behind, and the next acquire finds it stale and takes it over.
 */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const dir = path.resolve(dataDir);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const procStart = processStartTime(process.pid);
  const boot = bootId();
  const owner: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), ...(procStart ? { procStart } : {}), ...(boot ? { bootId: boot } : {}) };
  let tookOver: LockOwner | undefined;
  const deadline = Date.now() + 5000;
  for (;;) {
    if (tryCreate(file, owner)) break;
    const current = readOwner(file);
    if (current === undefined) continue; // released between our two steps: try again
    if (ownerAlive(current)) throw inUse(dir, current);
    if (removeStale(file, current)) {
      tookOver = current;
      continue;
    }
    // Another process is taking the same stale lock over: let it finish, then look again.
    if (Date.now() > deadline) throw new UserError(`could not take the lock ${file}: another process keeps changing it`, `ls -l ${dir}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.off('exit', release);
    if (sameOwner(readOwner(file), owner)) fs.rmSync(file, { force: true });
  };
  process.on('exit', release);
  return { file, owner, ...(tookOver ? { tookOver } : {}), release };
}
