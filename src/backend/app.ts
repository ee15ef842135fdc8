import { Agents, SqliteAgentStore, type AgentInput, type AgentRow, type AgentStore } from './areas/agents.js';
import { Analytics, SqliteAnalyticsStore, type AnalyticsStore } from './areas/analytics.js';
import { Auth, SqliteAuthStore, type AuthStore } from './areas/auth.js';
import { BudgetLimits, type BudgetStore } from './areas/budgets.js';
import { Finance, SqliteFinanceStore, type FinanceStore } from './areas/finance.js';
import { Fleet, SqliteFleetStore, type FleetStore } from './areas/fleet.js';
import { Live, SqliteLiveStore, type LiveStore } from './areas/live.js';
import { Projects, SqliteProjectStore, Tenancy, projectRoutes, type ProjectRow, type ProjectStore } from './areas/projects.js';
import { Runs, SqliteRunStore, type RunInput, type RunResult, type RunSink, type RunStore } from './areas/runs.js';
import { Budgets } from './budgets.js';
import * as inst from './instruments.js';
import { LedgerMetrics } from './ledger-metrics.js';
import { PriceHistory } from './price-history.js';
import type { PriceBook } from './pricebook.js';
import { SimulatedProvider, type FailureRates } from './provider.js';
import type { RouteBinding } from './routing.js';
import { statementCache, type Db, type Prepare } from './store.js';

export { hashPassword, verifyPassword } from './areas/auth.js';
export type { RunInput, RunSink } from './areas/runs.js';

/**
 * The backend's areas wired to their stores: SQLite (`db`, the embedded default) or any other set
 * of stores implementing the same interfaces (`stores`: PostgreSQL, src/backend/postgres.ts).
 * HTTP-free: the server adds the request pipeline on top of `routes()`.
 */
export interface StoreSet {
  projects: ProjectStore;
  agents: AgentStore;
  runs: RunStore;
  fleet: FleetStore;
  budgets: BudgetStore;
  auth: AuthStore;
  analytics: AnalyticsStore;
  live: LiveStore;
  finance: FinanceStore;
  /**
   * Stores shared by several processes: a fleet long-poll also re-checks the database this often,
   * since a task queued through another replica wakes no waiter here.
   */
  claimPollMs?: number;
  /**
   * Stores shared by several processes: how often this replica re-reads the price books, to pick
   * up a book another replica imported (a book must therefore be imported at least this long
   * before its effective_from to price every replica's calls from that moment on).
   */
  booksPollMs?: number;
  /**
   * Stores shared by several processes: whether this one exports the gauges read from shared
   * tables (fleet, budget utilisation), so that they are exported once, not once per replica.
   */
  exportsSharedState?: () => Promise<boolean>;
}

export interface AppOptions {
  /** The SQLite database (the embedded default). Give this or `stores`. */
  db?: Db;
  stores?: StoreSet;
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
  private readonly sqlite: { db: Db; sql: Prepare; budgets: Budgets } | undefined;
  /** Resolves when start-up recovery and the metric totals are done (at once for SQLite). */
  readonly ready: Promise<void>;
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
  private booksPoll: NodeJS.Timeout | undefined;

