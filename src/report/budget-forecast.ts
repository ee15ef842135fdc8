import type { BudgetStatus } from '../clients/backend.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { describeCause } from '../errors.js';
import { getEntry, renderExpr } from '../queries/index.js';

/**
 * `budget status`'s forecast: where each budget ends its window at the current spend rate, and
 * when it runs out. Both numbers come from the catalog entries the burn alert reads
 * (budget.projected_utilization, budget.utilization_slope), so the forecast and the alert agree.
 */

/** The slope window: long enough to smooth bursts, short enough to follow a change of pace. */
export const FORECAST_RATE_INTERVAL = '30m';

export interface BudgetForecast {
  /** Spend at the end of the window at the current rate; null when VictoriaMetrics has no series for this budget. */
  projected_spend_usd: number | null;
  projected_utilization: number | null;
  /** Spend rate in USD per hour (from the utilisation slope × the limit). */
  burn_usd_per_hour: number | null;
  /** When the cap is reached at this rate (ISO time); null when it is not reached before the window resets. */
  exhausts_at: string | null;
}

export type ForecastedBudget = BudgetStatus & { forecast: BudgetForecast };

const key = (l: Record<string, string | undefined>): string => [l.sagewai_project_id, l.sagewai_budget_scope, l.sagewai_budget_subject, l.sagewai_budget_window].join('\u0000');

/** Pure: one budget's forecast from its projected utilisation and slope (per second). */
export function forecastFor(b: BudgetStatus, m: { projected?: number | undefined; slopePerSecond?: number | undefined }, now: number): BudgetForecast {
  const projected = m.projected !== undefined && Number.isFinite(m.projected) ? m.projected : null;
  const slope = m.slopePerSecond !== undefined && Number.isFinite(m.slopePerSecond) ? Math.max(0, m.slopePerSecond) : null;
  let exhaustsAt: string | null = null;
  if (b.utilization >= 1) exhaustsAt = new Date(now).toISOString();
  else if (slope !== null && slope > 0) {
    const at = now + ((1 - b.utilization) / slope) * 1000;
    if (at < Date.parse(b.resets_at)) exhaustsAt = new Date(Math.ceil(at / 1000) * 1000).toISOString();
  }
  return {
    projected_spend_usd: projected === null ? null : Math.round(projected * b.limit_usd * 1e6) / 1e6,
    projected_utilization: projected,
    burn_usd_per_hour: slope === null ? null : Math.round(slope * b.limit_usd * 3600 * 1e6) / 1e6,
    exhausts_at: exhaustsAt,
  };
}

/** Adds a forecast to each budget; when VictoriaMetrics cannot answer, forecasts are null and `warning` says why. */
export async function forecastBudgets(vm: VictoriaMetricsClient, items: readonly BudgetStatus[], options: { project?: string | undefined; now?: number } = {}): Promise<{ items: ForecastedBudget[]; warning?: string }> {
  const now = options.now ?? Date.now();
  const render = { project: options.project, range: '1h', rateInterval: FORECAST_RATE_INTERVAL };
  let projected = new Map<string, number>();
  let slope = new Map<string, number>();
  let warning: string | undefined;
  if (items.length > 0) {
    try {
      const [p, s] = await Promise.all([vm.query(renderExpr(getEntry('budget.projected_utilization'), render)), vm.query(renderExpr(getEntry('budget.utilization_slope'), render))]);
      projected = new Map(p.map((x) => [key(x.metric), x.value]));
      slope = new Map(s.map((x) => [key(x.metric), x.value]));
    } catch (err) {
      warning = `no forecast: ${describeCause(err)}`;
    }
  }
  return {
    items: items.map((b) => {
      const k = key({ sagewai_project_id: b.project, sagewai_budget_scope: b.scope, sagewai_budget_subject: b.subject, sagewai_budget_window: b.window });
      return { ...b, forecast: forecastFor(b, { projected: projected.get(k), slopePerSecond: slope.get(k) }, now) };
    }),
    ...(warning ? { warning } : {}),
  };
}
