import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * Durable state in SQLite, WAL mode. synchronous=NORMAL (default): every acknowledged commit is in
 * the WAL before the answer goes out, so a crash or SIGKILL of the process loses nothing; only an
 * OS crash or power cut can lose the last commits. SAGEWAI_OBS_DB_SYNCHRONOUS=FULL adds an fsync
 * per commit for that case too (runs several times slower on this class of machine).
 * better-sqlite3 is synchronous, so a db.transaction() body is atomic with respect to every other
 * request in this process — the budget reservation relies on that.
 */

/**
 * budget_spend: the ledger's cost per (project, budget scope, subject, UTC day), so a budget check
 * reads at most one row per day of its window (≤ 31) instead of every ledger row in it. A monthly
 * (calendar, UTC) window is a whole number of UTC days, and a UTC day is exactly 86,400,000 ms of
 * Unix time, so summing the days from the window start on gives exactly the ledger sum
 * `created_at >= window start`. Triggers keep it in the transaction that writes the ledger row,
 * whoever writes it (also an older binary sharing the database); the ledger stays the record.
 */
function spendChange(row: 'NEW' | 'OLD', sign: '+' | '-'): string {
  const subjects: Array<[string, string]> = [
    ['project', `${row}.project`],
    ['team', `${row}.team`],
    ['user', `${row}.user_name`],
  ];
  // The WHERE also settles SQLite's INSERT … SELECT … ON CONFLICT parsing ambiguity.
  return subjects
    .map(
      ([scope, subject]) =>
        `INSERT INTO budget_spend (project, scope, subject, day_start, cost_nusd) SELECT ${row}.project, '${scope}', ${subject}, ${row}.created_at - ${row}.created_at % 86400000, ${sign}${row}.cost_nusd WHERE ${subject} IS NOT NULL ON CONFLICT DO UPDATE SET cost_nusd = cost_nusd + excluded.cost_nusd;`,
    )
    .join('\n');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS org (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, slug TEXT NOT NULL, app_name TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, project TEXT, name TEXT, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS projects (slug TEXT PRIMARY KEY, name TEXT NOT NULL, environment TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS agents (project TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, system_prompt TEXT NOT NULL, strategy TEXT NOT NULL, temperature REAL NOT NULL, tools TEXT NOT NULL, metadata TEXT NOT NULL, max_output_tokens INTEGER NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (project, name));
CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, project TEXT NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, user_name TEXT, team TEXT, status TEXT NOT NULL, started_at INTEGER NOT NULL, completed_at INTEGER, input_tokens INTEGER NOT NULL DEFAULT 0, cached_input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0, cost_nusd INTEGER NOT NULL DEFAULT 0, error TEXT);
CREATE INDEX IF NOT EXISTS runs_project_started ON runs (project, started_at);
CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, project TEXT NOT NULL, agent TEXT NOT NULL, user_name TEXT, team TEXT, provider TEXT NOT NULL, model TEXT NOT NULL, input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cost_nusd INTEGER NOT NULL, input_cost_nusd INTEGER NOT NULL, cached_cost_nusd INTEGER NOT NULL, output_cost_nusd INTEGER NOT NULL, pricebook_version TEXT NOT NULL, priced INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ledger_project_time ON ledger (project, created_at);
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, pool TEXT NOT NULL, models TEXT NOT NULL, labels TEXT NOT NULL, max_concurrent INTEGER NOT NULL, secret_hash TEXT NOT NULL, state TEXT NOT NULL, registered_at INTEGER NOT NULL, last_heartbeat_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, project TEXT NOT NULL, pool TEXT NOT NULL, payload TEXT NOT NULL, model TEXT, status TEXT NOT NULL, worker_id TEXT, created_at INTEGER NOT NULL, claimed_at INTEGER, completed_at INTEGER, result TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS tasks_queue ON tasks (project, pool, status, created_at);
CREATE INDEX IF NOT EXISTS tasks_worker_status ON tasks (worker_id, status);
CREATE TABLE IF NOT EXISTS budgets (id TEXT PRIMARY KEY, project TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, window TEXT NOT NULL, limit_nusd INTEGER NOT NULL, action TEXT NOT NULL, fallback_model TEXT, created_at INTEGER NOT NULL, UNIQUE (project, scope, subject, window));
CREATE TABLE IF NOT EXISTS reservations (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, project TEXT NOT NULL, user_name TEXT, team TEXT, amount_nusd INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS budget_events (budget_id TEXT NOT NULL, window_start INTEGER NOT NULL, threshold INTEGER NOT NULL, PRIMARY KEY (budget_id, window_start, threshold));
CREATE TABLE IF NOT EXISTS budget_spend (project TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, day_start INTEGER NOT NULL, cost_nusd INTEGER NOT NULL, PRIMARY KEY (project, scope, subject, day_start)) WITHOUT ROWID;
-- ── finance (issue 15): price-book history and closed months ─────────────────────────────
-- price_books: every book the backend has priced with, from its effective time (epoch ms) on.
-- closed_months: a month's ledger totals per project × model (JSON), sealed by a hash chain.
-- The triggers refuse any ledger write dated inside a closed month (insert, update, delete).
CREATE TABLE IF NOT EXISTS price_books (version TEXT PRIMARY KEY, effective_from INTEGER NOT NULL UNIQUE, body TEXT NOT NULL, imported_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS closed_months (month TEXT PRIMARY KEY, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL, totals TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, closed_at INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_insert BEFORE INSERT ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE NEW.created_at >= start_at AND NEW.created_at < end_at) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_update BEFORE UPDATE ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE (OLD.created_at >= start_at AND OLD.created_at < end_at) OR (NEW.created_at >= start_at AND NEW.created_at < end_at)) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_delete BEFORE DELETE ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE OLD.created_at >= start_at AND OLD.created_at < end_at) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
-- ── end finance ──────────────────────────────────────────────────────────────────────────
CREATE TRIGGER IF NOT EXISTS ledger_budget_spend_insert AFTER INSERT ON ledger BEGIN
${spendChange('NEW', '+')}
END;
CREATE TRIGGER IF NOT EXISTS ledger_budget_spend_delete AFTER DELETE ON ledger BEGIN
${spendChange('OLD', '-')}
END;
CREATE TRIGGER IF NOT EXISTS ledger_budget_spend_update AFTER UPDATE OF project, user_name, team, cost_nusd, created_at ON ledger BEGIN
${spendChange('OLD', '-')}
${spendChange('NEW', '+')}
END;
`;

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
  db.exec(SCHEMA);
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
