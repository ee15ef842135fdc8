/**
 * The HUD's real sources: catalog queries through VictoriaMetrics, the backend's live state,
 * audit events from VictoriaLogs. The HUD writes no query of its own: every expression comes
 * from src/queries with the tenant filter and window filled in by `renderExpr`.
 */
import { BackendClient } from '../clients/backend.js';
import { VictoriaLogsClient, type LogRecord } from '../clients/victoria-logs.js';
import { VictoriaMetricsClient, type InstantSample } from '../clients/victoria-metrics.js';
import { VmalertClient } from '../clients/vmalert.js';
import { getEntry, renderExpr } from '../queries/index.js';
import { fetchAlerts } from '../report/alerts.js';
import { rangeOf } from '../report/cost.js';
import type { AuditEvent, HudAlert } from './model.js';
import { SPARKLINE_POINTS } from './model.js';
import type { HudQuery, HudSources, LiveSnapshot, MetricsSnapshot } from './sources.js';

export interface RealSourceOptions {
  vmUrl: string;
  vlUrl: string;
  backendUrl: string;
  token?: string | undefined;
  /** vmalert, for the firing alerts line; none: the HUD shows no alerts line. */
  vmalertUrl?: string | undefined;
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
  /** Step of the spend-rate sparkline (default 30 s; SPARKLINE_POINTS steps are shown). */
  sparklineStepSeconds?: number;
}

const PROJECT = 'sagewai_project_id';


function scalar(samples: InstantSample[]): number | null {
  const v = samples[0]?.value;
  return v === undefined || !Number.isFinite(v) ? null : v;
}

const finite = (s: InstantSample): boolean => Number.isFinite(s.value);

/** Catalog entry → rendered expression for this refresh. */
function expr(id: string, q: HudQuery, range = '1m'): string {
  return renderExpr(getEntry(id), { project: q.project ?? undefined, range });
}

export function metricsFromVictoria(vm: VictoriaMetricsClient, stepSeconds = 30): HudSources['metrics'] {
  return async (q) => {
    const time = q.now;
    // The same window → `$__range` rule as `cost`, so "spend today" and `cost --from <midnight>` agree.
    const range = rangeOf(q.spendWindow);
    const at = (id: string, r?: string) => vm.query(expr(id, q, r), { time });
    const [reqRate, p95, errors, spend, spendRate, budgetMax, workers, byProject, calls, costRate, pools, sparkRange] = await Promise.all([
      at('kpi.request_rate'),
      at('kpi.latency_p95'),
      at('kpi.error_rate'),
      at('kpi.spend_total', range),
      at('kpi.spend_rate_per_hour'),
      at('kpi.budget_utilization_max'),
      at('kpi.workers_by_state'),
      at('cost.by_project', range),
      at('traffic.calls_by_agent'),
      at('cost.rate_by_agent'),
      at('fleet.workers_by_pool_state'),
      vm.queryRange(expr('cost.rate_by_agent', q), {
        start: new Date(time.getTime() - (SPARKLINE_POINTS - 1) * stepSeconds * 1000),
        end: time,
        step: `${stepSeconds}s`,
      }),
    ]);
    const state = (name: string): number | null => {
      const s = workers.find((w) => w.metric.sagewai_fleet_worker_state === name);
      return s && Number.isFinite(s.value) ? s.value : null;
    };
    // Sum the per-agent spend-rate series into one series per tenant, aligned on timestamps.
    const perTenant = new Map<string, Map<number, number>>();
    for (const s of sparkRange) {
      const p = s.metric[PROJECT];
      if (!p) continue;
      let m = perTenant.get(p);
      if (!m) perTenant.set(p, (m = new Map()));
      for (const v of s.values) if (Number.isFinite(v.value)) m.set(v.timestamp, (m.get(v.timestamp) ?? 0) + v.value);
    }
    const workerTotalsKnown = workers.length > 0;
    return {
      requestRate: scalar(reqRate),
      latencyP95Seconds: scalar(p95),
      errorRatio: scalar(errors),
      spendTotalUsd: scalar(spend),
      spendRateUsdPerHour: scalar(spendRate),
      budgetUtilizationMax: scalar(budgetMax),
      // With worker series present, a state without a series has no workers in it.
      workersByState: {
        online: state('online') ?? (workerTotalsKnown ? 0 : null),
        busy: state('busy') ?? (workerTotalsKnown ? 0 : null),
        lost: state('lost') ?? (workerTotalsKnown ? 0 : null),
      },
      costByProject: byProject.filter(finite).flatMap((s) => (s.metric[PROJECT] ? [{ project: s.metric[PROJECT], costUsd: s.value }] : [])),
      callsByAgent: calls.filter(finite).flatMap((s) => {
        const project = s.metric[PROJECT];
        const agent = s.metric.sagewai_agent_name;
        const model = s.metric.gen_ai_request_model;
        return project && agent && model ? [{ project, agent, model, callsPerSec: s.value }] : [];
      }),
      costRateByAgent: costRate.filter(finite).flatMap((s) => {
        const project = s.metric[PROJECT];
        const agent = s.metric.sagewai_agent_name;
        return project && agent ? [{ project, agent, usdPerHour: s.value }] : [];
      }),
      workersByPoolState: pools.filter(finite).flatMap((s) => {
        const project = s.metric[PROJECT];
        const pool = s.metric.sagewai_fleet_pool;
        const st = s.metric.sagewai_fleet_worker_state;
        return project && pool && st ? [{ project, pool, state: st, count: s.value }] : [];
      }),
      spendRateSeries: [...perTenant.entries()].map(([project, m]) => ({
        project,
        points: [...m.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v),
      })),
    } satisfies MetricsSnapshot;
  };
}

