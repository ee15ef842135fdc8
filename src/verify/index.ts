import type { BackendClient, CostGroup } from '../clients/backend.js';
import type { VictoriaLogsClient } from '../clients/victoria-logs.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { CheckFailedError, UserError, describeCause } from '../errors.js';
import { catalog, getEntry, renderExpr, type CatalogEntry } from '../queries/index.js';
import { verifyClosedMonths, type CloseVerifyResult } from '../finance/close.js';
import { rangeOf, type TimeWindow } from '../report/cost.js';
import type { VmalertClient } from '../clients/vmalert.js';
import { runPipelineProbes, type Probe } from './pipeline.js';
import { checkRules, type RuleCheck } from './rules.js';

/**
 * The verification library behind `verify` and `run-example --verify`: every catalog query has
 * data, the ledger equals VictoriaMetrics per project and model to the nano-dollar (the ledger's unit), and the
 * pipeline is healthy. It reports; `assertVerified` turns a failed report into CheckFailedError.
 */

export interface QueryCheck {
  id: string;
  title: string;
  /** Board row, or null for an entry used only by the CLI/HUD. */
  row: string | null;
  datasource: CatalogEntry['datasource'];
  ok: boolean;
  /** Series (metrics) or records/rows (logs) returned. */
  results: number;
  query: string;
  error?: string;
}

export interface ReconcileRow {
  project: string;
  model: string;
  ledger_usd: number;
  metrics_usd: number;
  /**
   * metrics − ledger, compared in whole nano-dollars (the ledger's own unit): rounding both to the
   * micro-dollar would let a float one ulp either side of a half-micro split an exact match.
   */
  diff_usd: number;
}

export interface Reconciliation {
  ok: boolean;
  skipped: boolean;
  attempts: number;
  waited_ms: number;
  ledger_total_usd: number;
  metrics_total_usd: number;
  /** Every (project, model) pair; `mismatches` holds those that differ. */
  rows: ReconcileRow[];
  mismatches: ReconcileRow[];
  error?: string;
}

export interface VerifyReport {
  ok: boolean;
  from: string;
  to: string;
  project: string | null;
  queries: QueryCheck[];
  reconciliation: Reconciliation;
  pipeline: Probe[];
  /** Every generated alerting and recording rule: its expression runs (and vmalert, when known, evaluates it cleanly). */
  rules: RuleCheck[];
  /** Alerts vmalert has firing now, as "name{project}" (reported, not failures: a workload may provoke them); null without vmalert. */
  firingAlerts: string[] | null;
  /** Closed months against their hash chain, the ledger and VictoriaMetrics; null without a backend (or with a project-scoped token). */
  closedMonths: CloseVerifyResult | null;
  /** One line per failure, naming the panel, the pair or the probe. */
  failures: string[];
}

export interface VerifyOptions {
  vm: VictoriaMetricsClient;
  vl: VictoriaLogsClient;
  /** Omit to skip the ledger reconciliation (reported as skipped, not as passed). */
  backend?: BackendClient | undefined;
  window: TimeWindow;
  project?: string | undefined;
  collectorHealthUrl?: string | undefined;
  /** The stack's vmalert: then every rule must also be loaded and healthy there. */
  vmalert?: VmalertClient | undefined;
  /** Metrics trail the ledger by the export + scrape interval: re-poll until equal or this long (default 30 s). */
  reconcileTimeoutMs?: number;
  pollMs?: number;
  /** Only these catalog ids (default: all). */
  ids?: readonly string[];
  /** Evaluate `to` as "now" on each reconciliation attempt (default true when the window ends now). */
  slideToNow?: boolean;
  onProgress?: (line: string) => void;
}

/** USD → whole nano-dollars, the ledger's exact unit. */
const nano = (usd: number): number => Math.round(usd * 1e9);
const RATE_INTERVAL = '1m';

