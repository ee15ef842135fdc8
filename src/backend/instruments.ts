import crypto from 'node:crypto';
import { metrics, type Attributes, type Counter, type Histogram, type ObservableResult } from '@opentelemetry/api';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, METRIC_HTTP_SERVER_REQUEST_DURATION } from '@opentelemetry/semantic-conventions';
import { exportSoon } from './export-soon.js';
import * as sc from './semconv.js';

/**
 * Every instrument of the backend, created once (STYLE 4). Names, units and attributes are
 * exactly CONTRACT.md's metrics table. The SDK must be registered (telemetry.ts) before this
 * module is first imported, because the metrics API has no proxy meter.
 */
const meter = metrics.getMeter('sagewai-admin');

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

/**
 * Process-local counters and histograms (everything not backed by the ledger) start from 0 in
 * every process. On the same series a restart would look like a small increase or none at all
 * when the new process counts past the old value before VictoriaMetrics scrapes it, so these
 * carry `sagewai.boot.id` (one random id per process): each process writes its own series and
 * increase_pure() counts each from 0. Ledger-backed counters do not carry it; they resume from
 * the ledger on the same series. http.server.active_requests (a gauge-like up/down counter)
 * does not carry it either: the new process's value replaces the dead one's.
 */
export const BOOT_ID = crypto.randomBytes(4).toString('hex');
export const ATTR_SAGEWAI_BOOT_ID = 'sagewai.boot.id';
const boot = (attrs: Attributes | undefined): Attributes => ({ ...attrs, [ATTR_SAGEWAI_BOOT_ID]: BOOT_ID });

/**
 * Caches a hot-path attribute set under `key`, with the boot id added, and returns it: callers
 * build a set only on a cache miss (`cache.get(key) ?? remember(cache, key, {...})`), so a record
 * allocates nothing that repeats. The keys (statuses, projects, pools) are few; the bound only
 * guards against a slow leak.
 */
function remember(cache: Map<string, Attributes>, key: string, attrs: Attributes): Attributes {
  attrs[ATTR_SAGEWAI_BOOT_ID] = BOOT_ID;
  if (cache.size >= 1000) cache.clear();
  cache.set(key, attrs);
  return attrs;
}
const perProcessHistogram = (h: Histogram): Pick<Histogram, 'record'> => ({ record: (v, attrs) => h.record(v, boot(attrs)) });
const perProcessCounter = (c: Counter): Pick<Counter, 'add'> => ({ add: (v, attrs) => c.add(v, boot(attrs)) });

