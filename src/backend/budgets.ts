import type { Db, Prepare } from './store.js';
import { newId, statementCache } from './store.js';

/**
 * Budgets: project/team/user scopes, daily (UTC) and monthly (calendar, UTC) windows, actions
 * warn/throttle/stop. A call reserves its worst-case cost inside one SQLite transaction that also
 * reads the window's spend and every open reservation, so concurrent calls can never together
 * push spend past a stop cap; settle() replaces the reservation with the real ledger row. The
 * transaction is BEGIN IMMEDIATE, so this also holds across processes sharing one database
 * (test/budget-race.fault.test.ts). A window's spend is read from budget_spend (see store.ts), the
 * per-day totals the ledger's triggers keep, so a check costs the same with 100 or 10^6 calls in
 * its window.
 */
export type Scope = 'project' | 'team' | 'user';
export type Window = 'daily' | 'monthly';
export type Action = 'warn' | 'throttle' | 'stop';

export interface BudgetRow {
  id: string;
  project: string;
  scope: Scope;
  subject: string;
  window: Window;
  limit_nusd: number;
  action: Action;
  fallback_model: string | null;
  created_at: number;
}

export interface Subjects {
  project: string;
  user?: string | undefined;
  team?: string | undefined;
}

export function windowStart(window: Window, now: number): number {
  const d = new Date(now);
  return window === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function windowEnd(window: Window, now: number): number {
  const d = new Date(now);
  return window === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

export type ReserveResult =
  | { ok: true; reservationId: string; model: string; amountNusd: number; throttledBy: BudgetRow | undefined; warnings: BudgetRow[] }
  | { ok: false; budget: BudgetRow; spentNusd: number; retryAfterS: number };

export interface ThresholdCrossing {
  budget: BudgetRow;
  threshold: number;
  utilization: number;
}

const THRESHOLDS = [50, 80, 100];
const SUBJECT_COLUMN: Record<Scope, string> = { project: 'project', team: 'team', user: 'user_name' };

/** The SQLite budget store (areas/budgets.ts declares the interface a PostgreSQL store implements). */
export class Budgets {
  private readonly sumReserved: Record<Scope, (project: string, subject: string) => number>;

  private readonly sql: Prepare;

  constructor(private readonly db: Db, sql?: Prepare) {
    this.sql = sql ?? statementCache(db);
    // Reservations are the calls in flight (deleted at settle and at start-up), not a history.
    const mk = (scope: Scope) => {
      const r = this.sql<[string, string], { s: number | null }>(`SELECT SUM(amount_nusd) AS s FROM reservations WHERE project = ? AND ${SUBJECT_COLUMN[scope]} = ?`);
      return (p: string, s: string) => r.get(p, s)?.s ?? 0;
    };
    this.sumReserved = { project: mk('project'), team: mk('team'), user: mk('user') };
  }

  upsert(input: { project: string; scope: Scope; subject: string; window: Window; limit_nusd: number; action: Action; fallback_model: string | null }): BudgetRow {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO budgets (id, project, scope, subject, window, limit_nusd, action, fallback_model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (project, scope, subject, window) DO UPDATE SET limit_nusd = excluded.limit_nusd, action = excluded.action, fallback_model = excluded.fallback_model`,
      )
      .run(newId('bud'), input.project, input.scope, input.subject, input.window, input.limit_nusd, input.action, input.fallback_model, now);
    return this.sql<[string, string, string, string], BudgetRow>('SELECT * FROM budgets WHERE project = ? AND scope = ? AND subject = ? AND window = ?').get(input.project, input.scope, input.subject, input.window) as BudgetRow;
  }

  /** Removes one limit of a project (its threshold marks go with it); false when there is none. */
  delete(project: string, id: string): boolean {
    return this.db.transaction(() => {
      const n = this.sql('DELETE FROM budgets WHERE id = ? AND project = ?').run(id, project).changes;
      if (n > 0) this.sql('DELETE FROM budget_events WHERE budget_id = ?').run(id);
      return n > 0;
    })();
  }

  get(project: string, id: string): BudgetRow | undefined {
    return this.sql<[string, string], BudgetRow>('SELECT * FROM budgets WHERE id = ? AND project = ?').get(id, project);
  }

  list(project?: string): BudgetRow[] {
    return project ? this.sql<[string], BudgetRow>('SELECT * FROM budgets WHERE project = ? ORDER BY created_at').all(project) : this.sql<[], BudgetRow>('SELECT * FROM budgets ORDER BY project, created_at').all();
  }

  applicable(s: Subjects): BudgetRow[] {
    return this.sql<[string, string, string, string], BudgetRow>("SELECT * FROM budgets WHERE project = ? AND ((scope = 'project' AND subject = ?) OR (scope = 'team' AND subject = ?) OR (scope = 'user' AND subject = ?))")
      .all(s.project, s.project, s.team ?? '\u0000', s.user ?? '\u0000');
  }

  /** The ledger's spend in b's current window: SUM(cost_nusd) of its subject's rows with created_at ≥ the window start. */
  spentInWindow(b: BudgetRow, now = Date.now()): number {
    return this.sql<[string, string, string, number], { s: number | null }>('SELECT SUM(cost_nusd) AS s FROM budget_spend WHERE project = ? AND scope = ? AND subject = ? AND day_start >= ?').get(b.project, b.scope, b.subject, windowStart(b.window, now))?.s ?? 0;
  }

  spent(b: BudgetRow, now = Date.now()): { ledger: number; reserved: number } {
    return { ledger: this.spentInWindow(b, now), reserved: this.sumReserved[b.scope](b.project, b.subject) };
  }

  /**
   * Reserve the worst case for `model`; `worstCase(model)` prices max output tokens. Throttle
   * budgets that would be crossed switch the model to their fallback first; then any stop budget
   * that would be crossed denies the call. `inSameTransaction` (e.g. the run row insert) commits
   * together with the reservation.
   */
  reserve(s: Subjects, runId: string, model: string, worstCase: (model: string) => number, now = Date.now(), inSameTransaction?: (model: string) => void): ReserveResult {
    // BEGIN IMMEDIATE: the write lock is taken before the spend is read, so a second process on
    // the same database waits (busy_timeout) instead of failing to upgrade a stale read snapshot.
    return this.db.transaction((): ReserveResult => {
      const budgets = this.applicable(s);
      let chosen = model;
      let amount = worstCase(chosen);
      let throttledBy: BudgetRow | undefined;
      const spentOf = new Map<string, number>();
      const total = (b: BudgetRow): number => {
        let v = spentOf.get(b.id);
        if (v === undefined) {
          const sp = this.spent(b, now);
          v = sp.ledger + sp.reserved;
          spentOf.set(b.id, v);
        }
        return v;
      };
      for (const b of budgets) {
        if (b.action === 'throttle' && b.fallback_model && chosen !== b.fallback_model && total(b) + amount > b.limit_nusd) {
          chosen = b.fallback_model;
          amount = worstCase(chosen);
          throttledBy = b;
        }
      }
      for (const b of budgets) {
        if (b.action === 'stop' && total(b) + amount > b.limit_nusd) {
          return { ok: false, budget: b, spentNusd: total(b), retryAfterS: Math.max(1, Math.ceil((windowEnd(b.window, now) - now) / 1000)) };
        }
      }
      const warnings = budgets.filter((b) => b.action === 'warn' && total(b) + amount > b.limit_nusd);
      const id = newId('res');
      this.sql('INSERT INTO reservations (id, run_id, project, user_name, team, amount_nusd, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(id, runId, s.project, s.user ?? null, s.team ?? null, amount, now);
      inSameTransaction?.(chosen);
      return { ok: true, reservationId: id, model: chosen, amountNusd: amount, throttledBy, warnings };
    }).immediate();
  }

  /** Drops a reservation (call it in the same transaction as the ledger insert). */
  release(reservationId: string): void {
    this.sql('DELETE FROM reservations WHERE id = ?').run(reservationId);
  }

  /** After a settle: thresholds (50/80/100 %) crossed for the first time in this window. */
  crossings(s: Subjects, now = Date.now()): ThresholdCrossing[] {
    const out: ThresholdCrossing[] = [];
    for (const b of this.applicable(s)) {
      if (b.limit_nusd <= 0) continue;
      const util = this.spentInWindow(b, now) / b.limit_nusd;
      const ws = windowStart(b.window, now);
      for (const t of THRESHOLDS) {
        if (util * 100 >= t) {
          const r = this.sql('INSERT OR IGNORE INTO budget_events (budget_id, window_start, threshold) VALUES (?, ?, ?)').run(b.id, ws, t);
          if (r.changes > 0) out.push({ budget: b, threshold: t, utilization: util });
        }
      }
    }
    return out;
  }
}
