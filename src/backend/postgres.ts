import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { UserError } from '../errors.js';
// Only types from the area modules: importing their values would evaluate instruments.ts here,
// before serve starts the OpenTelemetry SDK (it opens the store first), and the metrics API has no
// proxy, so every instrument would stay a no-op (seen: a replica exporting no metrics at all).
import type { AgentInput, AgentRow, AgentStore } from './areas/agents.js';
import type { AnalyticsStore, CostRow } from './areas/analytics.js';
import type { AuthStore } from './areas/auth.js';
import type { BudgetStore } from './areas/budgets.js';
import { GENESIS_HASH, type ClosedMonthRow, type FinanceStore, type MonthTotal, type StoredBook } from './areas/finance.js';
import type { FleetStore, TaskRow, WorkerRow } from './areas/fleet.js';
import type { LiveStore } from './areas/live.js';
import type { ProjectRow, ProjectStore } from './areas/projects.js';
import type { LedgerEntry, RunFilter, RunStart, RunStore } from './areas/runs.js';
import { windowEnd, windowStart, type BudgetRow, type ReserveResult, type Scope, type Subjects, type ThresholdCrossing } from './budgets.js';
import { HttpError } from './http.js';
import type { LedgerAggregate } from './ledger-metrics.js';
import { migratePostgres } from './migrations.js';
import { newId, newSecret, sha256 } from './store.js';

/**
 * The PostgreSQL stores: the same area interfaces as the SQLite ones, for several `serve`
 * replicas on one database (node-postgres, a pool per replica).
 *
 * - Budgets: a call's decide step takes a transaction-scoped advisory lock on its project (every
 *   limit a call can hit — project, team, user — belongs to its project), then reads each limit's
 *   window spend and open reservations in ONE statement (one snapshot), inserts its reservation and
 *   run row, and commits; the next caller of that project, on any replica, waits for the commit.
 *   The record step (ledger row, per-day totals, run row, reservation release) is one transaction.
 * - Fleet: a claim is UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED): one worker per task.
 * - Ownership: runs and reservations carry their replica's instance id (`owner`), ledger rows the
 *   id of the replica that wrote them (`writer`). A live replica holds a session advisory lock on
 *   its id for its whole life; start-up recovery touches only the open rows of ids whose lock is
 *   free (their process is gone: PostgreSQL drops a dead client's session and its locks).
 * - Outages: an error that means "the database cannot be reached" becomes 503 database_unavailable
 *   with Retry-After (never a 500); the pool makes new connections when it is back. The record step
 *   retries through a short outage, idempotently (a unique ledger row per run), so a call whose
 *   provider answered is neither lost nor counted twice.
 */

const BUDGET_LOCK = 1_651_860_328;
const OWNER_LOCK = 1_651_860_329;
const SHARED_STATE_LOCK = 1_651_860_330;
const RETRY_AFTER_S = 2;

