import type Database from 'better-sqlite3';
import type pg from 'pg';
import { UserError } from '../errors.js';

/**
 * Versioned schema migrations for both engines, one ordered list. Each entry is applied in one
 * transaction together with its row in schema_migrations, so a database is always at a whole
 * version: never half-migrated. A database whose schema_migrations holds a version newer than
 * the last entry here was written by a newer sagewai-obs, and opening it stops with exit 2 (this
 * code would not know its tables). To change the schema, append an entry (the next version,
 * SQL for SQLite and for PostgreSQL); never edit one that has shipped.
 *
 * SQLite databases from before schema_migrations existed (the CREATE TABLE IF NOT EXISTS era)
 * upgrade in place: version 1 is that same schema, written to be a no-op over it.
 */
export interface Migration {
  version: number;
  name: string;
  sqlite: string;
  postgres: string;
}

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

const SQLITE_BASE = `
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


const PG_BASE = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE org (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, slug TEXT NOT NULL, app_name TEXT, created_at BIGINT NOT NULL);
CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, csrf TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE tokens (id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, project TEXT, name TEXT, created_at BIGINT NOT NULL);
CREATE TABLE projects (slug TEXT PRIMARY KEY, name TEXT NOT NULL, environment TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE agents (project TEXT NOT NULL, name TEXT NOT NULL, model TEXT NOT NULL, system_prompt TEXT NOT NULL, strategy TEXT NOT NULL, temperature DOUBLE PRECISION NOT NULL, tools TEXT NOT NULL, metadata TEXT NOT NULL, max_output_tokens INTEGER NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (project, name));
CREATE TABLE runs (id TEXT PRIMARY KEY, project TEXT NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL, user_name TEXT, team TEXT, status TEXT NOT NULL, started_at BIGINT NOT NULL, completed_at BIGINT, input_tokens BIGINT NOT NULL DEFAULT 0, cached_input_tokens BIGINT NOT NULL DEFAULT 0, output_tokens BIGINT NOT NULL DEFAULT 0, cost_nusd BIGINT NOT NULL DEFAULT 0, error TEXT);
CREATE INDEX runs_project_started ON runs (project, started_at);
CREATE TABLE ledger (id BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL, project TEXT NOT NULL, agent TEXT NOT NULL, user_name TEXT, team TEXT, provider TEXT NOT NULL, model TEXT NOT NULL, input_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL, cost_nusd BIGINT NOT NULL, input_cost_nusd BIGINT NOT NULL, cached_cost_nusd BIGINT NOT NULL, output_cost_nusd BIGINT NOT NULL, pricebook_version TEXT NOT NULL, priced INTEGER NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX ledger_project_time ON ledger (project, created_at);
CREATE TABLE workers (id TEXT PRIMARY KEY, project TEXT NOT NULL, name TEXT NOT NULL, pool TEXT NOT NULL, models TEXT NOT NULL, labels TEXT NOT NULL, max_concurrent INTEGER NOT NULL, secret_hash TEXT NOT NULL, state TEXT NOT NULL, registered_at BIGINT NOT NULL, last_heartbeat_at BIGINT NOT NULL);
CREATE TABLE tasks (id TEXT PRIMARY KEY, project TEXT NOT NULL, pool TEXT NOT NULL, payload TEXT NOT NULL, model TEXT, status TEXT NOT NULL, worker_id TEXT, created_at BIGINT NOT NULL, claimed_at BIGINT, completed_at BIGINT, result TEXT, error TEXT);
CREATE INDEX tasks_queue ON tasks (project, pool, status, created_at);
CREATE INDEX tasks_worker_status ON tasks (worker_id, status);
CREATE TABLE budgets (id TEXT PRIMARY KEY, project TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, "window" TEXT NOT NULL, limit_nusd BIGINT NOT NULL, action TEXT NOT NULL, fallback_model TEXT, created_at BIGINT NOT NULL, UNIQUE (project, scope, subject, "window"));
CREATE TABLE reservations (id TEXT PRIMARY KEY, run_id TEXT NOT NULL, project TEXT NOT NULL, user_name TEXT, team TEXT, amount_nusd BIGINT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE budget_events (budget_id TEXT NOT NULL, window_start BIGINT NOT NULL, threshold INTEGER NOT NULL, PRIMARY KEY (budget_id, window_start, threshold));
CREATE TABLE budget_spend (project TEXT NOT NULL, scope TEXT NOT NULL, subject TEXT NOT NULL, day_start BIGINT NOT NULL, cost_nusd BIGINT NOT NULL, PRIMARY KEY (project, scope, subject, day_start));
`;

