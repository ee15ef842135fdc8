import type { BackendClient } from '../clients/backend.js';
import { VictoriaLogsClient } from '../clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { catalog, getEntry, renderExpr, type CatalogEntry } from '../queries/index.js';
import { checkQuery, reconcile, type Reconciliation } from '../verify/index.js';
import { emptyClassCounts, STATUS_CLASSES, statusClass, type ClassCounts, type RequestCounter, type StatusClass } from '../driver/counter.js';
import type { ExampleCheck } from '../driver/context.js';
import { rangeFor, vlCount } from './stores.js';

/** An audit event type the run must have produced, for one tenant (null: an org-level event). */
export interface ExpectedEvent {
  event: string;
  project: string | null;
}

export interface VerifyOptions {
  vmUrl: string;
  vlUrl: string;
  /** The counting client: its own ledger read is counted like every other request. */
  api: BackendClient;
  counter: RequestCounter;
  /** Start of the run's window (just before its first request). */
  fromMs: number;
  /** Which board panels this example must fill. */
  panels: (entry: CatalogEntry) => boolean;
  expectedEvents: readonly ExpectedEvent[];
  /**
   * True when the driver is the backend's only client (run-example started it). Then the HTTP
   * metrics must equal the driver's counts per status class; on a shared backend other clients
   * (a HUD, an earlier run's last requests still being exported) add to the metrics, so they
   * must cover at least the driver's requests.
   */
  exclusiveBackend: boolean;
  /** How long to wait for the last scrape and the last log batch; default 45 s. */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface VerifyResult {
  checks: ExampleCheck[];
  /** Seconds from the end of the workload until VictoriaMetrics agreed with the driver and the ledger. */
  settleSeconds: number;
  reconciliation: Reconciliation;
}

/**
 * Checks the run against the stores with the catalog's own queries: every expected panel has
 * data for the window; VictoriaMetrics' cost per (project, model) equals the ledger; the
 * requests per status class the driver saw equal the HTTP metrics (health routes excluded on
 * both sides); each expected audit event is in VictoriaLogs for its tenant.
 */
export async function verifyRun(o: VerifyOptions): Promise<VerifyResult> {
  const vm = new VictoriaMetricsClient(o.vmUrl);
  const vl = new VictoriaLogsClient(o.vlUrl);
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  const settleMs = o.settleTimeoutMs ?? 45_000;
  // Ledger vs VictoriaMetrics per (project, model), re-polled by the shared verification library
  // until equal. Its ledger reads go through the counting client, so the driver's totals include
  // them; after it the driver sends nothing more and the HTTP metrics can settle on those totals.
  const rec = await reconcile({ vm, vl, backend: o.api, window: { from: new Date(o.fromMs), to: new Date() }, slideToNow: true, reconcileTimeoutMs: settleMs, onProgress: (l) => log(l) });
  const cost: ExampleCheck[] = rec.rows.map((r) => ({
    name: `cost ${r.project || '(no project)'} / ${r.model || '(no model)'}: VictoriaMetrics == ledger`,
    ok: r.diff_usd === 0,
    detail: `ledger $${r.ledger_usd.toFixed(6)}, ledger.cost_by_project_model $${r.metrics_usd.toFixed(6)}`,
  }));
  if (rec.error || rec.rows.length === 0) {
    // An example without LLM calls (40) agrees when neither side has spend; examples that must
    // spend (43, 34, 12) check that themselves.
    cost.push({ name: 'cost: VictoriaMetrics == ledger', ok: rec.error === undefined, detail: rec.error ?? 'no LLM spend in the window on either side' });
  }

  const driver = o.counter.byClass('exclude');
  // A backend this run started serves only this run, so its requests are compared exactly, and
  // only its own: a backend stopped just before (an earlier example's) may still deliver its last
  // export inside this window. Its instance id labels every series it sends (`instance`).
  const scope = o.exclusiveBackend ? await processScope(o.api) : { filters: [] };
  if (scope.error) log(`could not read the backend's instance id (${scope.error}); the status classes are compared over every process`);
  // One settle budget for the whole verification, plus a little for the last request's scrape.
  const deadline = Math.max(started + settleMs, Date.now() + 10_000);
  let status: ExampleCheck[] = [];
  let events: ExampleCheck[] = [];
  for (let attempt = 0; ; attempt++) {
    const now = Date.now();
    const range = rangeFor(o.fromMs, now, 1);
    [status, events] = await Promise.all([checkStatusClasses(vm, driver, range, now, o.exclusiveBackend, scope.filters), checkEvents(o.vlUrl, o.expectedEvents, o.fromMs, now)]);
    const failing = [...status, ...events].filter((c) => !c.ok);
    if (failing.length === 0 || Date.now() > deadline) break;
    if (attempt % 5 === 0) log(`waiting for the last scrape and log batch (${failing.length} checks pending: ${failing.slice(0, 3).map((c) => c.name).join(', ')}…)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const settleSeconds = Math.round((Date.now() - started) / 100) / 10;
  const panels = await checkPanels(vm, vl, o.panels, o.fromMs, Date.now());
  return { checks: [...panels, ...status, ...cost, ...events], settleSeconds, reconciliation: rec };
}

/** The `extra_filters[]` that scope a query to the backend process behind `api` (its instance id). */
async function processScope(api: BackendClient): Promise<{ filters: string[]; error?: string }> {
  try {
    const { instance_id: id } = await api.healthSummary();
    return { filters: [`{instance=${JSON.stringify(id)}}`] };
  } catch (err) {
    return { filters: [], error: (err as Error).message };
  }
}

/**
 * Requests per status class, the driver's against the catalog's `http.status_share` over `range`
 * ending at `atMs`: equal when the backend served only this run (`exclusive`), else the metrics
 * must cover the driver's. `extraFilters` scope the query (e.g. to one backend process).
 */
export async function checkStatusClasses(vm: VictoriaMetricsClient, driver: ClassCounts, range: string, atMs: number, exclusive: boolean, extraFilters: readonly string[]): Promise<ExampleCheck[]> {
  const entry = getEntry('http.status_share');
  const seen = emptyClassCounts();
  try {
    for (const s of await vm.query(renderExpr(entry, { range }), { time: atMs / 1000, extraFilters })) {
      const code = Number(s.metric.http_response_status_code);
      if (Number.isFinite(code) && Number.isFinite(s.value)) seen[statusClass(code)] += Math.round(s.value);
    }
  } catch (err) {
    return [{ name: 'requests by status class: driver == HTTP metrics', ok: false, detail: `query ${entry.id} failed: ${(err as Error).message}` }];
  }
  const classes = STATUS_CLASSES.filter((c) => c !== '1xx');
  const ok = (c: StatusClass): boolean => (exclusive ? driver[c] === seen[c] : seen[c] >= driver[c]);
  // Where a difference came from: the same increase per backend process (instance and boot id).
  const split = classes.every(ok) ? undefined : await byProcess(vm, renderExpr(entry, { range }), atMs).catch(() => undefined);
  return classes.map((c) => ({
    name: exclusive ? `requests ${c}: driver == HTTP metrics` : `requests ${c}: HTTP metrics cover the driver's`,
    ok: ok(c),
    detail: `driver saw ${driver[c]}, ${entry.id} reports ${seen[c]} (health routes excluded on both sides${extraFilters.length ? ', this run\'s backend process only' : ''}${exclusive ? '' : '; the backend is shared with other clients, so the metrics may hold more'})${split && !ok(c) ? `; by backend process: ${split[c] ?? 'none'}` : ''}`,
  }));
}