export function liveFromBackend(backend: BackendClient): HudSources['live'] {
  return async (q): Promise<LiveSnapshot> => backend.live(q.project ?? undefined);
}

export function toAuditEvent(r: LogRecord): AuditEvent | null {
  const name = r['event.name'] ?? r._msg;
  if (!name) return null;
  const detail = [r['sagewai.agent.name'], r['gen_ai.request.model'], r['sagewai.fleet.pool'], r['sagewai.cost.usd'] ? `$${Number(r['sagewai.cost.usd']).toFixed(4)}` : undefined]
    .filter((x): x is string => typeof x === 'string' && x.length > 0)
    .join(' ');
  return { time: r._time ?? '', name, project: r['sagewai.project_id'] || null, actor: r['sagewai.actor'] || null, detail: detail || null };
}

export function eventsFromVictoriaLogs(vl: VictoriaLogsClient, lookbackMs = 60 * 60 * 1000): HudSources['events'] {
  return async (q) => {
    const records = await vl.query(expr('logs.audit_events', q), { start: new Date(q.now.getTime() - lookbackMs), end: q.now, limit: q.limit });
    const events = records.map(toAuditEvent).filter((e): e is AuditEvent => e !== null);
    events.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    return events.slice(0, q.limit);
  };
}

export function alertsFromVmalert(vmalert: VmalertClient): NonNullable<HudSources['alerts']> {
  return async (q): Promise<HudAlert[]> =>
    (await fetchAlerts(vmalert, { project: q.project ?? undefined, state: 'firing' })).alerts.map((a) => ({ name: a.name, severity: a.severity, project: a.project, summary: a.summary, since: a.since }));
}

export function createRealSources(opts: RealSourceOptions): HudSources {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const vm = new VictoriaMetricsClient(opts.vmUrl, { timeoutMs });
  const vl = new VictoriaLogsClient(opts.vlUrl, { timeoutMs });
  const backend = new BackendClient({ baseUrl: opts.backendUrl, token: opts.token, timeoutMs });
  return {
    metrics: metricsFromVictoria(vm, opts.sparklineStepSeconds),
    live: liveFromBackend(backend),
    events: eventsFromVictoriaLogs(vl),
    ...(opts.vmalertUrl ? { alerts: alertsFromVmalert(new VmalertClient(opts.vmalertUrl, { timeoutMs })) } : {}),
    close: () => backend.close(),
  };
}
