import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { App } from '../../src/backend/app.js';
import type { OpenedPostgres } from '../../src/backend/postgres.js';
import { freePort } from '../../src/stack/ports.js';

/**
 * A real PostgreSQL server for a test: initdb into a temporary directory, a free loopback port,
 * started and stopped by PID. PostgreSQL refuses to run as root, so under root (CI) the server
 * runs as the `postgres` OS user that Debian's package creates (setpriv execs in place, so the
 * PID we hold is the postmaster's own).
 */

export interface TestPostgres {
  /** postgres://… URL of the `sagewai` database, user `sagewai` (trust auth, loopback only). */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Stops the server (fast shutdown) and removes its directory. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port and data (an outage in a fault test). */
  restart(downMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

function binDir(): string {
  if (process.env.SAGEWAI_OBS_PG_BINDIR) return process.env.SAGEWAI_OBS_PG_BINDIR;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (fs.existsSync(path.join(root, v, 'bin', 'postgres'))) return path.join(root, v, 'bin');
  throw new Error('PostgreSQL server binaries not found: install Debian\'s postgresql package (.ci/run does), or set SAGEWAI_OBS_PG_BINDIR');
}

function asUser(): { prefix: string[]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { prefix: ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'], uid, gid };
}

async function waitReady(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${fs.readFileSync(logFile, 'utf8').slice(-500)}`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await c.connect();
      await c.query('SELECT 1');
      await c.end();
      return;
    } catch (err) {
      last = err;
      await c.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  throw new Error(`postgres not ready after ${timeoutMs} ms: ${String(last)}`);
}

export async function startTestPostgres(options: { timeoutMs?: number } = {}): Promise<TestPostgres> {
  const bin = binDir();
  const user = asUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  if (user.uid !== undefined) fs.chownSync(dir, user.uid, user.gid as number);
  const run = (cmd: string, args: string[]): void => {
    const [exe, ...rest] = [...user.prefix, cmd, ...args];
    execFileSync(exe as string, rest, { stdio: 'pipe' });
  };
  run(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'sagewai', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  let child: ChildProcess;
  const start = async (): Promise<void> => {
    const out = fs.openSync(logFile, 'a');
    const args = ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'];
    const [exe, ...rest] = [...user.prefix, path.join(bin, 'postgres'), ...args];
    child = spawn(exe as string, rest, { stdio: ['ignore', out, out], detached: false });
    fs.closeSync(out);
    await waitReady(`postgres://sagewai@127.0.0.1:${port}/postgres`, child, logFile, options.timeoutMs ?? 30_000);
  };
  await start();
  const admin = new pg.Client({ connectionString: `postgres://sagewai@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE sagewai');
  await admin.end();
  const stopServer = async (): Promise<void> => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT'); // fast shutdown: roll back open transactions, close connections
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  };
  const killOnExit = (): void => {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  return {
    url: `postgres://sagewai@127.0.0.1:${port}/sagewai`,
    port,
    get pid() {
      return child.pid as number;
    },
    dataDir,
    async stop() {
      process.removeListener('exit', killOnExit);
      await stopServer();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await stopServer();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      child.kill(signal);
    },
  };
}

/**
 * A real PostgreSQL plus in-process backend "replicas" over it (each `App` with its own pool and
 * instance id), and a plain client for reading tables directly. Call `start()` in beforeAll and
 * `stop()` in afterAll.
 */
export interface PostgresReplicas {
  readonly server: TestPostgres;
  readonly db: pg.Client;
  /** Every replica opened so far, in order. */
  readonly apps: readonly App[];
  start(): Promise<void>;
  stop(): Promise<void>;
  replica(id: string, options?: { seed?: number; failureRates?: { rate_limit: number; timeout: number; server_error: number } }): Promise<{ app: App; o: OpenedPostgres }>;
}

export function postgresReplicas(prefix: string): PostgresReplicas {
  let server: TestPostgres | undefined;
  let db: pg.Client | undefined;
  let dataDir: string | undefined;
  const opened: OpenedPostgres[] = [];
  const apps: App[] = [];
  return {
    get server(): TestPostgres {
      if (!server) throw new Error('postgresReplicas: start() first');
      return server;
    },
    get db(): pg.Client {
      if (!db) throw new Error('postgresReplicas: start() first');
      return db;
    },
    apps,
    async start() {
      server = await startTestPostgres();
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `sagewai-${prefix}-`));
      db = new pg.Client({ connectionString: server.url });
      await db.connect();
    },
    async stop() {
      for (const a of apps) a.close();
      for (const o of opened) await o.close();
      await db?.end();
      await server?.stop();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async replica(id, options = {}) {
      if (!server || !dataDir) throw new Error('postgresReplicas: start() first');
      // Imported here, not at the top: the backend's modules create their instruments when loaded.
      const [{ App }, { openPostgres }, { PriceBook }] = await Promise.all([import('../../src/backend/app.js'), import('../../src/backend/postgres.js'), import('../../src/backend/pricebook.js')]);
      const o = await openPostgres({ url: server.url, dataDir, instanceId: id });
      opened.push(o);
      const app = new App({ stores: { ...o.stores, claimPollMs: 100 }, instanceId: o.instanceId, version: 'test', priceBook: PriceBook.load(), seed: options.seed ?? 5, failureRates: options.failureRates ?? { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
      await app.ready;
      apps.push(app);
      return { app, o };
    },
  };
}
