import type { BackendClient, CostReport } from '../clients/backend.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { catalog, getEntry, renderExpr, type CatalogEntry } from '../queries/index.js';
import { emptyClassCounts, STATUS_CLASSES, statusClass, type ClassCounts, type RequestCounter } from '../../examples/driver/counter.js';
import type { ExampleCheck } from '../../examples/driver/context.js';
import { rangeFor, vlCount, vlQuery } from './stores.js';

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
  /** How long to wait for the last scrape and the last log batch; default 45 s. */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface VerifyResult {
  checks: ExampleCheck[];
  /** Seconds from the end of the workload until VictoriaMetrics agreed with the driver and the ledger. */
  settleSeconds: number;
  ledger: CostReport;
}

const micro = (usd: number): number => Math.round(usd * 1e6);

/**
 * Checks the run against the stores with the catalog's own queries: every expected panel has
 * data for the window; VictoriaMetrics' cost per project and per model equals the ledger; the
 * requests per status class the driver saw equal the HTTP metrics (health routes excluded on
 * both sides); each expected audit event is in VictoriaLogs for its tenant.
 */
export async function verifyRun(o: VerifyOptions): Promise<VerifyResult> {
  const vm = new VictoriaMetricsClient(o.vmUrl);
  const log = o.log ?? (() => undefined);
  const started = Date.now();
  // One ledger read, through the counting client, before the final scrape is awaited: after it
  // the driver sends nothing more, so the HTTP metrics can settle on the driver's totals.
  const ledger = await o.api.costs({ from: new Date(o.fromMs), to: new Date(Date.now() + 1000), group_by: ['project', 'model'] });
  const driver = o.counter.byClass('exclude');
  const deadline = Date.now() + (o.settleTimeoutMs ?? 45_000);

  let status: ExampleCheck[] = [];
  let cost: ExampleCheck[] = [];
  let events: ExampleCheck[] = [];
  for (let attempt = 0; ; attempt++) {
    const now = Date.now();
    const range = rangeFor(o.fromMs, now, 1);
    [status, cost, events] = await Promise.all([
      checkStatusClasses(vm, driver, range, now),
      checkCost(vm, ledger, range, now),
      checkEvents(o.vlUrl, o.expectedEvents, o.fromMs, now),
    ]);
    const failing = [...status, ...cost, ...events].filter((c) => !c.ok);
    if (failing.length === 0 || Date.now() > deadline) break;
    if (attempt % 5 === 0) log(`waiting for the last scrape and log batch (${failing.length} checks pending: ${failing.slice(0, 3).map((c) => c.name).join(', ')}…)`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const settleSeconds = Math.round((Date.now() - started) / 100) / 10;
  const panels = await checkPanels(vm, o.vlUrl, o.panels, o.fromMs, Date.now());
  return { checks: [...panels, ...status, ...cost, ...events], settleSeconds, ledger };
}

async function checkStatusClasses(vm: VictoriaMetricsClient, driver: ClassCounts, range: string, atMs: number): Promise<ExampleCheck[]> {
  const entry = getEntry('http.status_share');
  const seen = emptyClassCounts();
  try {
    for (const s of await vm.query(renderExpr(entry, { range }), { time: atMs / 1000 })) {
      const code = Number(s.metric.http_response_status_code);
      if (Number.isFinite(code) && Number.isFinite(s.value)) seen[statusClass(code)] += Math.round(s.value);
    }
  } catch (err) {
    return [{ name: 'requests by status class: driver == HTTP metrics', ok: false, detail: `query ${entry.id} failed: ${(err as Error).message}` }];
  }
  return STATUS_CLASSES.filter((c) => c !== '1xx').map((c) => ({
    name: `requests ${c}: driver == HTTP metrics`,
    ok: driver[c] === seen[c],
    detail: `driver saw ${driver[c]}, ${entry.id} reports ${seen[c]} (health routes excluded on both sides)`,
  }));
}

async function checkCost(vm: VictoriaMetricsClient, ledger: CostReport, range: string, atMs: number): Promise<ExampleCheck[]> {
  const out: ExampleCheck[] = [];
  for (const [dim, entryId, label] of [
    ['project', 'cost.by_project', 'sagewai_project_id'],
    ['model', 'cost.by_model', 'gen_ai_request_model'],
  ] as const) {
    const fromLedger = new Map<string, number>();
    for (const g of ledger.groups) {
      const key = g[dim] ?? '';
      fromLedger.set(key, (fromLedger.get(key) ?? 0) + g.cost_nusd);
    }
    const fromVm = new Map<string, number>();
    try {
      for (const s of await vm.query(renderExpr(getEntry(entryId), { range }), { time: atMs / 1000 })) {
        const key = s.metric[label] ?? '';
        fromVm.set(key, (fromVm.get(key) ?? 0) + s.value);
      }
    } catch (err) {
      out.push({ name: `cost by ${dim}: VictoriaMetrics == ledger`, ok: false, detail: `query ${entryId} failed: ${(err as Error).message}` });
      continue;
    }
    const keys = new Set([...fromLedger.keys(), ...[...fromVm.entries()].filter(([, v]) => micro(v) !== 0).map(([k]) => k)]);
    for (const key of [...keys].sort()) {
      const l = micro((fromLedger.get(key) ?? 0) / 1e9);
      const v = micro(fromVm.get(key) ?? 0);
      out.push({
        name: `cost ${dim} ${key || '(none)'}: VictoriaMetrics == ledger`,
        ok: l === v,
        detail: `ledger $${(l / 1e6).toFixed(6)}, ${entryId} $${(v / 1e6).toFixed(6)}`,
      });
    }
    if (keys.size === 0) out.push({ name: `cost by ${dim}: VictoriaMetrics == ledger`, ok: false, detail: 'the ledger has no calls in the window' });
  }
  return out;
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

/** Every selected board panel must return data for the run's window. */
export async function checkPanels(vm: VictoriaMetricsClient, vlUrl: string, select: (e: CatalogEntry) => boolean, fromMs: number, toMs: number): Promise<ExampleCheck[]> {
  const range = rangeFor(fromMs, toMs, 1);
  const entries = catalog.filter((e) => e.panel !== undefined && select(e));
  return Promise.all(
    entries.map(async (e): Promise<ExampleCheck> => {
      const name = `panel ${e.id} (${e.panel?.row} / ${e.title}) has data`;
      try {
        const expr = renderExpr(e, { range });
        if (e.datasource === 'victorialogs') {
          const rows = await vlQuery(vlUrl, expr, fromMs, toMs + 5000, 5);
          return { name, ok: rows.length > 0, detail: `${rows.length} rows` };
        }
        if (e.panel?.instant) {
          const samples = (await vm.query(expr, { time: toMs / 1000 })).filter((s) => Number.isFinite(s.value));
          return { name, ok: samples.length > 0, detail: `${samples.length} series` };
        }
        const series = (await vm.queryRange(expr, { start: fromMs / 1000, end: toMs / 1000, step: '5s' })).filter((s) => s.values.some((p) => Number.isFinite(p.value)));
        return { name, ok: series.length > 0, detail: `${series.length} series with points` };
      } catch (err) {
        return { name, ok: false, detail: (err as Error).message };
      }
    }),
  );
}