const httpDuration = meter.createHistogram(METRIC_HTTP_SERVER_REQUEST_DURATION, { unit: 's', description: 'Duration of HTTP server requests.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
const httpActive = meter.createObservableUpDownCounter(sc.METRIC_HTTP_SERVER_ACTIVE_REQUESTS, { unit: '{request}', description: 'Number of active HTTP server requests.' });
const httpResponseSize = meter.createHistogram(sc.METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE, { unit: 'By', description: 'Size of HTTP server response bodies.', advice: { explicitBucketBoundaries: [0, 100, 1000, 10_000, 100_000, 1_000_000] } });
export const genAiTokenUsage = perProcessHistogram(meter.createHistogram(sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, { unit: '{token}', description: 'Number of input and output tokens used.', advice: { explicitBucketBoundaries: TOKEN_BUCKETS } }));
export const genAiDuration = perProcessHistogram(meter.createHistogram(sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, { unit: 's', description: 'GenAI operation duration.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } }));
export const runDuration = perProcessHistogram(meter.createHistogram('sagewai.agent.run.duration', { unit: 's', description: 'Agent run duration by outcome.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } }));
export const budgetDenials = perProcessCounter(meter.createCounter('sagewai.budget.denials', { unit: '{call}', description: 'Calls refused by a budget stop.' }));
const fleetClaimHistogram = meter.createHistogram('sagewai.fleet.claim.duration', { unit: 's', description: 'Fleet claim (long-poll) duration.', advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
const fleetClaimSets = new Map<string, Attributes>();
/**
 * sagewai.fleet.claim.duration for one claim (about a third of example 43's requests): the
 * attribute set of each (project, pool, result) is built once, with the boot id, and reused.
 */
export function recordFleetClaim(seconds: number, project: string, pool: string, result: 'task' | 'empty'): void {
  const key = `${project}\u0000${pool}\u0000${result}`;
  const attrs = fleetClaimSets.get(key) ?? remember(fleetClaimSets, key, { [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_FLEET_POOL]: pool, [sc.ATTR_SAGEWAI_FLEET_CLAIM_RESULT]: result });
  fleetClaimHistogram.record(seconds, attrs);
}
export const authLogins = perProcessCounter(meter.createCounter('sagewai.auth.logins', { unit: '{login}', description: 'Login attempts by outcome.' }));

/**
 * The HTTP metrics of one (method, route) — route absent for unmatched paths. Every request pays
 * for these, so the hot path allocates nothing that repeats: the attribute set of each
 * (status, project) is built once (with the boot id) and reused, and the in-flight count is a
 * plain integer that http.server.active_requests observes at export. That exports the same
 * series as an up/down counter added to ±1 per request (one cumulative non-monotonic sum per
 * method and route ever seen, 0 when idle) without two attribute-hashed SDK records per request.
 */
export class HttpServerSeries {
  /** Requests started and not yet finished. */
  active = 0;
  readonly attributes: Attributes;
  private readonly finished = new Map<string, Attributes>();

  constructor(method: string, route: string | undefined) {
    this.attributes = route === undefined ? { [ATTR_HTTP_REQUEST_METHOD]: method } : { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route };
  }

  /** Records one finished request in http.server.request.duration and .response.body.size. */
  record(seconds: number, bodyBytes: number, status: number, project: string | undefined): void {
    const key = project === undefined ? String(status) : `${status} ${project}`;
    const attrs = this.finished.get(key) ?? remember(this.finished, key, this.finishedAttributes(status, project));
    httpDuration.record(seconds, attrs);
    httpResponseSize.record(bodyBytes, attrs);
  }

  private finishedAttributes(status: number, project: string | undefined): Attributes {
    const attrs: Attributes = { ...this.attributes, [ATTR_HTTP_RESPONSE_STATUS_CODE]: status };
    if (project !== undefined) attrs[sc.ATTR_SAGEWAI_PROJECT_ID] = project;
    if (status >= 500) attrs['error.type'] = String(status);
    return attrs;
  }
}

const httpSeries = new Map<string, HttpServerSeries>();

/** The one HttpServerSeries of a method and route (undefined: no route matched). */
export function httpServerSeries(method: string, route: string | undefined): HttpServerSeries {
  const key = route === undefined ? method : `${method} ${route}`;
  let s = httpSeries.get(key);
  if (s === undefined) {
    s = new HttpServerSeries(method, route);
    httpSeries.set(key, s);
  }
  return s;
}

httpActive.addCallback((r) => {
  for (const s of httpSeries.values()) r.observe(s.active, s.attributes);
});

const costCounter = meter.createObservableCounter('sagewai.llm.cost.usd', { unit: '{USD}', description: 'LLM spend in USD; equals the cost ledger total.' });
const tokenCostCounter = meter.createObservableCounter('sagewai.llm.token.cost.usd', { unit: '{USD}', description: 'LLM spend in USD by token type (input, cached_input, output, reasoning); sums to sagewai.llm.cost.usd and equals the ledger.' });
const tokensCounter = meter.createObservableCounter('sagewai.llm.tokens', { unit: '{token}', description: 'LLM tokens by type; equals the cost ledger total.' });
const callsCounter = meter.createObservableCounter('sagewai.llm.calls', { unit: '{call}', description: 'LLM calls, priced or not; equals the cost ledger count.' });
const runsCounter = meter.createObservableCounter('sagewai.agent.runs', { unit: '{run}', description: 'Agent runs by outcome; equals the runs table.' });
const budgetUtil = meter.createObservableGauge('sagewai.budget.utilization', { unit: '1', description: 'Budget spend ÷ limit in the current window.' });
const fleetWorkers = meter.createObservableGauge('sagewai.fleet.workers', { unit: '{worker}', description: 'Fleet workers by state.' });
const fleetTasks = meter.createObservableCounter('sagewai.fleet.tasks', { unit: '{task}', description: 'Fleet task events; equals the tasks table.' });

/** A labelled total kept in memory; values are set from the ledger and moved with it. */
export class SeriesTotals {
  private readonly series = new Map<string, { attrs: Attributes; value: number }>();
  add(attrs: Attributes, delta: number): void {
    const key = JSON.stringify(attrs);
    const s = this.series.get(key);
    if (s) {
      const was = s.value;
      s.value += delta;
      // A series' first move off 0 (a new tenant's first cost) is exported at once; later ones wait for the period.
      if (was === 0 && s.value !== 0) exportSoon();
    } else {
      this.series.set(key, { attrs, value: delta });
      exportSoon();
    }
  }
  /** Make the series exist (at 0) without changing a value it already has. */
  ensure(attrs: Attributes): void {
    this.add(attrs, 0);
  }
  observe(result: ObservableResult, scale = 1): void {
    for (const s of this.series.values()) result.observe(scale === 1 ? s.value : s.value / scale, s.attrs);
  }
  entries(): Array<{ attrs: Attributes; value: number }> {
    return [...this.series.values()];
  }
  clear(): void {
    this.series.clear();
  }
}

/** Ledger-backed totals: cost and cost by token type in nano-USD (exported ÷ 1e9), tokens, calls, runs. */
export const ledgerTotals = {
  costNusd: new SeriesTotals(),
  tokenCostNusd: new SeriesTotals(),
  tokens: new SeriesTotals(),
  calls: new SeriesTotals(),
  runs: new SeriesTotals(),
};

costCounter.addCallback((r) => ledgerTotals.costNusd.observe(r, 1e9));
tokenCostCounter.addCallback((r) => ledgerTotals.tokenCostNusd.observe(r, 1e9));
tokensCounter.addCallback((r) => ledgerTotals.tokens.observe(r));
callsCounter.addCallback((r) => ledgerTotals.calls.observe(r));
runsCounter.addCallback((r) => ledgerTotals.runs.observe(r));

type Rows = () => Array<{ attrs: Attributes; value: number }> | Promise<Array<{ attrs: Attributes; value: number }>>;
const stateSources: { budgets?: Rows; workers?: Rows; tasks?: Rows } = {};

/** The store's live queries behind the gauges; set by the server when it starts (a PostgreSQL store answers asynchronously). */
export function setStateSources(s: { budgets: Rows; workers: Rows; tasks: Rows }): void {
  Object.assign(stateSources, s);
}

const observeRows = (source: Rows | undefined) => async (r: ObservableResult): Promise<void> => {
  for (const row of (await source?.()) ?? []) r.observe(row.value, row.attrs);
};
budgetUtil.addCallback((r) => observeRows(stateSources.budgets)(r));
fleetWorkers.addCallback((r) => observeRows(stateSources.workers)(r));
fleetTasks.addCallback((r) => observeRows(stateSources.tasks)(r));