/**
 * Finance (issue 15): price_books holds every book the backend has priced with, from its effective
 * time (epoch ms) on; closed_months a month's ledger totals per project × model (JSON) sealed by
 * a hash chain. The guard refuses any ledger write dated inside a closed month (insert, update,
 * delete), on both engines, whoever writes (also psql or an older binary).
 */
const SQLITE_FINANCE = `
CREATE TABLE IF NOT EXISTS price_books (version TEXT PRIMARY KEY, effective_from INTEGER NOT NULL UNIQUE, body TEXT NOT NULL, imported_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS closed_months (month TEXT PRIMARY KEY, start_at INTEGER NOT NULL, end_at INTEGER NOT NULL, totals TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, closed_at INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_insert BEFORE INSERT ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE NEW.created_at >= start_at AND NEW.created_at < end_at) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_update BEFORE UPDATE ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE (OLD.created_at >= start_at AND OLD.created_at < end_at) OR (NEW.created_at >= start_at AND NEW.created_at < end_at)) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
CREATE TRIGGER IF NOT EXISTS ledger_closed_month_delete BEFORE DELETE ON ledger WHEN EXISTS (SELECT 1 FROM closed_months WHERE OLD.created_at >= start_at AND OLD.created_at < end_at) BEGIN SELECT RAISE(ABORT, 'ledger row dated in a closed month'); END;
`;

/**
 * PostgreSQL: one trigger function for the three cases. It runs a fresh query per row (plpgsql,
 * volatile), so a writer that waited for a month's close (finance's PgFinanceStore locks the
 * ledger while it closes) sees the closed_months row once the close commits.
 */
const PG_FINANCE = `
CREATE TABLE price_books (version TEXT PRIMARY KEY, effective_from BIGINT NOT NULL UNIQUE, body TEXT NOT NULL, imported_at BIGINT NOT NULL);
CREATE TABLE closed_months (month TEXT PRIMARY KEY, start_at BIGINT NOT NULL, end_at BIGINT NOT NULL, totals TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, closed_at BIGINT NOT NULL);
CREATE FUNCTION ledger_closed_month_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (SELECT 1 FROM closed_months WHERE OLD.created_at >= start_at AND OLD.created_at < end_at) THEN
    RAISE EXCEPTION 'ledger row dated in a closed month' USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (SELECT 1 FROM closed_months WHERE NEW.created_at >= start_at AND NEW.created_at < end_at) THEN
    RAISE EXCEPTION 'ledger row dated in a closed month' USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END;
$$;
CREATE TRIGGER ledger_closed_month_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION ledger_closed_month_guard();
`;

/** The same three columns on both engines; ADD COLUMN … DEFAULT 0 fills every existing row. */
function reasoningColumns(int: 'INTEGER' | 'BIGINT'): string {
  return [
    `ALTER TABLE runs ADD COLUMN reasoning_tokens ${int} NOT NULL DEFAULT 0;`,
    `ALTER TABLE ledger ADD COLUMN reasoning_tokens ${int} NOT NULL DEFAULT 0;`,
    `ALTER TABLE ledger ADD COLUMN reasoning_cost_nusd ${int} NOT NULL DEFAULT 0;`,
  ].join(' ');
}

/**
 * Totals kept by triggers on SQLite (migration 5), so neither `serve`'s start-up (the metric
 * totals it exports) nor the health summary's run count scans the ledger or the runs table: both
 * read one row per group. The same upsert-in-a-trigger pattern as budget_spend; the tables are
 * filled from the existing rows inside the migration.
 */
