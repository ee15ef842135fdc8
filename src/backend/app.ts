import { Agents, SqliteAgentStore, type AgentInput, type AgentRow } from './areas/agents.js';
import { Analytics, SqliteAnalyticsStore } from './areas/analytics.js';
import { Auth, SqliteAuthStore } from './areas/auth.js';
import { BudgetLimits } from './areas/budgets.js';
import { Fleet, SqliteFleetStore } from './areas/fleet.js';
import { Live, SqliteLiveStore } from './areas/live.js';
import { Projects, SqliteProjectStore, Tenancy, projectRoutes, type ProjectRow } from './areas/projects.js';
import { Runs, SqliteRunStore, type RunInput, type RunResult, type RunSink } from './areas/runs.js';
import { Finance, SqliteFinanceStore } from './areas/finance.js';
import { Budgets } from './budgets.js';
import * as inst from './instruments.js';
import { LedgerMetrics } from './ledger-metrics.js';
import type { PriceBook } from './pricebook.js';
import { SimulatedProvider, type FailureRates } from './provider.js';
import type { RouteBinding } from './routing.js';
import { statementCache, type Db, type Prepare } from './store.js';

export { hashPassword, verifyPassword } from './areas/auth.js';
export type { RunInput, RunSink } from './areas/runs.js';

/**
 * The backend's areas wired to their SQLite stores (the one implementation this release ships;
 * a PostgreSQL composition plugs the same areas onto stores that implement the same interfaces).
 * HTTP-free: the server adds the request pipeline on top of `routes()`.
 */
export interface AppOptions {
  db: Db;
  instanceId: string;
  version: string;
  priceBook: PriceBook;
  seed: number;
  failureRates: FailureRates;
  latencyScale: number;
  /** A worker whose last heartbeat is older than this is `lost`. */
  workerLostAfterMs: number;
  telemetryEnabled: boolean;
}

export class App {
  readonly db: Db;
  readonly sql: Prepare;
  /** The SQLite budget store (also the reservation the runs area takes). */
  readonly budgets: Budgets;
  readonly provider: SimulatedProvider;
  readonly tenancy: Tenancy;
  readonly auth: Auth;
  readonly projects: Projects;
  readonly agents: Agents;
  readonly runs: Runs;
  readonly fleet: Fleet;
  readonly budgetLimits: BudgetLimits;
  readonly analytics: Analytics;
  readonly live: Live;
  readonly finance: Finance;

  constructor(readonly opts: AppOptions) {
    this.db = opts.db;
    this.sql = statementCache(this.db);
    this.budgets = new Budgets(this.db, this.sql);
    this.provider = new SimulatedProvider({ seed: opts.seed, failureRates: opts.failureRates, latencyScale: opts.latencyScale });
    // The price history: the books stored in this data dir plus opts.priceBook when it is new.
    // (Synchronous with SQLite; see the note on recover() below.)
    const financeStore = new SqliteFinanceStore(this.db, this.sql);
    const plan = Finance.planHistory(financeStore.books(), opts.priceBook, Date.now());
    if (plan.toStore) financeStore.addBook(plan.toStore);
    const history = plan.history;
    const metrics = new LedgerMetrics(history);
    const projectStore = new SqliteProjectStore(this.sql);
    const agentStore = new SqliteAgentStore(this.sql);
    const runStore = new SqliteRunStore(this.db, this.sql, this.budgets);
    const fleetStore = new SqliteFleetStore(this.db, this.sql);
    this.tenancy = new Tenancy(projectStore);
    this.auth = new Auth(new SqliteAuthStore(this.db, this.sql));
    this.projects = new Projects(projectStore);
    this.agents = new Agents(agentStore, metrics);
    this.runs = new Runs(runStore, agentStore, history, this.provider, metrics);
    this.finance = new Finance(financeStore, history, metrics);
    this.fleet = new Fleet(fleetStore, opts.workerLostAfterMs);
    this.budgetLimits = new BudgetLimits(this.budgets);
    this.analytics = new Analytics(new SqliteAnalyticsStore(this.sql));
    this.live = new Live(new SqliteLiveStore(this.sql), agentStore, fleetStore, this.runs, { version: opts.version, instanceId: opts.instanceId, telemetryEnabled: opts.telemetryEnabled });

    // Nothing survives a restart in flight; the metric totals resume from the ledger. (Synchronous
    // here because the SQLite stores are; an asynchronous store needs an async factory instead.)
    runStore.recover(Date.now());
    const totals = runStore.totals();
    metrics.load(totals.ledger, totals.runs, agentStore.list());
    // A book imported to take effect later has its series at 0 already, as on import.
    for (const b of history.list()) if (b.from > Date.now()) metrics.newBook(b.book, b.from);
    inst.setStateSources({ budgets: () => this.budgetLimits.gaugeRows(), workers: () => this.fleet.workerGaugeRows(), tasks: () => this.fleet.taskCounterRows() });
  }

  /** Every area's routes, bound to the contract's operations. */
  routes(): RouteBinding[] {
    return [
      ...this.auth.routes(),
      ...projectRoutes(this.projects, this.tenancy),
      ...this.agents.routes(this.tenancy),
      ...this.runs.routes(this.tenancy),
      ...this.fleet.routes(this.tenancy),
      ...this.live.routes(this.tenancy),
      ...this.analytics.routes(this.tenancy),
      ...this.budgetLimits.routes(this.tenancy),
      ...this.finance.routes(this.tenancy),
    ];
  }

  close(): void {
    this.fleet.close();
  }

  wakeAllWaiters(): void {
    this.fleet.wakeAllWaiters();
  }

  // Direct calls for in-process use (tests, benches): the same code paths the routes take.
  createProject(p: { slug: string; name: string; environment: string }, by: string): Promise<ProjectRow> {
    return this.projects.create(p, by);
  }
  createAgent(project: string, a: AgentInput, by: string): Promise<AgentRow> {
    return this.agents.create(project, a, by);
  }
  run(project: string, input: RunInput, by: string, sink: RunSink): Promise<RunResult> {
    return this.runs.run(project, input, by, sink);
  }
}

