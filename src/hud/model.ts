/**
 * The HUD's data model: everything one frame shows, as plain data. Built by `assembleModel`
 * from what the sources returned; drawn by src/tui; printed as-is by `hud --json`.
 * Nothing here is invented: a number the sources did not give is `null`, and a source that
 * failed is reported with its reason and the last time it answered.
 */

export type SourceId = 'metrics' | 'live' | 'logs';

export type SourceStatus =
  | { state: 'ok'; at: string }
  | { state: 'down'; reason: string; lastGoodAt: string | null };

export type Trend = 'up' | 'down' | 'flat' | 'none';

export type KpiId =
  | 'requestRate'
  | 'latencyP95'
  | 'errorRate'
  | 'spendToday'
  | 'spendRatePerHour'
  | 'runsInFlight'
  | 'workersOnline'
  | 'workersBusy'
  | 'workersLost'
  | 'budgetUtilizationMax';

export type KpiUnit = 'req/s' | 'seconds' | 'ratio' | 'usd' | 'usd/h' | 'count';

export interface Kpi {
  id: KpiId;
  label: string;
  unit: KpiUnit;
  /** null when the source did not answer or had no series. */
  value: number | null;
  /** The value of the previous sample (same tenant filter), for the trend. */
  previous: number | null;
  trend: Trend;
  source: SourceId;
}

export interface ModelEdge {
  model: string;
  /** LLM calls per second from the agent to this model; null when metrics gave no series. */
  callsPerSec: number | null;
}

export interface AgentNode {
  name: string;
  /** sum of the agent's model edges */
  callsPerSec: number | null;
  /** the agent's spend rate, USD per hour (the catalog gives it per agent, not per model) */
  usdPerHour: number | null;
  models: ModelEdge[];
}

export interface PoolNode {
  pool: string;
  online: number;
  busy: number;
  lost: number;
}

export interface TenantNode {
  project: string;
  callsPerSec: number | null;
  usdPerHour: number | null;
  agents: AgentNode[];
  pools: PoolNode[];
}

export interface Mission {
  kind: 'run' | 'task';
  id: string;
  project: string;
  /** agent name for runs; pool for tasks */
  agent: string | null;
  pool: string | null;
  model: string | null;
  workerId: string | null;
  elapsedMs: number;
  /** cost so far in USD (runs); null for tasks or when unknown. */
  costUsd: number | null;
}

export interface FleetRow {
  project: string;
  pool: string;
  online: number;
  busy: number;
  lost: number;
}

export interface TenantSpend {
  project: string;
  /** spend over the spend window (UTC day so far) */
  costUsd: number;
  /** current spend rate, USD per hour; null when unknown */
  usdPerHour: number | null;
  /** spend-rate (USD/h) samples, oldest first, for the sparkline */
  series: number[];
}

export interface AuditEvent {
  time: string;
  name: string;
  project: string | null;
  actor: string | null;
  detail: string | null;
}

/** A firing alert from vmalert (rules generated from the catalog; docs/alerts.md). */
export interface HudAlert {
  name: string;
  severity: string;
  /** null for pipeline alerts, which belong to no tenant. */
  project: string | null;
  summary: string;
  /** When the condition started to hold (ISO time). */
  since: string;
}

export interface HudModel {
  generatedAt: string;
  /** The tenant filter the sources were queried with (null: all tenants). */
  project: string | null;
  /** Every tenant seen so far, sorted, for the tenant picker. */
  tenants: string[];
  spendWindow: { from: string; to: string };
  kpis: Kpi[];
  graph: TenantNode[];
  missions: Mission[];
  fleet: FleetRow[];
  spend: TenantSpend[];
  events: AuditEvent[];
  sources: Record<SourceId, SourceStatus>;
  /**
   * Firing alerts under the tenant filter (a tenant sees its own and the pipeline ones). Absent
   * when the HUD knows no vmalert; null when vmalert did not answer.
   */
  alerts?: HudAlert[] | null;
}