/** The status-share increase split by backend process, per status class ("instance/boot: n, …"). */
async function byProcess(vm: VictoriaMetricsClient, expr: string, atMs: number): Promise<Partial<Record<StatusClass, string>> | undefined> {
  const by = 'sum by (http_response_status_code)';
  if (!expr.startsWith(by)) return undefined;
  const rows = await vm.query(`sum by (instance, sagewai_boot_id, http_response_status_code)${expr.slice(by.length)}`, { time: atMs / 1000 });
  const parts = new Map<StatusClass, Map<string, number>>();
  for (const s of rows) {
    const code = Number(s.metric.http_response_status_code);
    if (!Number.isFinite(code) || !Number.isFinite(s.value) || Math.round(s.value) === 0) continue;
    const c = statusClass(code);
    const key = `${s.metric.instance ?? '?'}/${s.metric.sagewai_boot_id ?? '?'}`;
    const m = parts.get(c) ?? new Map<string, number>();
    m.set(key, (m.get(key) ?? 0) + Math.round(s.value));
    parts.set(c, m);
  }
  return Object.fromEntries([...parts].map(([c, m]) => [c, [...m].map(([k, n]) => `${k}: ${n}`).join(', ')]));
}

/** The LogsQL filter for one event type and tenant, built on the catalog's audit-events entry. */
export function eventFilter(e: ExpectedEvent): string {
  const base = renderExpr(getEntry('logs.audit_events'), { range: '1s', project: e.project ?? undefined });
  return `event.name:${JSON.stringify(e.event)} ${base}`;
}

async function checkEvents(vlUrl: string, expected: readonly ExpectedEvent[], fromMs: number, toMs: number): Promise<ExampleCheck[]> {
  return Promise.all(
    expected.map(async (e): Promise<ExampleCheck> => {
      const name = `audit ${e.event}${e.project ? ` for ${e.project}` : ''} in VictoriaLogs`;
      try {
        const n = await vlCount(vlUrl, eventFilter(e), fromMs, toMs + 5000);
        return { name, ok: n > 0, detail: `${n} records` };
      } catch (err) {
        return { name, ok: false, detail: (err as Error).message };
      }
    }),
  );
}

/** Every selected board panel must return data for the run's window (the shared per-query check). */
export async function checkPanels(vm: VictoriaMetricsClient, vl: VictoriaLogsClient, select: (e: CatalogEntry) => boolean, fromMs: number, toMs: number): Promise<ExampleCheck[]> {
  const window = { from: new Date(fromMs), to: new Date(toMs) };
  const entries = catalog.filter((e) => e.panel !== undefined && select(e));
  return Promise.all(
    entries.map(async (e): Promise<ExampleCheck> => {
      const q = await checkQuery(e, { vm, vl, window });
      return { name: `panel ${e.id} (${e.panel?.row} / ${e.title}) has data`, ok: q.ok, detail: q.error ?? `${q.results} ${e.datasource === 'victorialogs' ? 'rows' : 'series'}` };
    }),
  );
}
