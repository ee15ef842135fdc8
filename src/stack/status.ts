import path from 'node:path';
import { COMPONENTS } from './binaries.js';
import { probe, vmForceFlush } from './health.js';
import { healthUrl } from './native.js';
import { isOurProcess } from './process.js';
import { readStackRecord, type StackRecord } from './state.js';
import type { ComponentName } from './versions.js';
import { CLUSTER_ROLES, type ClusterRole } from './cluster.js';
import { isStartedBackend, readStartedBackend } from '../backend/background.js';

export interface ComponentStatus {
  /** A default component, or (cluster profile) one of its own processes. */
  component: ComponentName | ClusterRole;
  /** null under docker, where compose owns the process. */
  pid: number | null;
  processAlive: boolean | null;
  healthUrl: string;
  healthy: boolean;
  detail?: string;
}

export interface ScrapeStatus {
  /** The scrape job of VictoriaMetrics that reads the collector's prometheus exporter. */
  job: 'otel-collector';
  up: boolean;
  lastError?: string;
}

export interface StackStatus {
  running: boolean;
  stateDir: string;
  runtime: StackRecord['runtime'] | null;
  endpoints: StackRecord['endpoints'] | null;
  components: ComponentStatus[];
  /** `up --profile` of the running stack (null when none runs). */
  profile: 'default' | 'cluster' | null;
  collectorScrape: ScrapeStatus | null;
  /** Every component healthy and VictoriaMetrics scraping the collector. */
  healthy: boolean;
  /** The backend run-example started in this state dir and left running (`down` stops it); not part of `healthy`. */
  backend: StartedBackendStatus | null;
}

export interface StartedBackendStatus {
  url: string;
  pid: number;
  logFile: string;
  processAlive: boolean;
  /** Its /healthz answers. */
  healthy: boolean;
  detail?: string;
}

async function startedBackendStatus(stateDir: string): Promise<StartedBackendStatus | null> {
  const r = readStartedBackend(stateDir);
  if (!r) return null;
  const processAlive = isStartedBackend(r);
  const p = processAlive ? await probe(`${r.url}/healthz`) : { ok: false, error: 'process not running' };
  return { url: r.url, pid: r.pid, logFile: r.logFile, processAlive, healthy: p.ok, ...(p.ok ? {} : { detail: p.error ?? `HTTP ${p.status}` }) };
}

interface TargetsResponse {
  data?: { activeTargets?: { labels?: Record<string, string>; scrapePool?: string; health?: string; lastError?: string }[] };
}

