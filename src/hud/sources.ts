/**
 * What the HUD reads, as plain data. `HudSources` is implemented for real in
 * `real-sources.ts` (catalog queries through VictoriaMetrics, the backend's live endpoint,
 * audit events from VictoriaLogs); tests implement it with plain objects.
 */
import type { LiveState } from '../contract/index.js';
import type { AuditEvent, HudAlert } from './model.js';

export interface HudQuery {
  /** Tenant filter; null means all tenants. */
  project: string | null;
  /** Evaluation time of every instant query. */
  now: Date;
  /** Window of "spend today": start of the UTC day → now. */
  spendWindow: { from: Date; to: Date };
  signal?: AbortSignal | undefined;
}

/** Numbers from VictoriaMetrics, each computed by a catalog query. null: no series. */
export interface MetricsSnapshot {
  requestRate: number | null;
  latencyP95Seconds: number | null;
  errorRatio: number | null;
  spendTotalUsd: number | null;
  spendRateUsdPerHour: number | null;
  budgetUtilizationMax: number | null;
  workersByState: { online: number | null; busy: number | null; lost: number | null };
  /** Spend per tenant over the spend window (the same figure `cost --by project` gives). */
  costByProject: Array<{ project: string; costUsd: number }>;
  /** LLM calls per second per tenant, agent and model. */
  callsByAgent: Array<{ project: string; agent: string; model: string; callsPerSec: number }>;
  /** Spend rate per tenant and agent, USD per hour. */
  costRateByAgent: Array<{ project: string; agent: string; usdPerHour: number }>;
  /** Spend rate per tenant (USD/h), oldest point first: the sparkline. */
  spendRateSeries: Array<{ project: string; points: number[] }>;
  /** Workers per tenant, pool and state. */
  workersByPoolState: Array<{ project: string; pool: string; state: string; count: number }>;
}

/** The backend's `GET /api/v1/live` answer: the contract's one definition (src/contract/responses.ts). */
export type LiveSnapshot = LiveState;

export interface HudSources {
  metrics(q: HudQuery): Promise<MetricsSnapshot>;
  live(q: HudQuery): Promise<LiveSnapshot>;
  /** Audit events, newest first. */
  events(q: HudQuery & { limit: number }): Promise<AuditEvent[]>;
  /** Firing alerts visible under the tenant filter; absent when no vmalert is known. */
  alerts?(q: HudQuery): Promise<HudAlert[]>;
  close?(): Promise<void>;
}
