import fs from 'node:fs';
import path from 'node:path';
import { commandLine, pidAlive, stopPid } from '../stack/process.js';
import { readRecordFile, writeRecordFile } from '../stack/state.js';
import { dataDirInUse, processStartTime } from './data-dir-lock.js';
import { spawnBackend, type SpawnedBackend } from './spawn.js';

/**
 * A `serve` the CLI started in the background (run-example, when no backend answered). It runs
 * detached with its output in <dataDir>/serve.log and is recorded in <state>/started-backend.json
 * from its start, so that `down` stops it even when run-example kept it (--keep) or died before it
 * could stop it. Other commands find it like any `serve`: through the backend.json it writes.
 */
export interface StartedBackendRecord {
  url: string;
  pid: number;
  dataDir: string;
  logFile: string;
  startedAt: string;
  /** The kernel's start time of the process (Linux), which a recycled PID does not share. */
  procStart?: string;
}

export type StopOutcome = 'not-running' | 'terminated' | 'killed';

/** Where run-example puts the data directory of each backend it starts: `<state>/run-example/backend-<time>`. */
export function runExampleBackendsDir(stateDir: string): string {
  return path.join(stateDir, 'run-example');
}
const BACKEND_DIR_PREFIX = 'backend-';

/** A fresh data directory for a backend run-example starts at `now`. */
export function newRunExampleBackendDir(stateDir: string, now = new Date()): string {
  return path.join(runExampleBackendsDir(stateDir), `${BACKEND_DIR_PREFIX}${now.toISOString().replace(/[:.]/g, '-')}`);
}

export function startedBackendPath(stateDir: string): string {
  return path.join(stateDir, 'started-backend.json');
}

/** The recorded background backend, or undefined when there is none. A damaged record is a user error. */
export function readStartedBackend(stateDir: string): StartedBackendRecord | undefined {
  const file = startedBackendPath(stateDir);
  return readRecordFile<StartedBackendRecord>(file, stateDir, (r) => (typeof r.pid !== 'number' || typeof r.dataDir !== 'string' || typeof r.url !== 'string' ? 'missing url/pid/dataDir' : undefined), [`remove ${file}, then stop the backend yourself if one still runs (ps -ef | grep 'sagewai-obs.*serve')`]);
}

function writeStartedBackend(stateDir: string, record: StartedBackendRecord): void {
  writeRecordFile(startedBackendPath(stateDir), record);
}

/** Removes the record when it still names this PID (another start may have replaced it). */
function removeStartedBackend(stateDir: string, pid: number): void {
  try {
    if (readStartedBackend(stateDir)?.pid !== pid) return;
  } catch {
    // damaged: it names no process we could stop, so it goes
  }
  fs.rmSync(startedBackendPath(stateDir), { force: true });
}

/**
 * Is the recorded process still that backend? Its PID must be alive, started when it was (Linux),
 * and run `serve` on the recorded data dir: a recycled PID is never signalled. Where /proc is
 * unavailable, liveness is all we can know.
 */
export function isStartedBackend(record: Pick<StartedBackendRecord, 'pid' | 'dataDir' | 'procStart'>): boolean {
  if (!pidAlive(record.pid)) return false;
  const argv = commandLine(record.pid);
  if (argv === undefined) return true;
  if (argv.length === 0) return false; // a zombie
  if (record.procStart !== undefined && processStartTime(record.pid) !== record.procStart) return false;
  const at = argv.indexOf('--data-dir');
  return argv.includes('serve') && at >= 0 && argv[at + 1] === record.dataDir;
}

export interface BackgroundBackend extends SpawnedBackend {
  record: StartedBackendRecord;
  /** Stops it (SIGTERM, SIGKILL after 10 s) and removes its record. */
  stopAndForget(): Promise<void>;
  /** Leaves it running after this process exits; its record stays for `down`. */
  keep(): void;
}

/** Starts `serve` detached, logging to <dataDir>/serve.log, and records it in the state dir. */
export async function startBackgroundBackend(o: { stateDir: string; dataDir: string; env?: NodeJS.ProcessEnv; args?: string[]; timeoutMs?: number }): Promise<BackgroundBackend> {
  // Absolute, as recorded: isStartedBackend compares it with the process's command line.
  const dataDir = path.resolve(o.dataDir);
  const logFile = path.join(dataDir, 'serve.log');
  const b = await spawnBackend({ stateDir: o.stateDir, dataDir, logFile, ...(o.env ? { env: o.env } : {}), ...(o.args ? { args: o.args } : {}), ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}) });
  const procStart = processStartTime(b.pid);
  const record: StartedBackendRecord = { url: b.url, pid: b.pid, dataDir, logFile, startedAt: new Date().toISOString(), ...(procStart ? { procStart } : {}) };
  try {
    writeStartedBackend(o.stateDir, record);
  } catch (err) {
    await b.stop();
    throw err;
  }
  return {
    ...b,
    record,
    stopAndForget: async () => {
      await b.stop();
      removeStartedBackend(o.stateDir, b.pid);
    },
    keep: () => b.unref(),
  };
}

/** `down`'s part: stops the recorded background backend by PID, if it is still that backend, and forgets it. */
export async function stopStartedBackend(stateDir: string, timeoutMs = 10_000): Promise<{ record: StartedBackendRecord; stopped: StopOutcome } | undefined> {
  const record = readStartedBackend(stateDir);
  if (!record) return undefined;
  const stopped = isStartedBackend(record) ? await stopPid(record.pid, timeoutMs) : 'not-running';
  removeStartedBackend(stateDir, record.pid);
  return { record, stopped };
}

/** What `down --purge` did with the data directories of the backends run-example started. */
export interface PurgedBackendDirs {
  removed: number;
  /** Directories a running `serve` still holds (its data-dir lock names a live process): kept. */
  inUse: string[];
}

/**
 * Removes `<state>/run-example/backend-*`: each backend run-example started has a fresh data
 * directory (its ledger and serve.log), kept after the run for a look and otherwise never
 * removed. One a running `serve` still holds is left alone.
 */
export function purgeBackendDataDirs(stateDir: string): PurgedBackendDirs {
  const root = runExampleBackendsDir(stateDir);
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { removed: 0, inUse: [] };
    throw err;
  }
  const out: PurgedBackendDirs = { removed: 0, inUse: [] };
  for (const name of names) {
    const dir = path.join(root, name);
    if (!name.startsWith(BACKEND_DIR_PREFIX) || !fs.statSync(dir).isDirectory()) continue;
    if (dataDirInUse(dir)) {
      out.inUse.push(dir);
      continue;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    out.removed++;
  }
  if (out.inUse.length === 0 && fs.readdirSync(root).length === 0) fs.rmdirSync(root);
  return out;
}
