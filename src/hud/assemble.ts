/**
 * Builds the HUD model from what each source returned: pure, so every rule (trend from the
 * previous sample, tenant filter, down sources, sparkline history) is tested with plain data.
 */
import {
  KPI_DEFS,
  SPARKLINE_POINTS,
  computeTrend,
  type AgentNode,
  type AuditEvent,
  type FleetRow,
  type HudAlert,
  type HudModel,
  type Kpi,
  type KpiId,
  type Mission,
  type ModelEdge,
  type SourceId,
  type SourceStatus,
  type TenantNode,
  type TenantSpend,
} from './model.js';
import type { LiveSnapshot, MetricsSnapshot } from './sources.js';

export type SourceResult<T> = { ok: true; value: T } | { ok: false; reason: string };

export interface AssembleInput {
  now: Date;
  project: string | null;
  spendWindow: { from: Date; to: Date };
  metrics: SourceResult<MetricsSnapshot>;
  live: SourceResult<LiveSnapshot>;
  logs: SourceResult<AuditEvent[]>;
  /** vmalert's firing alerts; absent when the HUD knows no vmalert. */
  alerts?: SourceResult<HudAlert[]>;
  previous: HudModel | null;
  /** Events kept in the ticker. */
  eventLimit?: number;
}

function status(id: SourceId, r: SourceResult<unknown>, now: Date, previous: HudModel | null): SourceStatus {
  if (r.ok) return { state: 'ok', at: now.toISOString() };
  const prev = previous?.sources[id];
  const lastGoodAt = prev === undefined ? null : prev.state === 'ok' ? prev.at : prev.lastGoodAt;
  return { state: 'down', reason: r.reason, lastGoodAt };
}

const WORKER_STATES = ['online', 'busy', 'lost'] as const;

