import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import type { TOKEN_TYPES } from '../../contract/responses.js';
import { HttpError, timeParam } from '../http.js';
import { bind, queryOf, type RouteBinding } from '../routing.js';
import type { Awaitable, Prepare } from '../store.js';
import type { Tenancy } from './projects.js';

/** Cost totals from the ledger (the record), grouped on request by the keys the contract's costsQuery lists. */
type GroupKey = NonNullable<z.infer<typeof operations.costs.query>['group_by']>[number];

export interface CostRow {
  /** The grouping columns asked for (project, model, agent, provider). */
  keys: Record<string, string | null>;
  cost: number;
  c_in: number;
  c_cached: number;
  c_out: number;
  c_reason: number;
  input: number;
  cached: number;
  output: number;
  reasoning: number;
  calls: number;
  unpriced: number;
}

export interface AnalyticsStore {
  /** Ledger sums for created_at in [from, to), grouped by `keys`, largest cost first. */
  costRows(f: { project?: string | undefined; from: number; to: number; keys: Array<Exclude<GroupKey, 'token_type'>> }): Awaitable<CostRow[]>;
}

export class SqliteAnalyticsStore implements AnalyticsStore {
  constructor(private readonly sql: Prepare) {}
  costRows(f: { project?: string | undefined; from: number; to: number; keys: Array<Exclude<GroupKey, 'token_type'>> }): CostRow[] {
    // Column names come from the fixed list above, never from the request text.
    const sel = f.keys.map((k) => `${k} AS ${k}`);
    const where = ['created_at >= ?', 'created_at < ?'];
    const args: unknown[] = [f.from, f.to];
    if (f.project) {
      where.push('project = ?');
      args.push(f.project);
    }
    const sql = `SELECT ${[...sel, 'SUM(cost_nusd) AS cost', 'SUM(input_cost_nusd) AS c_in', 'SUM(cached_cost_nusd) AS c_cached', 'SUM(output_cost_nusd) AS c_out', 'SUM(reasoning_cost_nusd) AS c_reason', 'SUM(input_tokens) AS input', 'SUM(cached_input_tokens) AS cached', 'SUM(output_tokens) AS output', 'SUM(reasoning_tokens) AS reasoning', 'COUNT(*) AS calls', 'SUM(priced = 0) AS unpriced'].join(', ')} FROM ledger WHERE ${where.join(' AND ')}${f.keys.length ? ` GROUP BY ${f.keys.join(', ')} ORDER BY cost DESC` : ''}`;
    type Row = Record<string, string | number | null>;
    return (this.sql(sql).all(...args) as Row[]).map((r) => ({
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

const usd = (nusd: number): number => nusd / 1e9;
type CostReport = z.infer<typeof res.costReport>;

export class Analytics {
  constructor(readonly store: AnalyticsStore) {}

  async costs(f: { project?: string | undefined; from: number; to: number; groupBy: GroupKey[] }): Promise<CostReport> {
    const keys = f.groupBy.filter((g): g is Exclude<GroupKey, 'token_type'> => g !== 'token_type');
    const byType = f.groupBy.includes('token_type');
    const groups: CostReport['groups'] = [];
    const total = { cost_usd: 0, cost_nusd: 0, calls: 0, unpriced_calls: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0, reasoning_tokens: 0 };
    for (const r of await this.store.costRows({ project: f.project, from: f.from, to: f.to, keys })) {
      if (r.calls === 0) continue;
      const base = r.keys as Record<string, string>;
      const common = { calls: r.calls, unpriced_calls: r.unpriced };
      if (byType) {
        const byType: Array<[(typeof TOKEN_TYPES)[number], number, number]> = [
          ['input', r.c_in, r.input],
          ['cached_input', r.c_cached, r.cached],
          ['output', r.c_out, r.output],
          ['reasoning', r.c_reason, r.reasoning],
        ];
        for (const [type, cost, tok] of byType) {
          const only = (t: typeof type): number => (type === t ? tok : 0);
          groups.push({ ...base, token_type: type, cost_usd: usd(cost), cost_nusd: cost, input_tokens: only('input'), cached_input_tokens: only('cached_input'), output_tokens: only('output'), reasoning_tokens: only('reasoning'), ...common });
        }
      } else {
        groups.push({ ...base, cost_usd: usd(r.cost), cost_nusd: r.cost, input_tokens: r.input, cached_input_tokens: r.cached, output_tokens: r.output, reasoning_tokens: r.reasoning, ...common });
      }
      total.cost_nusd += r.cost;
      total.calls += r.calls;
      total.unpriced_calls += r.unpriced;
      total.input_tokens += r.input;
      total.cached_input_tokens += r.cached;
      total.output_tokens += r.output;
      total.reasoning_tokens += r.reasoning;
    }
    total.cost_usd = usd(total.cost_nusd);
    return { from: new Date(f.from).toISOString(), to: new Date(f.to).toISOString(), currency: 'USD', group_by: f.groupBy, groups, total };
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    return [
      bind(operations.costs, async (ctx) => {
        const q = queryOf(operations.costs, ctx);
        const from = timeParam(q.from ?? null, 0, 'from');
        const to = timeParam(q.to ?? null, Date.now() + 1, 'to');
        if (to < from) throw new HttpError(400, 'invalid_query', '`to` is before `from`');
        return { status: 200, body: await this.costs({ project: await tenancy.optional(ctx), from, to, groupBy: [...new Set(q.group_by ?? [])] }) };
      }),
    ];
  }
}