const LEDGER_KEY = ['project', 'agent', 'provider', 'model', 'priced', 'pricebook_version'] as const;
const LEDGER_SUMS: ReadonlyArray<readonly [string, string]> = [
  ['cost', 'cost_nusd'],
  ['cost_input', 'input_cost_nusd'],
  ['cost_cached', 'cached_cost_nusd'],
  ['cost_output', 'output_cost_nusd'],
  ['cost_reasoning', 'reasoning_cost_nusd'],
  ['input', 'input_tokens'],
  ['cached', 'cached_input_tokens'],
  ['output', 'output_tokens'],
  ['reasoning', 'reasoning_tokens'],
];
function sqliteTotals(): string {
  const key = LEDGER_KEY.join(', ');
  const sums = LEDGER_SUMS.map(([t]) => t);
  const add = (row: 'NEW' | 'OLD', sign: '' | '-'): string =>
    `INSERT INTO ledger_totals (${key}, ${sums.join(', ')}, calls) VALUES (${LEDGER_KEY.map((k) => `${row}.${k}`).join(', ')}, ${LEDGER_SUMS.map(([, c]) => `${sign}${row}.${c}`).join(', ')}, ${sign}1) ON CONFLICT DO UPDATE SET ${[...sums, 'calls'].map((t) => `${t} = ${t} + excluded.${t}`).join(', ')};`;
  const runAdd = (row: 'NEW' | 'OLD', sign: '' | '-'): string => `INSERT INTO run_counts (project, agent, status, n) VALUES (${row}.project, ${row}.agent, ${row}.status, ${sign}1) ON CONFLICT DO UPDATE SET n = n + excluded.n;`;
  return `
CREATE TABLE ledger_totals (project TEXT NOT NULL, agent TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, priced INTEGER NOT NULL, pricebook_version TEXT NOT NULL, ${[...sums, 'calls'].map((t) => `${t} INTEGER NOT NULL`).join(', ')}, PRIMARY KEY (${key})) WITHOUT ROWID;
INSERT INTO ledger_totals (${key}, ${sums.join(', ')}, calls) SELECT ${key}, ${LEDGER_SUMS.map(([, c]) => `SUM(${c})`).join(', ')}, COUNT(*) FROM ledger GROUP BY ${key};
CREATE TRIGGER ledger_totals_insert AFTER INSERT ON ledger BEGIN ${add('NEW', '')} END;
CREATE TRIGGER ledger_totals_delete AFTER DELETE ON ledger BEGIN ${add('OLD', '-')} END;
CREATE TRIGGER ledger_totals_update AFTER UPDATE OF ${[...LEDGER_KEY, ...LEDGER_SUMS.map(([, c]) => c)].join(', ')} ON ledger BEGIN ${add('OLD', '-')} ${add('NEW', '')} END;
CREATE TABLE run_counts (project TEXT NOT NULL, agent TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (project, agent, status)) WITHOUT ROWID;
INSERT INTO run_counts (project, agent, status, n) SELECT project, agent, status, COUNT(*) FROM runs GROUP BY project, agent, status;
CREATE TRIGGER run_counts_insert AFTER INSERT ON runs BEGIN ${runAdd('NEW', '')} END;
CREATE TRIGGER run_counts_delete AFTER DELETE ON runs BEGIN ${runAdd('OLD', '-')} END;
CREATE TRIGGER run_counts_update AFTER UPDATE OF project, agent, status ON runs BEGIN ${runAdd('OLD', '-')} ${runAdd('NEW', '')} END;
`;
}

