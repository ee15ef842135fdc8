import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../paths.js';
import { spawnDaemon } from '../stack/process.js';

/**
 * Starts `sagewai-obs serve --port 0` (the built CLI) as a child process and reads its URL back.
 * Used by run-example when no backend is reachable, and by tests.
 */
export interface SpawnBackendOptions {
  stateDir?: string;
  dataDir?: string;
  port?: number;
  env?: NodeJS.ProcessEnv;
  /** Extra `serve` arguments, e.g. ['--failure-rate-server-error', '0.1']. */
  args?: string[];
  /** How long to wait for the URL, default 20 s. */
  timeoutMs?: number;
  /** Forward the child's stderr to ours (ignored with logFile). */
  inheritStderr?: boolean;
  /**
   * Start the backend detached, in its own process group, with stdout and stderr appended to this
   * file instead of piped to us, so that it can outlive this process (see `unref()`). A piped
   * child keeps its parent's event loop alive for as long as it runs.
   */
  logFile?: string;
}

export interface SpawnedBackend {
  url: string;
  pid: number;
  stateDir: string;
  dataDir: string;
  operatorToken: string;
  /** Where its output goes when started with logFile. */
  logFile: string | undefined;
  child: ChildProcess;
  /** The last 4,000 characters the child wrote to stderr (with logFile: to the log; empty with inheritStderr). */
  stderrTail(): string;
  /** SIGTERM, wait for a clean exit (SIGKILL after 10 s). Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, no drain. */
  kill(): Promise<void>;
  /** Let this process exit while the backend runs on (only a backend started with logFile can). */
  unref(): void;
}

const TAIL = 4000;
/** serve's one ready line: the text form, or the JSON form under --json. */
const READY = /^(?:sagewai-admin listening on (http:\/\/\S+)|\{.*?"url":"(http:\/\/[^"]+)")/m;

export async function spawnBackend(opts: SpawnBackendOptions = {}): Promise<SpawnedBackend> {
  const stateDir = opts.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-backend-'));
  const dataDir = opts.dataDir ?? path.join(stateDir, 'backend');
  const bin = path.join(packageRoot(), 'bin', 'run.js');
  if (!fs.existsSync(path.join(packageRoot(), 'dist', 'src', 'commands', 'serve.js'))) {
    throw new Error('the CLI is not built (dist/src/commands/serve.js missing); run `npm run build` first');
  }
  const args = [bin, 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0), '--state-dir', stateDir, '--data-dir', dataDir, ...(opts.args ?? [])];
  const env = { ...process.env, ...opts.env };
  const { child, output } = opts.logFile ? spawnToLog(args, env, opts.logFile) : spawnPiped(args, env, Boolean(opts.inheritStderr));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      output.stop();
      child.kill('SIGKILL');
      reject(new Error(`backend did not report its URL within ${timeoutMs} ms; ${output.describe()}`));
    }, timeoutMs);
    output.onText((text) => {
      const m = READY.exec(text);
      if (!m) return;
      clearTimeout(timer);
      output.stop();
      resolve((m[1] ?? m[2]) as string);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      output.stop();
      reject(new Error(`backend exited (code ${code}) before it was ready; ${output.describe()}`));
    });
  });
  const operatorToken = fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
  return {
    url,
    pid: child.pid as number,
    stateDir,
    dataDir,
    operatorToken,
    logFile: opts.logFile,
    child,
    stderrTail: () => output.tail(),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    unref: () => {
      if (!opts.logFile) throw new Error('only a backend started with logFile can outlive this process');
      child.unref();
    },
  };
}

/** How the URL is read back and what an error message shows of the child's output. */
interface ChildOutput {
  /** Called with everything the child wrote so far that can hold the ready line, whenever it grows. */
  onText(listener: (text: string) => void): void;
  /** Stop watching for the ready line. */
  stop(): void;
  tail(): string;
  describe(): string;
}

function spawnPiped(args: string[], env: NodeJS.ProcessEnv, inheritStderr: boolean): { child: ChildProcess; output: ChildOutput } {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', inheritStderr ? 'inherit' : 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-TAIL);
  });
  let out = '';
  let listener: ((text: string) => void) | undefined;
  child.stdout?.on('data', (d: Buffer) => {
    if (!listener) return;
    out += d.toString();
    listener(out);
  });
  return {
    child,
    output: {
      onText: (l) => (listener = l),
      stop: () => {
        listener = undefined;
        // Drained from now on, so a chatty child never blocks on a full pipe.
        child.stdout?.resume();
      },
      tail: () => stderr,
      describe: () => `stderr: ${stderr}`,
    },
  };
}

function spawnToLog(args: string[], env: NodeJS.ProcessEnv, logFile: string): { child: ChildProcess; output: ChildOutput } {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  // Only what this start writes counts: the log may hold an earlier start's lines.
  const from = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const { child } = spawnDaemon(process.execPath, args, { logFile, cwd: process.cwd(), env });
  // Held like a piped child until the caller lets it go (unref()).
  child.ref();
  const read = (): string => {
    try {
      return fs.readFileSync(logFile).subarray(from).toString();
    } catch {
      return '';
    }
  };
  let poll: NodeJS.Timeout | undefined;
  let seen = 0;
  return {
    child,
    output: {
      onText: (l) => {
        poll = setInterval(() => {
          const text = read();
          if (text.length === seen) return;
          seen = text.length;
          l(text);
        }, 50);
      },
      stop: () => clearInterval(poll),
      tail: () => read().slice(-TAIL),
      describe: () => `its output (${logFile}): ${read().slice(-TAIL)}`,
    },
  };
}
