import type { Attributes } from '@opentelemetry/api';
import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { audit } from '../audit.js';
import { windowEnd, windowStart, type BudgetRow, type Scope, type Subjects, type ThresholdCrossing } from '../budgets.js';
import { HttpError, notFound, validate } from '../http.js';
import { actor, bind, type Ctx, type RouteBinding } from '../routing.js';
import * as sc from '../semconv.js';
import type { Awaitable } from '../store.js';
import { iso, type Tenancy } from './projects.js';

/**
 * Budget limits (project/team/user × daily/monthly × warn/throttle/stop), their status, and the
 * utilisation gauge. The reservation a run takes is the runs area's (RunStore.start), because it
 * commits together with the run row.
 */
export interface BudgetStore {
  list(project?: string): Awaitable<BudgetRow[]>;
  get(project: string, id: string): Awaitable<BudgetRow | undefined>;
  upsert(input: Omit<BudgetRow, 'id' | 'created_at'>): Awaitable<BudgetRow>;
  /** false when the project has no limit with this id. */
  delete(project: string, id: string): Awaitable<boolean>;
  /** Ledger spend in b's current window (from the per-day totals) and the open reservations of its subject. */
  spent(b: BudgetRow, now?: number): Awaitable<{ ledger: number; reserved: number }>;
  /** Ledger spend only (the gauge). */
  spentInWindow(b: BudgetRow, now?: number): Awaitable<number>;
  /** Thresholds (50/80/100 %) crossed for the first time in the window; each reported once across replicas. */
  crossings(s: Subjects, now?: number): Awaitable<ThresholdCrossing[]>;
}

const usd = (nusd: number): number => nusd / 1e9;

export function budgetJson(b: BudgetRow): z.infer<typeof res.budgetLimit> {
  return { id: b.id, project: b.project, scope: b.scope, subject: b.subject, window: b.window, limit_usd: usd(b.limit_nusd), action: b.action, fallback_model: b.fallback_model, created_at: iso(b.created_at) as string };
}

export const budgetAttrs = (b: BudgetRow): Record<string, string> => ({ [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: b.scope, [sc.ATTR_SAGEWAI_BUDGET_SUBJECT]: b.subject, [sc.ATTR_SAGEWAI_BUDGET_WINDOW]: b.window, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: b.action });

export class BudgetLimits {
  constructor(readonly store: BudgetStore) {}

  async status(project: string | undefined, scope?: Scope, subject?: string): Promise<Array<z.infer<typeof res.budgetStatus>>> {
    const now = Date.now();
    const out: Array<z.infer<typeof res.budgetStatus>> = [];
    for (const b of await this.store.list(project)) {
      if ((scope && b.scope !== scope) || (subject && b.subject !== subject)) continue;
      const s = await this.store.spent(b, now);
      const util = b.limit_nusd > 0 ? s.ledger / b.limit_nusd : 0;
      out.push({ ...budgetJson(b), spent_usd: usd(s.ledger), reserved_usd: usd(s.reserved), utilization: util, window_start: new Date(windowStart(b.window, now)).toISOString(), resets_at: new Date(windowEnd(b.window, now)).toISOString(), state: util >= 1 ? 'exceeded' : util >= 0.8 ? 'warning' : 'ok' });
    }
    return out;
  }

  /** sagewai.budget.utilization: ledger spend ÷ limit per limit. */
  async gaugeRows(): Promise<Array<{ attrs: Attributes; value: number }>> {
    const rows: Array<{ attrs: Attributes; value: number }> = [];
    for (const b of await this.store.list()) {
      const value = b.limit_nusd > 0 ? (await this.store.spentInWindow(b)) / b.limit_nusd : 0;
      rows.push({ attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: b.project, ...budgetAttrs(b) }, value });
    }
    return rows;
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    const ops = operations;
    const status = async (ctx: Ctx) => {
      const scope = ctx.params.scope;
      if (scope !== undefined && !['project', 'team', 'user'].includes(scope)) throw notFound(`budget scope ${scope}`);
      return { status: 200 as const, body: { items: await this.status(await tenancy.optional(ctx), scope as Scope | undefined, ctx.params.subject) } };
    };
    return [
      bind(ops.listBudgets, async (ctx) => ({ status: 200, body: { items: (await this.store.list(await tenancy.optional(ctx))).map(budgetJson) } })),
      bind(ops.setBudget, async (ctx) => {
        const project = await tenancy.required(ctx);
        const input = validate(ops.setBudget.body, await ctx.body());
        // budgetBody already refused a team or user budget without a subject and a throttle
        // without fallback_model; what the body alone cannot say is the project's own slug.
        const subject = input.subject ?? project;
        if (input.scope === 'project' && subject !== project) throw new HttpError(422, 'validation_failed', "a project budget's subject is its own project slug", { issues: [{ path: 'subject', message: 'must equal X-Project-ID', code: 'custom' }] });
        const row = await this.store.upsert({ project, scope: input.scope, subject, window: input.window, limit_nusd: Math.round(input.limit_usd * 1e9), action: input.action, fallback_model: input.fallback_model ?? null });
        return { status: 201, body: budgetJson(row) };
      }),
      bind(ops.deleteBudget, async (ctx) => {
        const project = await tenancy.required(ctx);
        const id = ctx.params.id as string;
        const b = await this.store.get(project, id);
        if (!b || !(await this.store.delete(project, id))) throw notFound(`budget limit ${id}`);
        audit('budget.deleted', project, actor(ctx), { 'sagewai.budget.id': id, ...budgetAttrs(b) });
        return { status: 204 };
      }),
      bind(ops.budgetStatus, status),
      bind(ops.budgetStatusByScope, status),
      bind(ops.budgetStatusBySubject, status),
    ];
  }
}