/** VictoriaMetrics' own view of its scrape of the collector (/api/v1/targets). */
export async function collectorScrapeStatus(vmUrl: string): Promise<ScrapeStatus> {
  try {
    const res = await fetch(`${vmUrl}/api/v1/targets`, { signal: AbortSignal.timeout(2000) });
    if (res.status === 404) return { job: 'otel-collector', up: false, lastError: `${vmUrl} serves no /api/v1/targets (a cluster select path or a proxy?); ask the scraper itself (vmagent or the single node)` };
    if (!res.ok) return { job: 'otel-collector', up: false, lastError: `VictoriaMetrics answered HTTP ${res.status}` };
    const body = (await res.json()) as TargetsResponse;
    const target = body.data?.activeTargets?.find((t) => t.scrapePool === 'otel-collector' || t.labels?.job === 'otel-collector');
    if (!target) return { job: 'otel-collector', up: false, lastError: 'no otel-collector scrape target' };
    const out: ScrapeStatus = { job: 'otel-collector', up: target.health === 'up' };
    if (target.lastError) out.lastError = target.lastError;
    else if (!out.up) out.lastError = `target health is ${target.health ?? 'unknown'} (not scraped yet?)`;
    return out;
  } catch (err) {
    return { job: 'otel-collector', up: false, lastError: (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message };
  }
}

export interface ScrapeTarget {
  job: string;
  instance: string;
  health: string;
  lastError?: string;
}

/** Every active scrape target of VictoriaMetrics with its health ('up', 'down' or 'unknown' before its first scrape). */
export async function scrapeTargets(vmUrl: string): Promise<ScrapeTarget[]> {
  const res = await fetch(`${vmUrl}/api/v1/targets`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`VictoriaMetrics /api/v1/targets answered HTTP ${res.status}`);
  const body = (await res.json()) as TargetsResponse;
  return (body.data?.activeTargets ?? []).map((t) => ({
    job: t.scrapePool ?? t.labels?.job ?? '',
    instance: t.labels?.instance ?? '',
    health: t.health ?? 'unknown',
    ...(t.lastError ? { lastError: t.lastError } : {}),
  }));
}

/** The scrape jobs of assets/victoria-metrics/scrape.yaml: the collector's exporter, its own telemetry, VictoriaMetrics itself. */
export const SCRAPE_JOBS = ['otel-collector', 'otelcol-internal', 'victoria-metrics'] as const;

/**
 * Are the scrapes' own `up == 1` samples visible to queries? A fresh sample waits in
 * VictoriaMetrics' in-memory buffer (seconds) unless flushed, so flush, then ask.
 */
async function upSeriesReadable(vmUrl: string, jobs: readonly string[]): Promise<boolean> {
  await vmForceFlush(vmUrl).catch(() => undefined);
  // nocache=1 as every query of the CLI's client (src/clients/victoria-metrics.ts): without it an
  // instant query is evaluated -search.latencyOffset (1 s) in the past, before the first scrape.
  const res = await fetch(`${vmUrl}/api/v1/query?query=${encodeURIComponent('up == 1')}&nocache=1`, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { data?: { result?: { metric?: Record<string, string> }[] } };
  const seen = new Set((body.data?.result ?? []).map((r) => r.metric?.job));
  return jobs.every((j) => seen.has(j));
}

/**
 * Waits until VictoriaMetrics has scraped every target once and each scrape was up, so the
 * stack can be read as soon as `up` returns (`status` healthy, `up == 1` for every job, and
 * those samples already answer queries).
 * Resolves the milliseconds waited; throws with each target that is not up after timeoutMs.
 */
export async function waitFirstScrapes(vmUrl: string, options: { timeoutMs: number; jobs?: readonly string[]; pollMs?: number }): Promise<number> {
  const start = Date.now();
  const jobs = options.jobs ?? SCRAPE_JOBS;
  let pending = 'no answer from /api/v1/targets yet';
  while (Date.now() - start < options.timeoutMs) {
    try {
      const targets = await scrapeTargets(vmUrl);
      const missing = jobs.filter((j) => !targets.some((t) => t.job === j));
      const notUp = targets.filter((t) => t.health !== 'up');
      if (missing.length === 0 && notUp.length === 0 && (await upSeriesReadable(vmUrl, jobs))) return Date.now() - start;
      pending =
        missing.length === 0 && notUp.length === 0
          ? 'every target up; their up samples are not queryable yet'
          : [...missing.map((j) => `${j}: no target`), ...notUp.map((t) => `${t.job} (${t.instance}): ${t.lastError ?? (t.health === 'unknown' ? 'not scraped yet' : t.health)}`)].join('; ');
    } catch (err) {
      pending = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? 100));
  }
  throw new Error(`VictoriaMetrics' first scrapes are not all up after ${Math.round(options.timeoutMs / 1000)} s: ${pending}`);
}

/** Health of each recorded component and of VictoriaMetrics' scrape of the collector. */
export async function stackStatus(options: { stateDir: string }): Promise<StackStatus> {
  const stateDir = path.resolve(options.stateDir);
  const record = readStackRecord(stateDir);
  // Probed beside the components, not before them.
  const startedBackend = startedBackendStatus(stateDir);
  if (!record) return { running: false, stateDir, runtime: null, endpoints: null, components: [], profile: null, collectorScrape: null, healthy: false, backend: await startedBackend };
  const procs = record.cluster?.processes;
  const names: (ComponentName | ClusterRole)[] = procs ? [...COMPONENTS, ...CLUSTER_ROLES] : [...COMPONENTS];
  const components = await Promise.all(
    names.map(async (c): Promise<ComponentStatus> => {
      const comp = procs && c in procs ? procs[c as ClusterRole] : record.components[c as ComponentName];
      const url = procs && c in procs ? procs[c as ClusterRole].healthUrl : healthUrl(c as ComponentName, record.endpoints, record);
      const pid = comp?.pid ?? null;
      const processAlive = pid === null ? null : isOurProcess(pid, comp?.binary);
      const p = processAlive === false ? { ok: false, error: 'process not running' } : await probe(url);
      const st: ComponentStatus = { component: c, pid, processAlive, healthUrl: url, healthy: p.ok };
      if (!p.ok) st.detail = p.error ?? `HTTP ${p.status}`;
      return st;
    }),
  );
  const vmHealthy = components.find((c) => c.component === 'victoria-metrics')?.healthy ?? false;
  const collectorScrape = vmHealthy ? await collectorScrapeStatus(record.endpoints.vmUrl) : { job: 'otel-collector' as const, up: false, lastError: 'VictoriaMetrics is not healthy' };
  const healthy = components.every((c) => c.healthy) && collectorScrape.up;
  return { running: components.some((c) => c.healthy || c.processAlive === true), stateDir, runtime: record.runtime, endpoints: record.endpoints, components, profile: record.profile ?? 'default', collectorScrape, healthy, backend: await startedBackend };
}