/** Run one catalog entry over the window and count what comes back. */
export async function checkQuery(entry: CatalogEntry, opts: Pick<VerifyOptions, 'vm' | 'vl' | 'window' | 'project'>): Promise<QueryCheck> {
  const render = { project: opts.project, range: rangeOf(opts.window), rateInterval: RATE_INTERVAL };
  const query = renderExpr(entry, render);
  const base = { id: entry.id, title: entry.title, row: entry.panel?.row ?? null, datasource: entry.datasource, query };
  try {
    let results: number;
    if (entry.datasource === 'victorialogs') {
      results = (await opts.vl.query(query, { start: opts.window.from, end: opts.window.to, limit: 1000 })).length;
    } else if (entry.expr.includes('$__range') || entry.panel?.instant) {
      const samples = await opts.vm.query(query, { time: opts.window.to });
      results = samples.filter((s) => Number.isFinite(s.value)).length;
    } else {
      // What a time-series panel draws over the window: data at any point counts.
      const seconds = (opts.window.to.getTime() - opts.window.from.getTime()) / 1000;
      // A fine step: with ~120 points over a 30-minute window (15 s steps) VictoriaMetrics
      // v1.151.0 returned no rate() points at all for series only seconds old, where 2 s steps
      // (the scrape interval) returned them. ≤ 10,000 points per series stays well under its
      // 30,000-point limit for any window.
      const step = `${Math.max(2, Math.ceil(seconds / 10_000))}s`;
      const series = await opts.vm.queryRange(query, { start: opts.window.from, end: opts.window.to, step });
      results = series.filter((s) => s.values.some((v) => Number.isFinite(v.value))).length;
    }
    return { ...base, ok: results > 0, results };
  } catch (err) {
    if (err instanceof UserError) throw err;
    return { ...base, ok: false, results: 0, error: describeCause(err) };
  }
}

async function reconcileOnce(opts: VerifyOptions, backend: BackendClient, window: TimeWindow): Promise<{ rows: ReconcileRow[]; ledgerTotal: number; metricsTotal: number }> {
  const [ledger, samples] = await Promise.all([
    backend.costs({ from: window.from, to: window.to, group_by: ['project', 'model'], ...(opts.project ? { project: opts.project } : {}) }),
    opts.vm.query(renderExpr(getEntry('ledger.cost_by_project_model'), { project: opts.project, range: rangeOf(window) }), { time: window.to }),
  ]);
  // ledger: exact integer nano-dollars; metrics: float USD summed as VictoriaMetrics returns it.
  const pairs = new Map<string, { project: string; model: string; ledger: number; metrics: number }>();
  const pair = (project: string, model: string) => {
    const k = `${project}\u0000${model}`;
    let p = pairs.get(k);
    if (!p) pairs.set(k, (p = { project, model, ledger: 0, metrics: 0 }));
    return p;
  };
  const groups: CostGroup[] = ledger.groups.filter((g) => !opts.project || g.project === opts.project);
  const ledgerNano = (g: CostGroup): number => (typeof g.cost_nusd === 'number' ? g.cost_nusd : nano(g.cost_usd));
  for (const g of groups) pair(g.project ?? '', g.model ?? '').ledger += ledgerNano(g);
  for (const s of samples) pair(s.metric.sagewai_project_id ?? '', s.metric.gen_ai_request_model ?? '').metrics += s.value;
  const rows = [...pairs.values()]
    .map((p) => {
      const m = nano(p.metrics);
      return { project: p.project, model: p.model, ledger_usd: p.ledger / 1e9, metrics_usd: m / 1e9, diff_usd: (m - p.ledger) / 1e9 };
    })
    .sort((a, b) => a.project.localeCompare(b.project) || a.model.localeCompare(b.model));
  return { rows, ledgerTotal: groups.reduce((n, g) => n + ledgerNano(g), 0) / 1e9, metricsTotal: nano(samples.reduce((n, s) => n + s.value, 0)) / 1e9 };
}

export async function reconcile(opts: VerifyOptions): Promise<Reconciliation> {
  const empty = { attempts: 0, waited_ms: 0, ledger_total_usd: 0, metrics_total_usd: 0, rows: [], mismatches: [] };
  if (!opts.backend) return { ok: false, skipped: true, ...empty };
  const timeout = opts.reconcileTimeoutMs ?? 30_000;
  const poll = opts.pollMs ?? 1000;
  const started = Date.now();
  const slide = opts.slideToNow ?? Math.abs(opts.window.to.getTime() - Date.now()) < 5000;
  let attempts = 0;
  let last: Awaited<ReturnType<typeof reconcileOnce>> | undefined;
  let error: string | undefined;
  for (;;) {
    attempts++;
    const window = slide ? { from: opts.window.from, to: new Date() } : opts.window;
    try {
      last = await reconcileOnce(opts, opts.backend, window);
      error = undefined;
      if (last.rows.every((r) => r.diff_usd === 0)) break;
    } catch (err) {
      if (err instanceof UserError) throw err;
      error = `ledger or metrics query failed: ${describeCause(err)}`;
    }
    // A store that keeps failing will not heal by waiting the whole timeout.
    if (Date.now() - started + poll > timeout || (error !== undefined && attempts >= 3)) break;
    opts.onProgress?.(`reconciliation: ${error ?? `${last?.rows.filter((r) => r.diff_usd !== 0).length} pair(s) differ`}; re-polling…`);
    await new Promise((r) => setTimeout(r, poll));
  }
  const rows = last?.rows ?? [];
  const mismatches = rows.filter((r) => r.diff_usd !== 0);
  return {
    ok: error === undefined && last !== undefined && mismatches.length === 0,
    skipped: false,
    attempts,
    waited_ms: Date.now() - started,
    ledger_total_usd: last?.ledgerTotal ?? 0,
    metrics_total_usd: last?.metricsTotal ?? 0,
    rows,
    mismatches,
    ...(error ? { error } : {}),
  };
}

