import { BUDGET_ALERTS } from '../queries/alerts.js';
import type { CatalogEntry } from '../queries/index.js';
import type { ExampleOptions, ExampleResultBase } from '../driver/context.js';
import type { ExpectedEvent } from './verify.js';
import * as ex12 from '../../examples/ex12-budget-enforcement.js';
import * as ex17 from '../../examples/ex17-genai-apps.js';
import * as ex34 from '../../examples/ex34-cost-tracking.js';
import * as ex40 from '../../examples/ex40-fleet-load.js';
import * as ex43 from '../../examples/ex43-observatory-live.js';

/** What run-example knows about each example: how to run it and what --verify expects of it. */
export interface ExampleDefinition {
  id: '12' | '17' | '34' | '40' | '43';
  title: string;
  /** Default workload duration; examples with a fixed workload ignore it. */
  defaultDurationMs: number;
  defaultSeed: number;
  run(options: ExampleOptions): Promise<ExampleResultBase>;
  /** Board panels this example must fill (43: all of them). */
  panels(entry: CatalogEntry): boolean;
  /** Audit events the run must leave in VictoriaLogs, given what it did. */
  expectedEvents(result: ExampleResultBase): ExpectedEvent[];
  /**
   * When set, --verify also checks that vmalert (when the stack has one) fires no alert outside
   * this list: a clean run of the example provokes these and nothing else.
   */
  allowedAlerts?: readonly string[];
}

const rows = (...names: string[]) => (e: CatalogEntry) => names.includes(e.panel?.row ?? '');
const or = (...fs: Array<(e: CatalogEntry) => boolean>) => (e: CatalogEntry) => fs.some((f) => f(e));
const ids = (...list: string[]) => (e: CatalogEntry) => list.includes(e.id);
const CORE = rows('System Health', 'HTTP Performance', 'OTel Pipeline Health');

export const EXAMPLES: Record<string, ExampleDefinition> = {
  '43': {
    id: '43',
    title: 'observatory live',
    defaultDurationMs: ex43.DEFAULT_DURATION_MS,
    defaultSeed: ex43.DEFAULT_SEED,
    run: ex43.run,
    panels: () => true,
    expectedEvents: (r) => ex43.expectedEvents(r as ex43.Example43Result),
    // Its project budgets and the capped user's stop cap are meant to be reached.
    allowedAlerts: BUDGET_ALERTS,
  },
  '34': {
    id: '34',
    title: 'cost tracking',
    defaultDurationMs: 0,
    defaultSeed: ex34.DEFAULT_SEED,
    run: ex34.run,
    panels: or(CORE, rows('Cost & Tenants', 'Application Logs'), ids('agents.runs_by_outcome', 'cost.rate_by_agent')),
    expectedEvents: (r) => ex34.expectedEvents(r as ex34.Example34Result),
  },
  '40': {
    id: '40',
    title: 'fleet under load',
    defaultDurationMs: ex40.DEFAULT_DURATION_MS,
    defaultSeed: ex40.DEFAULT_SEED,
    run: ex40.run,
    panels: or(CORE, ids('fleet.workers_by_pool_state', 'fleet.tasks_by_event', 'logs.audit_events')),
    expectedEvents: (r) => ex40.expectedEvents(r as ex40.Example40Result),
  },
  '17': {
    id: '17',
    title: 'external GenAI apps',
    defaultDurationMs: 0,
    defaultSeed: ex17.DEFAULT_SEED,
    run: ex17.run,
    // No backend traffic: the cost panels (filled by the apps' priced spans) and the pipeline.
    panels: ids('pipeline.scrape_up', 'pipeline.metric_points', 'kpi.spend_total', 'cost.by_project', 'cost.by_model', 'tokens.by_type', 'cost.unpriced_calls', 'genai.rejected_spans', 'cost.rate_by_agent'),
    expectedEvents: (r) => ex17.expectedEvents(r as ex17.Example17Result),
  },
  '12': {
    id: '12',
    title: 'budget enforcement',
    defaultDurationMs: 0,
    defaultSeed: ex12.DEFAULT_SEED,
    run: ex12.run,
    panels: or(CORE, rows('Cost & Tenants', 'Application Logs'), ids('http.errors_by_route', 'agents.runs_by_outcome')),
    expectedEvents: (r) => ex12.expectedEvents(r as ex12.Example12Result),
  },
};