/** node-postgres returns int8 and numeric as strings; every such value here is an integer < 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 || oid === 1700 ? (v: string) => (v === null ? null : Number(v)) : pg.types.getTypeParser(oid, format))) as pg.CustomTypesConfig['getTypeParser'],
};

const CONNECTIVITY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** Whether err means the database is unreachable or restarting (not a bug or a constraint). */
export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (!e) return false;
  if (e.code && (CONNECTIVITY_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed|not queryable|ECONNREFUSED/i.test(e.message ?? '');
}

const unavailable = (): HttpError => new HttpError(503, 'database_unavailable', 'the database is unreachable; retry shortly', { retry_after_s: RETRY_AFTER_S }, { 'retry-after': String(RETRY_AFTER_S) });

type Q = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

export class Pg {
  constructor(readonly pool: pg.Pool) {}

  async rows<R>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query(sql, params)).rows as R[];
    } catch (err) {
      throw isUnavailable(err) ? unavailable() : err;
    }
  }
  async one<R>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return (await this.rows<R>(sql, params))[0];
  }
  async count(sql: string, params: unknown[] = []): Promise<number> {
    try {
      return (await this.pool.query(sql, params)).rowCount ?? 0;
    } catch (err) {
      throw isUnavailable(err) ? unavailable() : err;
    }
  }

  /** One transaction; an unreachable database is 503. */
  async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw isUnavailable(err) ? unavailable() : err;
    }
    let broken = false;
    // While checked out, a client has no listener of the pool's: PostgreSQL ending the session
    // between two statements (a restart, pg_terminate_backend) is an 'error' event that would
    // otherwise go unhandled and end the process. The next statement then fails as unreachable.
    const dropped = (): void => {
      broken = true;
    };
    client.on('error', dropped);
    try {
      await client.query('BEGIN');
      const out = await fn((sql, params) => client.query(sql, params));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      broken ||= isUnavailable(err);
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      throw broken ? unavailable() : err;
    } finally {
      client.removeListener('error', dropped);
      client.release(broken);
    }
  }

  /** tx, retried while the database is unreachable (up to ~untilMs); fn must be idempotent. */
  async txRetrying<T>(fn: (q: Q) => Promise<T>, untilMs = 30_000): Promise<T> {
    const deadline = Date.now() + untilMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await this.tx(fn);
      } catch (err) {
        if (!(err instanceof HttpError && err.code === 'database_unavailable') || Date.now() + delay > deadline) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

const SUBJECT_COLUMN: Record<Scope, string> = { project: 'project', team: 'team', user: 'user_name' };
const THRESHOLDS = [50, 80, 100];

async function applicable(q: Q, s: Subjects): Promise<BudgetRow[]> {
  return (await q("SELECT * FROM budgets WHERE project = $1 AND ((scope = 'project' AND subject = $1) OR (scope = 'team' AND subject = $2) OR (scope = 'user' AND subject = $3)) ORDER BY created_at, id", [s.project, s.team ?? '\u0001', s.user ?? '\u0001'])).rows as BudgetRow[];
}

/** Ledger spend in b's window and b's subject's open reservations, read in one statement (one snapshot). */
async function spentOf(q: Q, b: BudgetRow, now: number): Promise<{ ledger: number; reserved: number }> {
  const r = await q(
    `SELECT (SELECT COALESCE(SUM(cost_nusd), 0) FROM budget_spend WHERE project = $1 AND scope = $2 AND subject = $3 AND day_start >= $4) AS ledger,
            (SELECT COALESCE(SUM(amount_nusd), 0) FROM reservations WHERE project = $1 AND ${SUBJECT_COLUMN[b.scope]} = $3) AS reserved`,
    [b.project, b.scope, b.subject, windowStart(b.window, now)],
  );
  const row = r.rows[0] as { ledger: number; reserved: number };
  return { ledger: row.ledger, reserved: row.reserved };
}

async function crossingsIn(q: Q, s: Subjects, now: number): Promise<ThresholdCrossing[]> {
  const out: ThresholdCrossing[] = [];
  for (const b of await applicable(q, s)) {
    if (b.limit_nusd <= 0) continue;
    const util = (await spentOf(q, b, now)).ledger / b.limit_nusd;
    const ws = windowStart(b.window, now);
    for (const t of THRESHOLDS) {
      if (util * 100 < t) continue;
      const r = await q('INSERT INTO budget_events (budget_id, window_start, threshold) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [b.id, ws, t]);
      if ((r.rowCount ?? 0) > 0) out.push({ budget: b, threshold: t, utilization: util });
    }
  }
  return out;
}

export class PgBudgetStore implements BudgetStore {
  constructor(private readonly db: Pg) {}
  list(project?: string): Promise<BudgetRow[]> {
    return project ? this.db.rows('SELECT * FROM budgets WHERE project = $1 ORDER BY created_at, id', [project]) : this.db.rows('SELECT * FROM budgets ORDER BY project, created_at, id');
  }
  get(project: string, id: string): Promise<BudgetRow | undefined> {
    return this.db.one('SELECT * FROM budgets WHERE id = $1 AND project = $2', [id, project]);
  }
  async upsert(i: Omit<BudgetRow, 'id' | 'created_at'>): Promise<BudgetRow> {
    return (await this.db.one<BudgetRow>(
      `INSERT INTO budgets (id, project, scope, subject, "window", limit_nusd, action, fallback_model, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (project, scope, subject, "window") DO UPDATE SET limit_nusd = excluded.limit_nusd, action = excluded.action, fallback_model = excluded.fallback_model RETURNING *`,
      [newId('bud'), i.project, i.scope, i.subject, i.window, i.limit_nusd, i.action, i.fallback_model, Date.now()],
    )) as BudgetRow;
  }
  delete(project: string, id: string): Promise<boolean> {
    return this.db.tx(async (q) => {
      const n = (await q('DELETE FROM budgets WHERE id = $1 AND project = $2', [id, project])).rowCount ?? 0;
      if (n > 0) await q('DELETE FROM budget_events WHERE budget_id = $1', [id]);
      return n > 0;
    });
  }
  spent(b: BudgetRow, now = Date.now()): Promise<{ ledger: number; reserved: number }> {
    return spentOf((sql, p) => this.db.pool.query(sql, p), b, now).catch((err: unknown) => {
      throw isUnavailable(err) ? unavailable() : err;
    });
  }
  async spentInWindow(b: BudgetRow, now = Date.now()): Promise<number> {
    return (await this.spent(b, now)).ledger;
  }
  crossings(s: Subjects, now = Date.now()): Promise<ThresholdCrossing[]> {
    return this.db.tx((q) => crossingsIn(q, s, now));
  }
}

const LEDGER_COLUMNS = 'run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, reasoning_cost_nusd, pricebook_version, priced, created_at, writer';

export class PgRunStore implements RunStore {
  constructor(private readonly db: Pg, private readonly owners: OwnerLock) {}

  /** Open runs and reservations of this replica's earlier life and of every replica that is gone. */
  async recover(now: number): Promise<void> {
    const owners = await this.db.rows<{ owner: string | null }>("SELECT DISTINCT owner FROM runs WHERE status = 'running' UNION SELECT DISTINCT owner FROM reservations");
    for (const { owner } of owners) {
      const mine = owner === this.owners.id;
      if (!mine && owner !== null && !(await this.owners.tryLockOther(owner))) continue; // that replica is alive
      try {
        await this.db.tx(async (q) => {
          await q(`UPDATE runs SET status = 'error', error = 'interrupted by a restart', completed_at = $1 WHERE status = 'running' AND owner IS NOT DISTINCT FROM $2`, [now, owner]);
          await q('DELETE FROM reservations WHERE owner IS NOT DISTINCT FROM $1', [owner]);
        });
      } finally {
        if (!mine && owner !== null) await this.owners.unlockOther(owner);
      }
    }
  }

  start(r: RunStart, now: number): Promise<ReserveResult> {
    const s: Subjects = { project: r.project, user: r.user ?? undefined, team: r.team ?? undefined };
    return this.db.tx(async (q): Promise<ReserveResult> => {
      const budgets = await applicable(q, s);
      if (budgets.length > 0) {
        // Serialise decide steps per project across replicas; re-read the limits under the lock.
        await q('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BUDGET_LOCK, r.project]);
        budgets.splice(0, budgets.length, ...(await applicable(q, s)));
      }
      let chosen = r.requestedModel;
      let amount = r.worstCase(chosen);
      let throttledBy: BudgetRow | undefined;
      const totals = new Map<string, number>();
      const total = async (b: BudgetRow): Promise<number> => {
        let v = totals.get(b.id);
        if (v === undefined) {
          const sp = await spentOf(q, b, now);
          v = sp.ledger + sp.reserved;
          totals.set(b.id, v);
        }
        return v;
      };
      for (const b of budgets) {
        if (b.action === 'throttle' && b.fallback_model && chosen !== b.fallback_model && (await total(b)) + amount > b.limit_nusd) {
          chosen = b.fallback_model;
          amount = r.worstCase(chosen);
          throttledBy = b;
        }
      }
      for (const b of budgets) {
        if (b.action === 'stop' && (await total(b)) + amount > b.limit_nusd) {
          return { ok: false, budget: b, spentNusd: await total(b), retryAfterS: Math.max(1, Math.ceil((windowEnd(b.window, now) - now) / 1000)) };
        }
      }
      const warnings: BudgetRow[] = [];
      for (const b of budgets) if (b.action === 'warn' && (await total(b)) + amount > b.limit_nusd) warnings.push(b);
      const id = newId('res');
      await q('INSERT INTO reservations (id, run_id, project, user_name, team, amount_nusd, created_at, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [id, r.runId, r.project, r.user, r.team, amount, now, this.owners.id]);
      await q("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at, owner) VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8)", [r.runId, r.project, r.agent, chosen, r.user, r.team, now, this.owners.id]);
      return { ok: true, reservationId: id, model: chosen, amountNusd: amount, throttledBy, warnings };
    });
  }

  async recordDenied(r: RunStart, now: number): Promise<void> {
    await this.db.count("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at, completed_at, error, owner) VALUES ($1, $2, $3, $4, $5, $6, 'denied', $7, $8, 'budget_exceeded', $9)", [r.runId, r.project, r.agent, r.requestedModel, r.user, r.team, now, Date.now(), this.owners.id]);
  }

  complete(e: LedgerEntry, reservationId: string): Promise<ThresholdCrossing[]> {
    // Retried through a short outage; the unique ledger row per run makes a retry of a commit
    // whose answer was lost write nothing twice.
    return this.db.txRetrying(async (q) => {
      const ins = await q(`INSERT INTO ledger (${LEDGER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) ON CONFLICT (run_id) DO NOTHING`, [
        e.runId,
        e.project,
        e.agent,
        e.user,
        e.team,
        e.quote.provider,
        e.quote.model,
        e.input,
        e.cachedInput,
        e.output,
        e.reasoning,
        e.cost,
        e.costInput,
        e.costCached,
        e.costOutput,
        e.costReasoning,
        e.quote.version,
        e.quote.priced ? 1 : 0,
        e.at,
        this.owners.id,
      ]);
      if ((ins.rowCount ?? 0) > 0) {
        const day = e.at - (e.at % 86_400_000);
        for (const [scope, subject] of [['project', e.project], ['team', e.team], ['user', e.user]] as const) {
          if (subject === null) continue;
          await q('INSERT INTO budget_spend (project, scope, subject, day_start, cost_nusd) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project, scope, subject, day_start) DO UPDATE SET cost_nusd = budget_spend.cost_nusd + excluded.cost_nusd', [e.project, scope, subject, day, e.cost]);
        }
      }
      await q("UPDATE runs SET status = 'completed', completed_at = $1, input_tokens = $2, cached_input_tokens = $3, output_tokens = $4, reasoning_tokens = $5, cost_nusd = $6, error = NULL WHERE id = $7", [e.at, e.input, e.cachedInput, e.output, e.reasoning, e.cost, e.runId]);
      await q('DELETE FROM reservations WHERE id = $1', [reservationId]);
      return crossingsIn(q, { project: e.project, user: e.user ?? undefined, team: e.team ?? undefined }, e.at);
    });
  }

  async fail(runId: string, kind: string, reservationId: string, now: number): Promise<void> {
    await this.db.txRetrying(async (q) => {
      await q("UPDATE runs SET status = 'error', completed_at = $1, error = $2 WHERE id = $3", [now, kind, runId]);
      await q('DELETE FROM reservations WHERE id = $1', [reservationId]);
    });
  }

  list(f: RunFilter): Promise<Array<{ id: string; project: string; agent: string; model: string; status: string; started_at: number; completed_at: number | null; input_tokens: number; cached_input_tokens: number; output_tokens: number; reasoning_tokens: number; cost_nusd: number; error: string | null }>> {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const [col, v] of [['project', f.project], ['agent', f.agent_name], ['status', f.status]] as const) {
      if (!v) continue;
      args.push(v);
      where.push(`${col} = $${args.length}`);
    }
    args.push(f.limit + 1, f.offset);
    return this.db.rows(`SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id LIMIT $${args.length - 1} OFFSET $${args.length}`, args);
  }

  /** This replica's own rows only: each replica exports the totals of what it wrote (see docs/backend.md). */
  async totals(): Promise<{ ledger: LedgerAggregate[]; runs: Array<{ project: string; agent: string; status: string; n: number }> }> {
    const ledger = (
      await this.db.rows<Omit<LedgerAggregate, 'priced'> & { priced: number }>(
        'SELECT project, agent, provider, model, priced, pricebook_version AS version, SUM(cost_nusd) AS cost, SUM(input_cost_nusd) AS "costInput", SUM(cached_cost_nusd) AS "costCached", SUM(output_cost_nusd) AS "costOutput", SUM(reasoning_cost_nusd) AS "costReasoning", SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached, SUM(output_tokens) AS output, SUM(reasoning_tokens) AS reasoning, COUNT(*) AS calls FROM ledger WHERE writer = $1 GROUP BY project, agent, provider, model, priced, pricebook_version',
        [this.owners.id],
      )
    ).map((r) => ({ ...r, priced: r.priced === 1 }));
    const runs = await this.db.rows<{ project: string; agent: string; status: string; n: number }>("SELECT project, agent, status, COUNT(*) AS n FROM runs WHERE status IN ('completed','error','denied') AND owner = $1 GROUP BY project, agent, status", [this.owners.id]);
    return { ledger, runs };
  }
}

/**
 * Price books and closed months. closeMonth locks the ledger against writers (SHARE ROW EXCLUSIVE:
 * it waits for every open ledger write to commit, holds new ones until the close commits, and
 * excludes a second close), so the totals it seals are the month's last; a write that waited then
 * meets the closed-month guard (migration 3) and is refused if it is dated in that month.
 */
export class PgFinanceStore implements FinanceStore {
  constructor(private readonly db: Pg) {}

  books(): Promise<StoredBook[]> {
    return this.db.rows('SELECT version, effective_from, body, imported_at FROM price_books ORDER BY effective_from');
  }

  async addBook(b: StoredBook): Promise<boolean> {
    return (await this.db.count('INSERT INTO price_books (version, effective_from, body, imported_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [b.version, b.effective_from, b.body, b.imported_at])) === 1;
  }

  monthTotals(start: number, end: number): Promise<MonthTotal[]> {
    return this.db.rows(MONTH_TOTALS, [start, end]);
  }

  closedMonths(): Promise<ClosedMonthRow[]> {
    return this.db.rows('SELECT month, start_at, end_at, totals, prev_hash, hash, closed_at FROM closed_months ORDER BY start_at');
  }

  closeMonth(month: string, start: number, end: number, now: number, seal: (totals: MonthTotal[], prevHash: string) => string): Promise<ClosedMonthRow> {
    return this.db.tx(async (q) => {
      await q('LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE');
      // Re-checked under the lock: another replica may have closed this month or a later one meanwhile.
      const later = (await q('SELECT month FROM closed_months WHERE month = $1 OR start_at >= $2 ORDER BY start_at LIMIT 1', [month, start])).rows[0] as { month: string } | undefined;
      if (later?.month === month) throw new HttpError(409, 'month_closed', `${month} is already closed`);
      if (later) throw new HttpError(409, 'month_order', `${month} is before the last closed month ${later.month}; months close in order so each hash covers the one before`);
      const last = (await q('SELECT hash FROM closed_months ORDER BY start_at DESC LIMIT 1')).rows[0] as { hash: string } | undefined;
      const prev = last?.hash ?? GENESIS_HASH;
      const totals = (await q(MONTH_TOTALS, [start, end])).rows as MonthTotal[];
      const row: ClosedMonthRow = { month, start_at: start, end_at: end, totals: JSON.stringify(totals), prev_hash: prev, hash: seal(totals, prev), closed_at: now };
      await q('INSERT INTO closed_months (month, start_at, end_at, totals, prev_hash, hash, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [row.month, row.start_at, row.end_at, row.totals, row.prev_hash, row.hash, row.closed_at]);
      return row;
    });
  }
}

/** Same columns and order as the SQLite store's, so a month's hash does not depend on the engine. */
const MONTH_TOTALS =
  'SELECT project, model, SUM(cost_nusd) AS cost_nusd, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens, SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens, COUNT(*) AS calls FROM ledger WHERE created_at >= $1 AND created_at < $2 GROUP BY project, model ORDER BY project COLLATE "C", model COLLATE "C"';

export class PgFleetStore implements FleetStore {
  constructor(private readonly db: Pg) {}
  async insertWorker(w: Omit<WorkerRow, 'state' | 'last_heartbeat_at'>): Promise<void> {
    await this.db.count("INSERT INTO workers (id, project, name, pool, models, labels, max_concurrent, secret_hash, state, registered_at, last_heartbeat_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'online', $9, $9)", [w.id, w.project, w.name, w.pool, w.models, w.labels, w.max_concurrent, w.secret_hash, w.registered_at]);
  }
  worker(id: string): Promise<WorkerRow | undefined> {
    return this.db.one('SELECT * FROM workers WHERE id = $1', [id]);
  }
  workers(project?: string): Promise<WorkerRow[]> {
    return project ? this.db.rows('SELECT * FROM workers WHERE project = $1 ORDER BY registered_at, id', [project]) : this.db.rows('SELECT * FROM workers ORDER BY project, registered_at, id');
  }
  async touchWorker(id: string, now: number): Promise<'online' | 'busy'> {
    const r = await this.db.one<{ state: 'online' | 'busy' }>("UPDATE workers SET last_heartbeat_at = $2, state = CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE worker_id = $1 AND status = 'claimed') THEN 'busy' ELSE 'online' END WHERE id = $1 RETURNING state", [id, now]);
    return r?.state ?? 'online';
  }
  markLost(cutoff: number): Promise<WorkerRow[]> {
    // One UPDATE … RETURNING: each lost worker is reported by exactly one replica.
    return this.db.rows("UPDATE workers SET state = 'lost' WHERE state != 'lost' AND last_heartbeat_at < $1 RETURNING *", [cutoff]);
  }
  async insertTask(t: Pick<TaskRow, 'id' | 'project' | 'pool' | 'payload' | 'model' | 'created_at'>): Promise<TaskRow> {
    return (await this.db.one<TaskRow>("INSERT INTO tasks (id, project, pool, payload, model, status, created_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6) RETURNING *", [t.id, t.project, t.pool, t.payload, t.model, t.created_at])) as TaskRow;
  }
  task(id: string): Promise<TaskRow | undefined> {
    return this.db.one('SELECT * FROM tasks WHERE id = $1', [id]);
  }
  tasks(f: { project?: string | undefined; status?: string | undefined; limit: number }): Promise<TaskRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    for (const [col, v] of [['project', f.project], ['status', f.status]] as const) {
      if (!v) continue;
      args.push(v);
      where.push(`${col} = $${args.length}`);
    }
    args.push(f.limit);
    return this.db.rows(`SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT $${args.length}`, args);
  }
  claim(w: WorkerRow, now: number): Promise<TaskRow | undefined> {
    return this.db.tx(async (q) => {
      const t = (await q("UPDATE tasks SET status = 'claimed', worker_id = $3, claimed_at = $4 WHERE id = (SELECT id FROM tasks WHERE project = $1 AND pool = $2 AND status = 'queued' ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING *", [w.project, w.pool, w.id, now])).rows[0] as TaskRow | undefined;
      if (t) await q("UPDATE workers SET state = 'busy', last_heartbeat_at = $2 WHERE id = $1", [w.id, now]);
      return t;
    });
  }
  report(w: WorkerRow, r: { task_id: string; status: 'completed' | 'failed'; result?: unknown; error?: string | undefined }, now: number): Promise<{ task: TaskRow } | { conflict: string } | undefined> {
    return this.db.tx(async (q) => {
      const t = (await q('SELECT * FROM tasks WHERE id = $1 AND project = $2 FOR UPDATE', [r.task_id, w.project])).rows[0] as TaskRow | undefined;
      if (!t || t.worker_id !== w.id) return undefined;
      if (t.status !== 'claimed') return { conflict: t.status };
      const done = (await q('UPDATE tasks SET status = $2, completed_at = $3, result = $4, error = $5 WHERE id = $1 RETURNING *', [t.id, r.status, now, r.result === undefined ? null : JSON.stringify(r.result), r.error ?? null])).rows[0] as TaskRow;
      await q("UPDATE workers SET last_heartbeat_at = $2, state = CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE worker_id = $1 AND status = 'claimed') THEN 'busy' ELSE 'online' END WHERE id = $1", [w.id, now]);
      return { task: done };
    });
  }
  workerCounts(): Promise<Array<{ project: string; pool: string; state: string; n: number }>> {
    return this.db.rows('SELECT project, pool, state, COUNT(*) AS n FROM workers GROUP BY project, pool, state');
  }
  taskCounts(): Promise<Array<{ project: string; pool: string; queued: number; claimed: number; completed: number; failed: number }>> {
    return this.db.rows(
      "SELECT project, pool, COUNT(*) AS queued, COUNT(claimed_at) AS claimed, COUNT(*) FILTER (WHERE status = 'completed') AS completed, COUNT(*) FILTER (WHERE status = 'failed') AS failed FROM tasks GROUP BY project, pool UNION ALL SELECT DISTINCT project, pool, 0, 0, 0, 0 FROM workers WHERE (project, pool) NOT IN (SELECT project, pool FROM tasks)",
    );
  }
}

type UserRow = { id: string; email: string; name: string; role: string; password_hash: string };

export class PgAuthStore implements AuthStore {
  constructor(private readonly db: Pg) {}
  async setupRequired(): Promise<boolean> {
    return (await this.db.one('SELECT 1 FROM org WHERE id = 1')) === undefined;
  }
  completeSetup(org: { name: string; slug: string; appName: string | null }, user: Omit<UserRow, 'role'> & { role: 'admin' }, now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      const r = await q('INSERT INTO org (id, name, slug, app_name, created_at) VALUES (1, $1, $2, $3, $4) ON CONFLICT (id) DO NOTHING', [org.name, org.slug, org.appName, now]);
      if ((r.rowCount ?? 0) === 0) return false;
      await q('INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [user.id, user.email, user.name, user.role, user.password_hash, now]);
      return true;
    });
  }
  userByEmail(email: string): Promise<UserRow | undefined> {
    return this.db.one('SELECT * FROM users WHERE email = $1', [email]);
  }
  user(id: string): Promise<Omit<UserRow, 'password_hash'> | undefined> {
    return this.db.one('SELECT id, email, name, role FROM users WHERE id = $1', [id]);
  }
  async insertSession(s: { tokenHash: string; userId: string; csrf: string; expiresAt: number }, now: number): Promise<void> {
    await this.db.count('INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [s.tokenHash, s.userId, s.csrf, now, s.expiresAt]);
  }
  async deleteSession(tokenHash: string): Promise<void> {
    await this.db.count('DELETE FROM sessions WHERE token_hash = $1', [tokenHash]);
  }
  session(tokenHash: string, now: number): Promise<{ user_id: string; csrf: string } | undefined> {
    return this.db.one('SELECT user_id, csrf FROM sessions WHERE token_hash = $1 AND expires_at > $2', [tokenHash, now]);
  }
  token(tokenHash: string): Promise<{ id: string; kind: string; project: string | null } | undefined> {
    return this.db.one('SELECT id, kind, project FROM tokens WHERE token_hash = $1', [tokenHash]);
  }
}

export class PgProjectStore implements ProjectStore {
  constructor(private readonly db: Pg) {}
  list(only?: string): Promise<ProjectRow[]> {
    return only ? this.db.rows('SELECT * FROM projects WHERE slug = $1', [only]) : this.db.rows('SELECT * FROM projects ORDER BY created_at, slug');
  }
  get(slug: string): Promise<ProjectRow | undefined> {
    return this.db.one('SELECT * FROM projects WHERE slug = $1', [slug]);
  }
  async insert(p: { slug: string; name: string; environment: string }, now: number): Promise<boolean> {
    return (await this.db.count("INSERT INTO projects (slug, name, environment, status, created_at) VALUES ($1, $2, $3, 'active', $4) ON CONFLICT DO NOTHING", [p.slug, p.name, p.environment, now])) > 0;
  }
  async insertToken(t: { id: string; tokenHash: string; project: string; name: string | null }, now: number): Promise<void> {
    await this.db.count("INSERT INTO tokens (id, token_hash, kind, project, name, created_at) VALUES ($1, $2, 'project', $3, $4, $5)", [t.id, t.tokenHash, t.project, t.name, now]);
  }
}

export class PgAgentStore implements AgentStore {
  constructor(private readonly db: Pg) {}
  get(project: string, name: string): Promise<AgentRow | undefined> {
    return this.db.one('SELECT * FROM agents WHERE project = $1 AND name = $2', [project, name]);
  }
  list(project?: string): Promise<AgentRow[]> {
    return project ? this.db.rows('SELECT * FROM agents WHERE project = $1 ORDER BY name', [project]) : this.db.rows('SELECT * FROM agents ORDER BY project, name');
  }
  async insert(project: string, a: AgentInput, now: number): Promise<boolean> {
    return (
      (await this.db.count('INSERT INTO agents (project, name, model, system_prompt, strategy, temperature, tools, metadata, max_output_tokens, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING', [
        project,
        a.name,
        a.model,
        a.system_prompt,
        a.strategy,
        a.temperature,
        JSON.stringify(a.tools),
        JSON.stringify(a.metadata),
        a.max_output_tokens,
        now,
      ])) > 0
    );
  }
}

export class PgAnalyticsStore implements AnalyticsStore {
  constructor(private readonly db: Pg) {}
  async costRows(f: { project?: string | undefined; from: number; to: number; keys: Array<'project' | 'model' | 'agent' | 'provider'> }): Promise<CostRow[]> {
    // Column names come from the fixed list of group keys, never from the request text.
    const args: unknown[] = [f.from, f.to];
    const where = ['created_at >= $1', 'created_at < $2'];
    if (f.project) {
      args.push(f.project);
      where.push(`project = $${args.length}`);
    }
    const sel = [...f.keys, 'SUM(cost_nusd) AS cost', 'SUM(input_cost_nusd) AS c_in', 'SUM(cached_cost_nusd) AS c_cached', 'SUM(output_cost_nusd) AS c_out', 'SUM(reasoning_cost_nusd) AS c_reason', 'SUM(input_tokens) AS input', 'SUM(cached_input_tokens) AS cached', 'SUM(output_tokens) AS output', 'SUM(reasoning_tokens) AS reasoning', 'COUNT(*) AS calls', 'COUNT(*) FILTER (WHERE priced = 0) AS unpriced'];
    const rows = await this.db.rows<Record<string, string | number | null>>(`SELECT ${sel.join(', ')} FROM ledger WHERE ${where.join(' AND ')}${f.keys.length ? ` GROUP BY ${f.keys.join(', ')} ORDER BY cost DESC` : ''}`, args);
    return rows.map((r) => ({
      keys: Object.fromEntries(f.keys.map((k) => [k, r[k] as string | null])),
      cost: Number(r.cost ?? 0),
      c_in: Number(r.c_in ?? 0),
      c_cached: Number(r.c_cached ?? 0),
      c_out: Number(r.c_out ?? 0),
      c_reason: Number(r.c_reason ?? 0),
      input: Number(r.input ?? 0),
      cached: Number(r.cached ?? 0),
      output: Number(r.output ?? 0),
      reasoning: Number(r.reasoning ?? 0),
      calls: Number(r.calls),
      unpriced: Number(r.unpriced ?? 0),
    }));
  }
}

type OpenTask = { id: string; project: string; pool: string; worker_id: string | null; status: string; claimed_at: number | null; created_at: number };

export class PgLiveStore implements LiveStore {
  constructor(private readonly db: Pg) {}
  async tasksInFlight(project: string | undefined, queuedLimit: number): Promise<{ claimed: OpenTask[]; queued: OpenTask[] }> {
    const claimed = project ? await this.db.rows<OpenTask>("SELECT * FROM tasks WHERE status = 'claimed' AND project = $1", [project]) : await this.db.rows<OpenTask>("SELECT * FROM tasks WHERE status = 'claimed'");
    const queued = project ? await this.db.rows<OpenTask>("SELECT * FROM tasks WHERE status = 'queued' AND project = $1 ORDER BY created_at LIMIT $2", [project, queuedLimit]) : await this.db.rows<OpenTask>("SELECT * FROM tasks WHERE status = 'queued' ORDER BY created_at LIMIT $1", [queuedLimit]);
    return { claimed, queued };
  }
  async counts(): Promise<{ projects: number; agents: number; runs: number; workers_online: number; tasks_queued: number }> {
    return (await this.db.one(
      "SELECT (SELECT COUNT(*) FROM projects) AS projects, (SELECT COUNT(*) FROM agents) AS agents, (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM workers WHERE state != 'lost') AS workers_online, (SELECT COUNT(*) FROM tasks WHERE status = 'queued') AS tasks_queued",
    )) as { projects: number; agents: number; runs: number; workers_online: number; tasks_queued: number };
  }
  async ping(): Promise<void> {
    await this.db.rows('SELECT 1');
  }
}

/**
 * The replica's liveness as PostgreSQL sees it: a session advisory lock on its instance id, held
 * on a dedicated connection for the process's life (re-taken after an outage). Another replica
 * can take that lock only once this process — and so its connection — is gone.
 */
export class OwnerLock {
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private sharedState = false;

  constructor(readonly id: string, private readonly config: pg.ClientConfig) {}

  private warned = false;

  /** false when another live process holds this id. */
  async acquire(): Promise<boolean> {
    const c = new pg.Client(this.config);
    c.on('error', () => undefined);
    try {
      await c.connect();
    } catch (err) {
      // Re-taking the lock while PostgreSQL is still down: close the socket, the caller retries.
      await c.end().catch(() => undefined);
      throw err;
    }
    const ok = (await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [OWNER_LOCK, this.id]).catch(() => undefined))?.rows[0]?.ok === true;
    if (!ok) {
      await c.end().catch(() => undefined);
      return false;
    }
    // Held for the life of this connection; when PostgreSQL drops it (an outage), take it again.
    c.on('end', () => {
      if (this.client === c) {
        this.client = undefined;
        this.sharedState = false;
      }
      if (!this.closed) this.scheduleReacquire();
    });
    this.client = c;
    this.warned = false;
    return true;
  }

  private scheduleReacquire(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.acquire().then(
        (ok) => {
          if (ok) return;
          if (!this.warned) process.stderr.write(`[sagewai-admin] instance id ${this.id} is now held by another process; start-up recovery elsewhere may treat this replica's open runs as orphaned\n`);
          this.warned = true;
          this.scheduleReacquire();
        },
        () => this.scheduleReacquire(),
      );
    }, 500);
    this.retry.unref();
  }

  /**
   * Whether this replica exports the gauges read from shared tables (fleet workers and tasks,
   * budget utilisation): exactly one live replica does, the holder of one more session lock, so
   * a sum over instances does not multiply them by the number of replicas. Another replica takes
   * over at its next collection once the holder is gone.
   */
  async exportsSharedState(): Promise<boolean> {
    if (this.sharedState || !this.client) return this.sharedState;
    this.sharedState = (await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SHARED_STATE_LOCK]).catch(() => undefined))?.rows[0]?.ok === true;
    return this.sharedState;
  }

  /** true (and held until unlockOther) when the replica `other` is gone. */
  async tryLockOther(other: string): Promise<boolean> {
    if (!this.client) throw unavailable();
    return (await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [OWNER_LOCK, other])).rows[0]?.ok === true;
  }

  async unlockOther(other: string): Promise<void> {
    await this.client?.query('SELECT pg_advisory_unlock($1, hashtext($2))', [OWNER_LOCK, other]).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }
}