/** The ordered list. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'base schema', sqlite: SQLITE_BASE, postgres: PG_BASE },
  {
    // Which serve process owns an open run or reservation (its service.instance.id), so one
    // replica's start-up recovery leaves another live replica's alone; which replica wrote a
    // ledger row, so each exports the totals of its own rows (no double counting across replicas).
    version: 2,
    name: 'replica ownership',
    sqlite: 'ALTER TABLE runs ADD COLUMN owner TEXT; ALTER TABLE reservations ADD COLUMN owner TEXT; ALTER TABLE ledger ADD COLUMN writer TEXT;',
    postgres:
      'ALTER TABLE runs ADD COLUMN owner TEXT; ALTER TABLE reservations ADD COLUMN owner TEXT; ALTER TABLE ledger ADD COLUMN writer TEXT; CREATE INDEX runs_running_owner ON runs (owner) WHERE status = \'running\'; CREATE UNIQUE INDEX ledger_run_once ON ledger (run_id); CREATE INDEX ledger_writer ON ledger (writer);',
  },
  { version: 3, name: 'finance: price-book history and closed months', sqlite: SQLITE_FINANCE, postgres: PG_FINANCE },
  {
    // Reasoning tokens as a fourth token type (issue 15): counted apart from output_tokens (which
    // keeps the visible answer only), priced at the book's reasoning rate. Rows written before
    // have none, so 0 is the truth for them, and their cost parts still sum to cost_nusd.
    version: 4,
    name: 'reasoning tokens',
    sqlite: reasoningColumns('INTEGER'),
    postgres: reasoningColumns('BIGINT'),
  },
  {
    // SQLite only. On PostgreSQL replicas write concurrently, and a shared totals row per group
    // would serialise their transactions on it (and add lock orders to reason about); there the
    // start-up totals stay per-writer GROUP BY queries over indexed columns. The version is
    // recorded on both engines so one number names the schema.
    version: 5,
    name: 'ledger and run totals kept by triggers (SQLite)',
    sqlite: sqliteTotals(),
    postgres: 'SELECT 1',
  },
  {
    // Tasks are kept after they end, so the live view's open tasks (queued, claimed; of every
    // project or one) and the health summary's queued count were scans of the whole task history,
    // growing with every task ever queued. By status first, they read the open tasks alone.
    version: 6,
    name: 'tasks by status',
    sqlite: 'CREATE INDEX tasks_status ON tasks (status, project, created_at);',
    postgres: 'CREATE INDEX tasks_status ON tasks (status, project, created_at);',
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

const MIGRATIONS_TABLE = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';

export function tooNew(found: number, where: string): UserError {
  return new UserError(`${where} is at schema version ${found}, newer than this sagewai-obs knows (${SCHEMA_VERSION}); it was written by a newer release, and this one will not touch it`, [
    'upgrade sagewai-obs to the release that wrote this database (npm install -g sagewai-obs@latest)',
    'or point serve at another database (--data-dir, --database)',
  ]);
}

/** Brings a SQLite database to SCHEMA_VERSION; one BEGIN IMMEDIATE transaction per migration. */
export function migrateSqlite(db: Database.Database, where = 'the SQLite database'): number[] {
  db.exec(MIGRATIONS_TABLE);
  const current = (): number => (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
  const found = current();
  if (found > SCHEMA_VERSION) throw tooNew(found, where);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= found) continue;
    db.transaction(() => {
      // Re-read under the write lock: another process may have applied it meanwhile.
      if (current() >= m.version) return;
      db.exec(m.sqlite);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }).immediate();
  }
  return applied;
}

/** The advisory lock key that serialises migrations across replicas. */
const MIGRATION_LOCK = 7_302_117;

/**
 * Brings a PostgreSQL database to SCHEMA_VERSION; each migration is one transaction (PostgreSQL's
 * DDL is transactional). A session advisory lock serialises replicas starting together.
 */
export async function migratePostgres(client: pg.ClientBase, where = 'the PostgreSQL database'): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(MIGRATIONS_TABLE);
    const found = Number((await client.query<{ v: string | null }>('SELECT MAX(version) AS v FROM schema_migrations')).rows[0]?.v ?? 0);
    if (found > SCHEMA_VERSION) throw tooNew(found, where);
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (m.version <= found) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.postgres);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new UserError(`migration ${m.version} (${m.name}) failed and was rolled back, so ${where} is still at version ${found}: ${(err as Error).message}`, ['point --database at an empty database, or at one only sagewai-obs has written to (it may hold tables of another application)'], { cause: err });
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
  }
}