export async function runVerify(opts: VerifyOptions): Promise<VerifyReport> {
  const entries = opts.ids ? opts.ids.map((id) => getEntry(id)) : catalog;
  opts.onProgress?.('checking the pipeline…');
  const pipeline = await runPipelineProbes({ vm: opts.vm, vl: opts.vl, collectorHealthUrl: opts.collectorHealthUrl });
  opts.onProgress?.(`running ${entries.length} catalog queries…`);
  const queries: QueryCheck[] = [];
  // Sequential: a 2-core machine, and the stores are the thing under test.
  for (const e of entries) queries.push(await checkQuery(e, opts));
  opts.onProgress?.('running every alerting and recording rule expression…');
  const rules = await checkRules({ vm: opts.vm, vmalert: opts.vmalert });
  const firingAlerts = opts.vmalert
    ? (await opts.vmalert.alerts()).filter((a) => a.state === 'firing' && (!opts.project || !a.labels.sagewai_project_id || a.labels.sagewai_project_id === opts.project)).map((a) => `${a.name}${a.labels.sagewai_project_id ? `{${a.labels.sagewai_project_id}}` : a.labels.job ? `{${a.labels.job}}` : ''}`)
    : null;
  opts.onProgress?.('reconciling the ledger with VictoriaMetrics…');
  const reconciliation = await reconcile(opts);
  let closedMonths: CloseVerifyResult | null = null;
  if (opts.backend) {
    opts.onProgress?.('checking closed months…');
    closedMonths = await verifyClosedMonths(opts.backend, opts.vm).catch((err: unknown) => {
      // A project-scoped token may not read every project's totals (403), and a backend from
      // before closed months has no such route (404): skipped, not passed.
      if (err instanceof UserError && /→ 40[34] /.test(err.message)) return null;
      throw err;
    });
  }

  const failures: string[] = [];
  for (const p of pipeline.filter((x) => x.status === 'fail')) failures.push(`pipeline: ${p.name}: ${p.detail}`);
  for (const q of queries.filter((x) => !x.ok)) failures.push(`${q.row ? `panel "${q.title}"` : 'query'} (${q.id}): ${q.error ?? 'no data'}`);
  for (const r of rules.filter((x) => !x.ok)) failures.push(`${r.kind} rule ${r.name}: ${r.error ?? 'failed'}`);
  if (!reconciliation.skipped && !reconciliation.ok) {
    if (reconciliation.error) failures.push(`reconciliation: ${reconciliation.error}`);
    for (const m of reconciliation.mismatches) failures.push(`reconciliation ${m.project}/${m.model}: ledger $${m.ledger_usd.toFixed(9)} ≠ metrics $${m.metrics_usd.toFixed(9)} (diff ${m.diff_usd >= 0 ? '+' : ''}${m.diff_usd.toFixed(9)})`);
  }
  for (const m of closedMonths?.months ?? []) {
    if (!m.chain_ok) failures.push(`closed month ${m.month}: its totals no longer match its hash chain`);
    for (const d of m.ledger_differences) failures.push(`closed month ${m.month} ${d.project}/${d.model}: closed ${d.closed_nusd} nano-USD, ledger now ${d.ledger_nusd}`);
    for (const d of m.metrics_differences) failures.push(`closed month ${m.month} ${d.project}/${d.model}: closed ${d.closed_nusd} nano-USD, VictoriaMetrics ${d.metrics_nusd}`);
  }
  return {
    ok: failures.length === 0,
    closedMonths,
    from: opts.window.from.toISOString(),
    to: opts.window.to.toISOString(),
    project: opts.project ?? null,
    queries,
    reconciliation,
    pipeline,
    rules,
    firingAlerts,
    failures,
  };
}

/** Throws CheckFailedError naming every failed panel, pair and probe; the report rides along for --json. */
export function assertVerified(report: VerifyReport): void {
  if (report.ok) return;
  const shown = report.failures.slice(0, 20);
  const more = report.failures.length - shown.length;
  throw new CheckFailedError(`verify found ${report.failures.length} problem(s):\n  ${shown.join('\n  ')}${more > 0 ? `\n  … and ${more} more` : ''}`, report);
}

export { checkRules, checkFiringAlerts, type RuleCheck, type UnexpectedAlerts } from './rules.js';
export { runPipelineProbes, recordedCollectorHealthUrl, REQUIRED_SCRAPE_JOBS, type Probe, type ProbeStatus } from './pipeline.js';
