import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

export function pidAlive(pid: unknown): boolean {
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The command line of a live `pid` (argv), [] for a zombie (exited, waiting for its parent to reap
 * it), or undefined where /proc cannot tell (then liveness is all we can know).
 */
export function commandLine(pid: number): string[] | undefined {
  let cmdline: string;
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  return cmdline.length === 0 ? [] : cmdline.split('\0');
}

/**
 * Is `pid` still the process we started from `binary`? Guards against a recycled PID being
 * signalled after a reboot. Where /proc is unavailable, liveness is all we can know.
 */
export function isOurProcess(pid: number | null | undefined, binary: string | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (!binary) return true;
  const argv = commandLine(pid as number);
  if (argv === undefined) return true;
  return argv.length > 0 && argv[0] === binary;
}

export interface SpawnedProcess {
  pid: number;
  child: ChildProcess;
  /** Set once the process has exited (the exit code or signal). */
  exited: () => { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/** Starts a long-lived daemon that outlives this CLI: own process group, output appended to logFile. */
export function spawnDaemon(binary: string, args: readonly string[], options: { logFile: string; cwd: string; env: NodeJS.ProcessEnv }): SpawnedProcess {
  const fd = fs.openSync(options.logFile, 'a');
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  try {
    const child = spawn(binary, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', fd, fd] });
    child.on('exit', (code, signal) => {
      exit = { code, signal };
    });
    child.on('error', (err) => {
      exit = { code: null, signal: null };
      fs.appendFileSync(options.logFile, `sagewai-obs: failed to start ${binary}: ${err.message}\n`);
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${binary}`);
    return { pid: child.pid, child, exited: () => exit };
  } finally {
    fs.closeSync(fd);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to timeoutMs for the process to go, then SIGKILL. Resolves how it ended. */
export async function stopPid(pid: number, timeoutMs = 10_000): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!pidAlive(pid)) return 'not-running';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!pidAliveNotZombie(pid)) {
      await waitReaped(pid);
      return 'terminated';
    }
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  const killDeadline = Date.now() + 5000;
  while (Date.now() < killDeadline && pidAliveNotZombie(pid)) await sleep(25);
  await waitReaped(pid);
  return 'killed';
}

/**
 * An exited process lingers as a zombie until its parent (init, once `up` has exited) reaps it;
 * give that a moment so that "stopped" also means "gone from the process table".
 */
async function waitReaped(pid: number, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && pidAlive(pid)) await sleep(25);
}

/** A zombie (exited, not yet reaped by its parent) counts as gone. */
function pidAliveNotZombie(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return pidAlive(pid);
  }
}

/** Resident memory of a process in KiB, from /proc/<pid>/status (undefined off Linux). */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