export interface PgStores {
  db: Pg;
  owners: OwnerLock;
  projects: PgProjectStore;
  agents: PgAgentStore;
  runs: PgRunStore;
  fleet: PgFleetStore;
  budgets: PgBudgetStore;
  auth: PgAuthStore;
  analytics: PgAnalyticsStore;
  live: PgLiveStore;
  finance: PgFinanceStore;
}

export interface OpenedPostgres {
  stores: PgStores;
  instanceId: string;
  operatorToken: string;
  /** Where the database is, without its password (for messages and backend.json). */
  display: string;
  close(): Promise<void>;
}

/** postgres://user:***@host:port/db */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function badUrl(url: string, why: string): UserError {
  return new UserError(`cannot use the database ${redactUrl(url)}: ${why}`, [
    'sagewai-obs serve --database postgres://USER:PASSWORD@HOST:5432/DBNAME',
    'check that PostgreSQL runs and accepts connections there (pg_isready -h HOST -p PORT)',
    'leave out --database (and SAGEWAI_OBS_DATABASE_URL) to use the embedded SQLite ledger',
  ]);
}

/**
 * Connects, migrates, takes this replica's owner lock and its operator token. Every failure a user
 * can fix (a malformed or unreachable URL, a refused login, a database at a newer schema, an
 * instance id already in use) is a UserError: exit 2 with Try this.
 */