export const KPI_DEFS: ReadonlyArray<{ id: KpiId; label: string; unit: KpiUnit; source: SourceId }> = [
  { id: 'requestRate', label: 'requests', unit: 'req/s', source: 'metrics' },
  { id: 'latencyP95', label: 'p95', unit: 'seconds', source: 'metrics' },
  { id: 'errorRate', label: 'errors', unit: 'ratio', source: 'metrics' },
  { id: 'spendToday', label: 'spend today', unit: 'usd', source: 'metrics' },
  { id: 'spendRatePerHour', label: 'spend rate', unit: 'usd/h', source: 'metrics' },
  { id: 'runsInFlight', label: 'runs in flight', unit: 'count', source: 'live' },
  { id: 'workersOnline', label: 'online', unit: 'count', source: 'metrics' },
  { id: 'workersBusy', label: 'busy', unit: 'count', source: 'metrics' },
  { id: 'workersLost', label: 'lost', unit: 'count', source: 'metrics' },
  { id: 'budgetUtilizationMax', label: 'max budget', unit: 'ratio', source: 'metrics' },
];

/** Points in a tenant's spend sparkline. */
export const SPARKLINE_POINTS = 30;

/**
 * Direction of change between two samples. Differences within `relTolerance` of the larger
 * magnitude (or exactly equal values) are "flat"; a missing side gives "none".
 */
export function computeTrend(current: number | null, previous: number | null, relTolerance = 0.01): Trend {
  if (current === null || previous === null || !Number.isFinite(current) || !Number.isFinite(previous)) return 'none';
  const diff = current - previous;
  const scale = Math.max(Math.abs(current), Math.abs(previous));
  if (diff === 0 || Math.abs(diff) <= scale * relTolerance) return 'flat';
  return diff > 0 ? 'up' : 'down';
}

export function emptyModel(now: Date, project: string | null = null): HudModel {
  const at = now.toISOString();
  const down: SourceStatus = { state: 'down', reason: 'not queried yet', lastGoodAt: null };
  return {
    generatedAt: at,
    project,
    tenants: [],
    spendWindow: { from: startOfUtcDay(now).toISOString(), to: at },
    kpis: KPI_DEFS.map((d) => ({ ...d, value: null, previous: null, trend: 'none' as const })),
    graph: [],
    missions: [],
    fleet: [],
    spend: [],
    events: [],
    sources: { metrics: down, live: down, logs: down },
  };
}

export function startOfUtcDay(d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/**
 * The model as seen under a tenant filter. When the model was queried for exactly this filter it
 * is returned unchanged. Otherwise per-tenant lists are filtered here at once, and numbers that
 * cannot be split by tenant after the fact (the KPIs) become null until the sources are queried
 * with the new filter — never a global figure shown under a tenant's name.
 */
export function filterModel(model: HudModel, project: string | null): HudModel {
  if (project === model.project) return model;
  const keep = (p: string | null): boolean => project === null || p === project;
  const kpis = model.kpis.map((k) => ({ ...k, value: null, previous: null, trend: 'none' as const }));
  return {
    ...model,
    project,
    kpis,
    graph: model.graph.filter((t) => keep(t.project)),
    missions: model.missions.filter((m) => keep(m.project)),
    fleet: model.fleet.filter((f) => keep(f.project)),
    spend: model.spend.filter((s) => keep(s.project)),
    events: model.events.filter((e) => keep(e.project)),
    ...(model.alerts === undefined ? {} : { alerts: model.alerts === null ? null : model.alerts.filter((a) => a.project === null || keep(a.project)) }),
  };
}

/** The next tenant filter when cycling: all → first tenant → … → last tenant → all. */
export function nextTenantFilter(tenants: readonly string[], current: string | null): string | null {
  if (tenants.length === 0) return null;
  if (current === null) return tenants[0] ?? null;
  const i = tenants.indexOf(current);
  if (i < 0) return tenants[0] ?? null;
  return i + 1 < tenants.length ? (tenants[i + 1] ?? null) : null;
}
