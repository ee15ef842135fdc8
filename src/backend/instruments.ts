import { metrics, type Attributes, type Counter, type Histogram, type ObservableResult } from '@opentelemetry/api';
import { ATTR_SAGEWAI_BOOT_ID, BOOT_ID } from './boot-id.js';
import { exportSoon } from './export-soon.js';
import { histograms, type FastHistogram } from './histograms.js';
import { SECONDS_BUCKETS, routeAttributes } from './http-telemetry.js';
import * as sc from './semconv.js';

/**
 * Every instrument of the backend, created once (STYLE 4). Names, units and attributes are
 * exactly CONTRACT.md's metrics table. The SDK must be registered (telemetry.ts) before this
 * module is first imported, because the metrics API has no proxy meter.
 */
const meter = metrics.getMeter('sagewai-admin');

const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

export { ATTR_SAGEWAI_BOOT_ID, BOOT_ID } from './boot-id.js';
const boot = (attrs: Attributes | undefined): Attributes => ({ ...attrs, [ATTR_SAGEWAI_BOOT_ID]: BOOT_ID });
const perProcessHistogram = (h: FastHistogram): Pick<Histogram, 'record'> => ({ record: (v, attrs) => h.record(v, boot(attrs)) });
const perProcessCounter = (c: Counter): Pick<Counter, 'add'> => ({ add: (v, attrs) => c.add(v, boot(attrs)) });

const httpActive = meter.createObservableUpDownCounter(sc.METRIC_HTTP_SERVER_ACTIVE_REQUESTS, { unit: '{request}', description: 'Number of active HTTP server requests.' });
// Histograms are histograms.ts's (aggregated without the SDK's per-record attribute hashing and
// exported through the same reader).
export const genAiTokenUsage = perProcessHistogram(histograms.histogram(sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, { unit: '{token}', description: 'Number of input and output tokens used.', boundaries: TOKEN_BUCKETS }));
export const genAiDuration = perProcessHistogram(histograms.histogram(sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, { unit: 's', description: 'GenAI operation duration.', boundaries: SECONDS_BUCKETS }));
export const runDuration = perProcessHistogram(histograms.histogram('sagewai.agent.run.duration', { unit: 's', description: 'Agent run duration by outcome.', boundaries: SECONDS_BUCKETS }));
export const budgetDenials = perProcessCounter(meter.createCounter('sagewai.budget.denials', { unit: '{call}', description: 'Calls refused by a budget stop.' }));
const fleetClaimHistogram = histograms.histogram('sagewai.fleet.claim.duration', { unit: 's', description: 'Fleet claim (long-poll) duration.', boundaries: SECONDS_BUCKETS });
/**
 * sagewai.fleet.claim.duration for one claim (about a third of example 43's requests): the
 * attribute set of each (project, pool, result) is built once, with the boot id, and reused.
 */
export function recordFleetClaim(seconds: number, project: string, pool: string, result: 'task' | 'empty'): void {
  fleetClaimHistogram.seriesOf(`${project}\u0000${pool}\u0000${result}`, () => ({ [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_FLEET_POOL]: pool, [sc.ATTR_SAGEWAI_FLEET_CLAIM_RESULT]: result, [ATTR_SAGEWAI_BOOT_ID]: BOOT_ID })).record(seconds);
}
export const authLogins = perProcessCounter(meter.createCounter('sagewai.auth.logins', { unit: '{login}', description: 'Login attempts by outcome.' }));

/**
 * Requests of one (method, route) started and not yet finished: a plain integer that
 * http.server.active_requests observes at export. That exports the same series as an up/down
 * counter added to ±1 per request (one cumulative non-monotonic sum per method and route ever
 * seen, 0 when idle) without two attribute-hashed SDK records per request. The finished request's
 * span and histograms are http-telemetry.ts's.
 */
export interface ActiveRequests {
  active: number;
  readonly attributes: Attributes;
}

const activeByRoute = new Map<string, ActiveRequests>();

/** The one in-flight count of a method and route (undefined: no route matched). */
export function activeRequests(method: string, route: string | undefined): ActiveRequests {
  const key = route === undefined ? method : `${method} ${route}`;
  let a = activeByRoute.get(key);
  if (a === undefined) {
    a = { active: 0, attributes: routeAttributes(method, route) };
    activeByRoute.set(key, a);
  }
  return a;
}

httpActive.addCallback((r) => {
  for (const a of activeByRoute.values()) r.observe(a.active, a.attributes);
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