export async function openPostgres(o: { url: string; dataDir: string; instanceId?: string | undefined; poolSize?: number }): Promise<OpenedPostgres> {
  let parsed: URL;
  try {
    parsed = new URL(o.url);
  } catch {
    throw badUrl(o.url, 'not a URL');
  }
  if (!['postgres:', 'postgresql:'].includes(parsed.protocol)) throw badUrl(o.url, `the scheme must be postgres:// (not ${parsed.protocol}//)`);
  const config: pg.ClientConfig = { connectionString: o.url, types, connectionTimeoutMillis: 3000, keepAlive: true, application_name: 'sagewai-obs' };
  const probe = new pg.Client(config);
  probe.on('error', () => undefined);
  try {
    await probe.connect();
  } catch (err) {
    await probe.end().catch(() => undefined);
    throw badUrl(o.url, (err as Error).message || (err as { code?: string }).code || 'connection failed');
  }
  try {
    await migratePostgres(probe, `the PostgreSQL database ${redactUrl(o.url)}`);
  } finally {
    await probe.end().catch(() => undefined);
  }
  const instanceId = o.instanceId ?? crypto.randomUUID();
  const owners = new OwnerLock(instanceId, config);
  if (!(await owners.acquire())) {
    throw new UserError(`another running serve already uses the instance id ${instanceId} on this database`, ['give every replica its own id: sagewai-obs serve --database … --instance-id backend-2', 'or leave out --instance-id (a random one per process)']);
  }
  const pool = new pg.Pool({ ...config, max: o.poolSize ?? 10, idleTimeoutMillis: 30_000 } as pg.PoolConfig);
  // An idle client that loses its server (PostgreSQL restarted) emits here; the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Pg(pool);
  const stores: PgStores = {
    db,
    owners,
    projects: new PgProjectStore(db),
    agents: new PgAgentStore(db),
    runs: new PgRunStore(db, owners),
    fleet: new PgFleetStore(db),
    budgets: new PgBudgetStore(db),
    auth: new PgAuthStore(db),
    analytics: new PgAnalyticsStore(db),
    live: new PgLiveStore(db),
    finance: new PgFinanceStore(db),
  };
  let operatorToken: string;
  try {
    operatorToken = await operatorTokenFor(db, o.dataDir);
  } catch (err) {
    await owners.close();
    await pool.end().catch(() => undefined);
    throw err;
  }
  return {
    stores,
    instanceId,
    operatorToken,
    display: redactUrl(o.url),
    close: async () => {
      await owners.close();
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * The operator token: its hash in the database, the token in a 0600 file of the replica's data
 * dir. Replicas sharing a database each keep theirs (an operator token is never deleted here, so
 * one replica starting never invalidates another's).
 */
async function operatorTokenFor(db: Pg, dataDir: string): Promise<string> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, 'operator-token');
  let token: string | undefined;
  try {
    token = fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    token = undefined;
  }
  if (token && (await db.one("SELECT 1 FROM tokens WHERE token_hash = $1 AND kind = 'operator'", [sha256(token)]))) return token;
  token = `sgo_${newSecret()}`;
  await db.count("INSERT INTO tokens (id, token_hash, kind, project, name, created_at) VALUES ($1, $2, 'operator', NULL, 'operator', $3)", [newId('tok'), sha256(token), Date.now()]);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.chmodSync(file, 0o600);
  return token;
}
