import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../paths.js';

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
  /** Forward the child's stderr to ours. */
  inheritStderr?: boolean;
}

export interface SpawnedBackend {
  url: string;
  pid: number;
  stateDir: string;
  dataDir: string;
  operatorToken: string;
  child: ChildProcess;
  /** The last 4,000 characters the child wrote to stderr (empty with inheritStderr). */
  stderrTail(): string;
  /** SIGTERM, wait for a clean exit (SIGKILL after 10 s). Resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, no drain. */
  kill(): Promise<void>;
}

export async function spawnBackend(opts: SpawnBackendOptions = {}): Promise<SpawnedBackend> {
  const stateDir = opts.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-backend-'));
  const dataDir = opts.dataDir ?? path.join(stateDir, 'backend');
  const bin = path.join(packageRoot(), 'bin', 'run.js');
  if (!fs.existsSync(path.join(packageRoot(), 'dist', 'src', 'commands', 'serve.js'))) {
    throw new Error('the CLI is not built (dist/src/commands/serve.js missing); run `npm run build` first');
  }
  const args = [bin, 'serve', '--host', '127.0.0.1', '--port', String(opts.port ?? 0), '--state-dir', stateDir, '--data-dir', dataDir, ...(opts.args ?? [])];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', opts.inheritStderr ? 'inherit' : 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`backend did not report its URL within ${opts.timeoutMs ?? 20_000} ms; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)|"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve((m[1] ?? m[2]) as string);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`backend exited (code ${code}) before it was ready; stderr: ${stderr}`));
    });
  });
  child.stdout?.resume();
  const operatorToken = fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
  return {
    url,
    pid: child.pid as number,
    stateDir,
    dataDir,
    operatorToken,
    child,
    stderrTail: () => stderr,
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
  };
}