  constructor(readonly opts: AppOptions) {
    let stores: StoreSet;
    if (opts.db) {
      const sql = statementCache(opts.db);
      const budgets = new Budgets(opts.db, sql);
      this.sqlite = { db: opts.db, sql, budgets };
      const projects = new SqliteProjectStore(sql);
      stores = {
        projects,
        agents: new SqliteAgentStore(sql),
        runs: new SqliteRunStore(opts.db, sql, budgets),
        fleet: new SqliteFleetStore(opts.db, sql),
        budgets,
        auth: new SqliteAuthStore(opts.db, sql),
        analytics: new SqliteAnalyticsStore(sql),
        live: new SqliteLiveStore(sql),
        finance: new SqliteFinanceStore(opts.db, sql),
      };
    } else if (opts.stores) {
      this.sqlite = undefined;
      stores = opts.stores;
    } else throw new Error('App needs a SQLite db or a set of stores');
    this.provider = new SimulatedProvider({ seed: opts.seed, failureRates: opts.failureRates, latencyScale: opts.latencyScale });
    this.tenancy = new Tenancy(stores.projects);
    this.auth = new Auth(stores.auth);
    this.projects = new Projects(stores.projects);
    // The price history: the books stored in the database plus opts.priceBook when it is new. With
    // SQLite it is complete when the constructor returns; with an asynchronous store it starts as
    // the start-up book alone and is replaced by the stored history before `ready` resolves (no
    // request is served before that, see server.ts).
    const history = new PriceHistory([{ book: opts.priceBook, from: opts.priceBook.effectiveFromMs }]);
    const metrics = new LedgerMetrics(history);
    this.agents = new Agents(stores.agents, metrics);
    this.runs = new Runs(stores.runs, stores.agents, history, this.provider, metrics);
    this.finance = new Finance(stores.finance, history, metrics);
    this.fleet = new Fleet(stores.fleet, opts.workerLostAfterMs, stores.claimPollMs);
    this.budgetLimits = new BudgetLimits(stores.budgets);
    this.analytics = new Analytics(stores.analytics);
    this.live = new Live(stores.live, stores.agents, stores.fleet, this.runs, { version: opts.version, instanceId: opts.instanceId, telemetryEnabled: opts.telemetryEnabled });
    const shared = stores.exportsSharedState;
    const once = <T>(rows: () => Promise<T[]>): (() => Promise<T[]>) => (shared ? async () => ((await shared()) ? rows() : []) : rows);
    inst.setStateSources({ budgets: once(() => this.budgetLimits.gaugeRows()), workers: once(() => this.fleet.workerGaugeRows()), tasks: once(() => this.fleet.taskCounterRows()) });

    // Nothing survives a restart in flight; the metric totals resume from the ledger. SQLite's
    // stores answer synchronously, so for them this is done when the constructor returns.
    const runStore = stores.runs;
    const agentStore = stores.agents;
    const financeStore = stores.finance;
    // A book imported to take effect later has its series at 0 already, as on import.
    const futureBooksAtZero = (): void => {
      for (const b of history.list()) if (b.from > Date.now()) metrics.newBook(b.book, b.from);
    };
    const stored = financeStore.books();
    if (!(stored instanceof Promise)) {
      const plan = Finance.planHistory(stored, opts.priceBook, Date.now());
      if (plan.toStore) financeStore.addBook(plan.toStore);
      history.replaceWith(plan.history.list());
      runStore.recover(Date.now());
      const totals = runStore.totals() as Awaited<ReturnType<RunStore['totals']>>;
      metrics.load(totals.ledger, totals.runs, agentStore.list() as AgentRow[]);
      futureBooksAtZero();
      this.ready = Promise.resolve();
    } else {
      this.ready = (async () => {
        await Finance.openHistory(financeStore, await stored, opts.priceBook, history);
        await runStore.recover(Date.now());
        const totals = await runStore.totals();
        metrics.load(totals.ledger, totals.runs, await agentStore.list());
        futureBooksAtZero();
        if (stores.booksPollMs) {
          this.booksPoll = setInterval(() => void this.finance.refresh().catch(() => undefined), stores.booksPollMs);
          this.booksPoll.unref();
        }
      })();
    }
  }

  /** The SQLite database (tests and benches of the embedded default). */
  get db(): Db {
    if (!this.sqlite) throw new Error('not a SQLite backend');
    return this.sqlite.db;
  }
  get sql(): Prepare {
    if (!this.sqlite) throw new Error('not a SQLite backend');
    return this.sqlite.sql;
  }
  /** The SQLite budget store (also the reservation the runs area takes). */
  get budgets(): Budgets {
    if (!this.sqlite) throw new Error('not a SQLite backend');
    return this.sqlite.budgets;
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
    if (this.booksPoll) clearInterval(this.booksPoll);
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

