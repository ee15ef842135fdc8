import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrateSqlite } from './migrations.js';

/**
 * Durable state in SQLite, WAL mode. synchronous=NORMAL (default): every acknowledged commit is in
 * the WAL before the answer goes out, so a crash or SIGKILL of the process loses nothing; only an
 * OS crash or power cut can lose the last commits. SAGEWAI_OBS_DB_SYNCHRONOUS=FULL adds an fsync
 * per commit for that case too (runs several times slower on this class of machine).
 * better-sqlite3 is synchronous, so a db.transaction() body is atomic with respect to every other
 * request in this process — the budget reservation relies on that.
 */

/** Bumped when budget_spend's contents must be rebuilt from the ledger on open. */
const BUDGET_SPEND_VERSION = '1';

export type Db = Database.Database;

export interface OpenedStore {
  db: Db;
  instanceId: string;
  dataDir: string;
  operatorToken: string;
}

export function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

export function newId(prefix: string): string {
  return `${prefix}_${crypto.randomBytes(9).toString('base64url')}`;
}

export function newSecret(): string {
  return crypto.randomBytes(24).toString('base64url');
}

/** Opens (creating when needed) the data dir, the db and the operator token file (mode 0600). */
export function openStore(dataDir: string): OpenedStore {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(path.join(dataDir, 'sagewai.db'));
  db.pragma('journal_mode = WAL');
  const sync = (process.env.SAGEWAI_OBS_DB_SYNCHRONOUS ?? 'NORMAL').toUpperCase();
  if (sync !== 'NORMAL' && sync !== 'FULL') throw new Error(`SAGEWAI_OBS_DB_SYNCHRONOUS must be NORMAL or FULL, not ${sync}`);
  db.pragma(`synchronous = ${sync}`);
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrateSqlite(db, `the SQLite database in ${dataDir}`);
  const get = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
  rebuildBudgetSpendOnce(db, get);
  let instanceId = get.get('instance_id')?.value;
  if (!instanceId) {
    instanceId = crypto.randomUUID();
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('instance_id', instanceId);
  }
  // The operator token: its hash lives in the db, the token itself only in a 0600 file beside it.
  const tokenFile = path.join(dataDir, 'operator-token');
  let operatorToken: string | undefined;
  try {
    operatorToken = fs.readFileSync(tokenFile, 'utf8').trim() || undefined;
  } catch {
    operatorToken = undefined;
  }
  const hasOperator = (t: string): boolean => db.prepare("SELECT 1 FROM tokens WHERE token_hash = ? AND kind = 'operator'").get(sha256(t)) !== undefined;
  if (!operatorToken || !hasOperator(operatorToken)) {
    operatorToken = `sgo_${newSecret()}`;
    db.transaction(() => {
      db.prepare("DELETE FROM tokens WHERE kind = 'operator'").run();
      db.prepare('INSERT INTO tokens (id, token_hash, kind, project, name, created_at) VALUES (?, ?, ?, NULL, ?, ?)').run(newId('tok'), sha256(operatorToken as string), 'operator', 'operator', Date.now());
    })();
    const tmp = `${tokenFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${operatorToken}\n`, { mode: 0o600 });
    fs.renameSync(tmp, tokenFile);
  }
  fs.chmodSync(tokenFile, 0o600);
  return { db, instanceId, dataDir, operatorToken };
}

/**
 * A database from before budget_spend (or from an older layout of it) gets its totals built from
 * the whole ledger, once. Under BEGIN IMMEDIATE and re-checked inside, so a second process opening
 * the same database at the same moment waits and then skips; a ledger row written by anyone before
 * the lock is counted by the rebuild, any after it by the triggers.
 */
function rebuildBudgetSpendOnce(db: Db, get: Database.Statement<[string], { value: string }>): void {
  if (get.get('budget_spend_version')?.value === BUDGET_SPEND_VERSION) return;
  db.transaction(() => {
    if (get.get('budget_spend_version')?.value === BUDGET_SPEND_VERSION) return;
    db.exec('DELETE FROM budget_spend');
    for (const [scope, col] of [['project', 'project'], ['team', 'team'], ['user', 'user_name']] as const) {
      db.exec(`INSERT INTO budget_spend (project, scope, subject, day_start, cost_nusd) SELECT project, '${scope}', ${col}, created_at - created_at % 86400000 AS day_start, SUM(cost_nusd) FROM ledger WHERE ${col} IS NOT NULL GROUP BY project, ${col}, day_start`);
    }
    db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run('budget_spend_version', BUDGET_SPEND_VERSION);
  }).immediate();
}

export type Prepare = <P extends unknown[] | object = unknown[], R = unknown>(sql: string) => Database.Statement<P, R>;

/** Prepared statements compiled once per SQL text (the hot paths run the same few statements). */
export function statementCache(db: Db): Prepare {
  const cache = new Map<string, Database.Statement>();
  return <P extends unknown[] | object = unknown[], R = unknown>(sql: string): Database.Statement<P, R> => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s as unknown as Database.Statement<P, R>;
  };
}

/**
 * What an area's store methods return: a value (SQLite, better-sqlite3 is synchronous, and a
 * value costs no promise per call on the hot path) or a promise (PostgreSQL, node-postgres is
 * asynchronous). Callers always `await` it, so either implementation plugs in.
 *
 * Each store method that writes is one transaction of its own; there is no transaction handle to
 * hold across an `await`. What a PostgreSQL store must guarantee, per method, is written on the
 * method (the budget reservation, its run row and its ledger row with the per-day totals commit
 * together; a fleet claim is taken by exactly one worker across every replica).
 */
export type Awaitable<T> = T | Promise<T>;