export function assembleModel(input: AssembleInput): HudModel {
  const { now, project, previous } = input;
  const keep = (p: string | null | undefined): boolean => project === null || p === project;
  const metrics = input.metrics.ok ? input.metrics.value : null;
  const live = input.live.ok ? input.live.value : null;
  const logs = input.logs.ok ? input.logs.value : null;

  // ── KPIs, trend against the previous sample taken with the same filter ──
  const values: Record<KpiId, number | null> = {
    requestRate: metrics?.requestRate ?? null,
    latencyP95: metrics?.latencyP95Seconds ?? null,
    errorRate: metrics?.errorRatio ?? null,
    spendToday: metrics?.spendTotalUsd ?? null,
    spendRatePerHour: metrics?.spendRateUsdPerHour ?? null,
    runsInFlight: live ? live.runs_in_flight.filter((r) => keep(r.project)).length : null,
    workersOnline: metrics?.workersByState.online ?? null,
    workersBusy: metrics?.workersByState.busy ?? null,
    workersLost: metrics?.workersByState.lost ?? null,
    budgetUtilizationMax: metrics?.budgetUtilizationMax ?? null,
  };
  const sameFilter = previous !== null && previous.project === project;
  const kpis: Kpi[] = KPI_DEFS.map((d) => {
    const prev = sameFilter ? (previous.kpis.find((k) => k.id === d.id)?.value ?? null) : null;
    const value = values[d.id];
    return { ...d, value, previous: prev, trend: computeTrend(value, prev) };
  });

  // ── graph: tenant → agent → model edges, tenant → pools ──
  // Built once with 1,000+ agents per refresh, so the edges are the model's own objects from the
  // start (no copies per stage); Map insertion order plus a stable sort keeps the output order.
  interface AgentAcc {
    edges: ModelEdge[];
    /** Only for agents with many models; a few are found faster by scanning `edges`. */
    byModel: Map<string, ModelEdge> | null;
    usdh: number | null;
  }
  interface TenantAcc {
    agents: Map<string, AgentAcc>;
    pools: Map<string, FleetRow>;
  }
  const tenants = new Map<string, TenantAcc>();
  let lastProject: string | undefined;
  let lastTenant: TenantAcc | undefined;
  const tenant = (p: string): TenantAcc => {
    if (p === lastProject && lastTenant) return lastTenant;
    let t = tenants.get(p);
    if (!t) tenants.set(p, (t = { agents: new Map(), pools: new Map() }));
    lastProject = p;
    lastTenant = t;
    return t;
  };
  const agent = (p: string, name: string): AgentAcc => {
    const t = tenant(p);
    let a = t.agents.get(name);
    if (!a) t.agents.set(name, (a = { edges: [], byModel: null, usdh: null }));
    return a;
  };
  const edge = (acc: AgentAcc, model: string): ModelEdge => {
    let e: ModelEdge | undefined;
    if (acc.byModel) e = acc.byModel.get(model);
    else for (const x of acc.edges) if (x.model === model) e = x;
    if (!e) {
      e = { model, callsPerSec: null };
      acc.edges.push(e);
      if (acc.byModel) acc.byModel.set(model, e);
      else if (acc.edges.length > 8) acc.byModel = new Map(acc.edges.map((x) => [x.model, x]));
    }
    return e;
  };
  if (live) {
    for (const a of live.agents) if (keep(a.project)) edge(agent(a.project, a.name), a.model);
  }
  if (metrics) {
    for (const c of metrics.callsByAgent) if (keep(c.project)) edge(agent(c.project, c.agent), c.model).callsPerSec = c.callsPerSec;
    for (const c of metrics.costRateByAgent) if (keep(c.project)) agent(c.project, c.agent).usdh = c.usdPerHour;
    for (const w of metrics.workersByPoolState) {
      if (!keep(w.project)) continue;
      const t = tenant(w.project);
      let row = t.pools.get(w.pool);
      if (!row) t.pools.set(w.pool, (row = { project: w.project, pool: w.pool, online: 0, busy: 0, lost: 0 }));
      if ((WORKER_STATES as readonly string[]).includes(w.state)) row[w.state as (typeof WORKER_STATES)[number]] += w.count;
    }
  }
  for (const s of metrics?.costByProject ?? []) if (keep(s.project)) tenant(s.project);

  const byRate = (a: { callsPerSec: number | null }, b: { callsPerSec: number | null }): number => (b.callsPerSec ?? -1) - (a.callsPerSec ?? -1);
  const graph: TenantNode[] = [];
  const fleet: FleetRow[] = [];
  for (const p of [...tenants.keys()].sort((a, b) => a.localeCompare(b))) {
    const t = tenants.get(p) as TenantAcc;
    const agents: AgentNode[] = [];
    for (const [name, acc] of t.agents) {
      const edges = acc.edges;
      const byEdge = (a: ModelEdge, b: ModelEdge): number => byRate(a, b) || a.model.localeCompare(b.model);
      // Two edges is the common case: one comparison does what a stable sort would.
      if (edges.length === 2) {
        if (byEdge(edges[0] as ModelEdge, edges[1] as ModelEdge) > 0) edges.reverse();
      } else if (edges.length > 2) edges.sort(byEdge);
      let calls: number | null = null;
      for (const e of edges) if (e.callsPerSec !== null) calls = (calls ?? 0) + e.callsPerSec;
      agents.push({ name, models: edges, callsPerSec: calls, usdPerHour: acc.usdh });
    }
    agents.sort((a, b) => byRate(a, b) || a.name.localeCompare(b.name));
    // Summed in the sorted order, as before: floating-point sums depend on the order.
    let tenantCalls: number | null = null;
    let tenantUsdh: number | null = null;
    for (const a of agents) {
      if (a.callsPerSec !== null) tenantCalls = (tenantCalls ?? 0) + a.callsPerSec;
      if (a.usdPerHour !== null) tenantUsdh = (tenantUsdh ?? 0) + a.usdPerHour;
    }
    const pools = [...t.pools.values()].sort((a, b) => a.pool.localeCompare(b.pool));
    fleet.push(...pools);
    graph.push({
      project: p,
      agents,
      pools: pools.map(({ pool, online, busy, lost }) => ({ pool, online, busy, lost })),
      callsPerSec: tenantCalls,
      usdPerHour: tenantUsdh,
    });
  }

  // ── missions in flight ──
  const missions: Mission[] = [];
  if (live) {
    for (const r of live.runs_in_flight) {
      if (keep(r.project)) missions.push({ kind: 'run', id: r.run_id, project: r.project, agent: r.agent, pool: null, model: r.model, workerId: null, elapsedMs: r.elapsed_ms, costUsd: r.cost_usd });
    }
    for (const t of live.tasks_in_flight) {
      if (keep(t.project)) missions.push({ kind: 'task', id: t.task_id, project: t.project, agent: null, pool: t.pool, model: null, workerId: t.worker_id, elapsedMs: t.elapsed_ms, costUsd: null });
    }
    missions.sort((a, b) => b.elapsedMs - a.elapsedMs || a.id.localeCompare(b.id));
  }

  // ── per-tenant spend, with the tenant's spend-rate series as its sparkline ──
  const spend: TenantSpend[] = [];
  if (metrics) {
    const series = new Map(metrics.spendRateSeries.map((s) => [s.project, s.points]));
    const rate = new Map(graph.map((g) => [g.project, g.usdPerHour]));
    for (const s of metrics.costByProject) {
      if (!keep(s.project)) continue;
      spend.push({ project: s.project, costUsd: s.costUsd, usdPerHour: rate.get(s.project) ?? null, series: (series.get(s.project) ?? []).slice(-SPARKLINE_POINTS) });
    }
    spend.sort((a, b) => b.costUsd - a.costUsd || a.project.localeCompare(b.project));
  }

  const events = logs ? logs.filter((e) => keep(e.project)).slice(0, input.eventLimit ?? 50) : [];

  const seen = new Set(previous?.tenants ?? []);
  for (const p of tenants.keys()) seen.add(p);
  for (const m of missions) seen.add(m.project);
  if (live) for (const w of live.workers) seen.add(w.project);

  return {
    generatedAt: now.toISOString(),
    project,
    tenants: [...seen].sort(),
    spendWindow: { from: input.spendWindow.from.toISOString(), to: input.spendWindow.to.toISOString() },
    kpis,
    graph,
    missions,
    fleet,
    spend,
    events,
    sources: {
      metrics: status('metrics', input.metrics, now, previous),
      live: status('live', input.live, now, previous),
      logs: status('logs', input.logs, now, previous),
    },
    // A tenant sees its own alerts and the pipeline ones (no project), never another tenant's.
    ...(input.alerts ? { alerts: input.alerts.ok ? input.alerts.value.filter((a) => a.project === null || keep(a.project)) : null } : {}),
  };
}
