import fs from 'node:fs';
import path from 'node:path';
import { acquireDataDirLock, type LockOwner } from './data-dir-lock.js';
import { PriceBook } from './pricebook.js';
import type { FailureRates } from './provider.js';
import type { BackendOptions } from './server.js';
import { openStore } from './store.js';
import { startTelemetry } from './telemetry.js';

/**
 * `serve` as a library call: take the data dir's lock (one serve per data dir, see
 * data-dir-lock.ts), open the store, start telemetry (before any instrument exists), start the
 * HTTP server, record <state>/backend.json; stop() drains, flushes, cleans up and releases the lock.
 */
export interface ServeOptions {
  host: string;
  port: number;
  stateDir: string;
  dataDir: string;
  seed: number;
  telemetry: boolean;
  failureRates: FailureRates;
  latencyScale: number;
  workerLostAfterMs: number;
  bodyLimit: number;
  version: string;
  /** postgres://… : the ledger on PostgreSQL, shared by every replica given the same URL. */
  database?: string | undefined;
  /** This replica's service.instance.id on PostgreSQL (default: a random one per process). */
  instanceId?: string | undefined;
  /** The price book to start with (default: the bundled one); when its version is new to the data dir it takes effect from now on. */
  priceBookFile?: string | undefined;
}

export interface BackendRecord {
  url: string;
  pid: number;
  dataDir: string;
  startedAt: string;
  /** The PostgreSQL database (password redacted), when not the SQLite default. */
  database?: string;
  instanceId?: string;
}

export interface ServeHandle {
  url: string;
  port: number;
  dataDir: string;
  record: BackendRecord;
  telemetryEnabled: boolean;
  /** Set when the data dir's lock was left by a serve that is gone (killed), and was taken over. */
  staleLockOf?: LockOwner;
  stop(): Promise<void>;
}

export async function serveBackend(o: ServeOptions): Promise<ServeHandle> {
  const store = o.database ? await openPostgresStore(o) : openSqliteStore(o);
  const telemetry = startTelemetry({ serviceVersion: o.version, instanceId: store.instanceId, enabled: o.telemetry });
  // Imported only now: instruments bind to whichever meter provider is global at import time.
  const { startBackend } = await import('./server.js');
  let backend;
  try {
    backend = await startBackend({
      ...store.app,
      instanceId: store.instanceId,
      version: o.version,
      priceBook: PriceBook.load(o.priceBookFile),
      seed: o.seed,
      failureRates: o.failureRates,
      latencyScale: o.latencyScale,
      workerLostAfterMs: o.workerLostAfterMs,
      telemetryEnabled: telemetry.enabled,
      host: o.host,
      port: o.port,
      bodyLimit: o.bodyLimit,
    });
  } catch (err) {
    await telemetry.shutdown();
    await store.close();
    throw err;
  }
  const record: BackendRecord = { url: backend.url, pid: process.pid, dataDir: path.resolve(o.dataDir), startedAt: new Date().toISOString(), ...(store.database ? { database: store.database, instanceId: store.instanceId } : {}) };
  const recordFile = path.join(o.stateDir, 'backend.json');
  fs.mkdirSync(o.stateDir, { recursive: true });
  const tmp = `${recordFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  fs.renameSync(tmp, recordFile);
  let stopping: Promise<void> | undefined;
  return {
    url: backend.url,
    port: backend.port,
    dataDir: record.dataDir,
    record,
    telemetryEnabled: telemetry.enabled,
    ...(store.staleLockOf ? { staleLockOf: store.staleLockOf } : {}),
    stop: () =>
      (stopping ??= (async () => {
        await backend.close();
        try {
          const cur = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as BackendRecord;
          if (cur.pid === process.pid) fs.rmSync(recordFile, { force: true });
        } catch {
          /* already gone */
        }
        await telemetry.shutdown();
        await store.close();
      })()),
  };
}

interface OpenedBackendStore {
  app: Pick<BackendOptions, 'db' | 'stores'>;
  instanceId: string;
  database?: string;
  staleLockOf?: LockOwner;
  close(): Promise<void>;
}

function openSqliteStore(o: ServeOptions): OpenedBackendStore {
  // Before the store opens: its start-up recovery must never run over another serve's open runs.
  const lock = acquireDataDirLock(o.dataDir);
  let store;
  try {
    store = openStore(o.dataDir);
  } catch (err) {
    lock.release();
    throw err;
  }
  const db = store.db;
  return {
    app: { db },
    instanceId: store.instanceId,
    ...(lock.tookOver ? { staleLockOf: lock.tookOver } : {}),
    close: async () => {
      db.close();
      lock.release();
    },
  };
}

/** Several replicas share one database, so no data-dir lock: the data dir holds only the operator token file. */
async function openPostgresStore(o: ServeOptions): Promise<OpenedBackendStore> {
  const { openPostgres } = await import('./postgres.js');
  const pg = await openPostgres({ url: o.database as string, dataDir: o.dataDir, instanceId: o.instanceId });
  return { app: { stores: { ...pg.stores, claimPollMs: 200, booksPollMs: 5000, exportsSharedState: () => pg.stores.owners.exportsSharedState() } }, instanceId: pg.instanceId, database: pg.display, close: () => pg.close() };
}
