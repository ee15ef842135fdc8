import { setMaxListeners } from 'node:events';
import { BackendApiError, BackendClient } from '../clients/backend.js';
import { RequestCounter, type ClassCounts, type RouteCount } from './counter.js';
import { CountingPool, SpreadingPool } from './counting-pool.js';
import { createRng, type Rng } from './prng.js';

/** What every example's run() takes. */
export interface ExampleOptions {
  backendUrl: string;
  /** Several replicas of one backend (one database): requests are spread over them in turn. */
  backendUrls?: readonly string[] | undefined;
  /** Operator token of the backend (used when the demo admin cannot log in, and for admin calls). */
  token?: string | undefined;
  durationMs?: number | undefined;
  /** VictoriaMetrics, for examples that read their figures back through the catalog. */
  vmUrl?: string | undefined;
  /** VictoriaLogs and the collector's OTLP/HTTP endpoint, for examples whose own apps export (17). */
  vlUrl?: string | undefined;
  otlpHttp?: string | undefined;
  seed?: number | undefined;
  /** Shared with the caller, so it can show calls and status classes live. */
  counter?: RequestCounter | undefined;
  progress?: LiveProgress | undefined;
  /** Aborting ends the workload early (Ctrl-C); in-flight requests still finish and are counted. */
  signal?: AbortSignal | undefined;
  /** Human-readable lines for the run trace (stderr in the CLI). */
  log?: ((line: string) => void) | undefined;
}

export interface ExampleCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ExampleResultBase {
  example: '12' | '17' | '34' | '40' | '43';
  title: string;
  seed: number;
  /** ISO times of the first request and the end of the workload: the window verification uses. */
  window: { from: string; to: string };
  /** Projects (tenants) the run used. */
  projects: string[];
  requests: {
    total: number;
    byClass: ClassCounts;
    /** Same, without health routes (the board's request panels exclude them). */
    byClassExcludingHealth: ClassCounts;
    healthByClass: ClassCounts;
    transportErrors: number;
    requestsPerSecond: number;
    /** Every request by method, route template and status. */
    byRoute: RouteCount[];
  };
  checks: ExampleCheck[];
}

/** Live numbers for the progress line. Examples add to them; the client counts calls. */
export class LiveProgress {
  runs = 0;
  runErrors = 0;
  denied = 0;
  spendUsd = 0;
  tasksDone = 0;
  tasksFailed = 0;
  workers = 0;
  phase = 'starting';
}

/** The pieces every example uses: a counting typed client, a seeded RNG, progress and checks. */
export class ExampleContext {
  readonly counter: RequestCounter;
  readonly progress: LiveProgress;
  readonly rng: Rng;
  readonly seed: number;
  readonly api: BackendClient;
  readonly checks: ExampleCheck[] = [];
  readonly log: (line: string) => void;
  readonly signal: AbortSignal;
  private readonly pool: CountingPool;
  private readonly stop = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(readonly options: ExampleOptions, defaultSeed: number) {
    this.counter = options.counter ?? new RequestCounter();
    this.progress = options.progress ?? new LiveProgress();
    this.seed = options.seed ?? defaultSeed;
    this.rng = createRng(this.seed);
    this.log = options.log ?? (() => undefined);
    const origins = (options.backendUrls && options.backendUrls.length > 1 ? options.backendUrls : [options.backendUrl]).map((u) => new URL(u).origin);
    this.pool = origins.length > 1 ? new SpreadingPool(origins, this.counter) : new CountingPool(origins[0] as string, this.counter);
    this.api = new BackendClient({ baseUrl: options.backendUrl, token: options.token, timeoutMs: 60_000 }, this.pool);
    const outer = options.signal;
    if (outer) {
      if (outer.aborted) this.stop.abort();
      else outer.addEventListener('abort', () => this.stop.abort(), { once: true });
    }
    this.signal = this.stop.signal;
    setMaxListeners(0, this.signal);
  }

  /**
   * An AbortSignal that fires after `ms` or when the run is cancelled. A plain timer rather than
   * AbortSignal.timeout inside AbortSignal.any: on Node 20 that composite can be collected
   * before it fires, and the workload would never end.
   */
  deadline(ms: number): AbortSignal {
    const ac = new AbortController();
    setMaxListeners(0, ac.signal);
    const timer = setTimeout(() => ac.abort(), Math.max(0, ms));
    const cancel = (): void => {
      clearTimeout(timer);
      ac.abort();
    };
    if (this.signal.aborted) cancel();
    else this.signal.addEventListener('abort', cancel, { once: true });
    this.timers.push(timer);
    return ac.signal;
  }

  check(name: string, ok: boolean, detail: string): boolean {
    this.checks.push({ name, ok, detail });
    return ok;
  }

  requestsSummary(endMs: number): ExampleResultBase['requests'] {
    const first = this.counter.firstRequestAt ?? endMs;
    const seconds = Math.max(0.001, (endMs - first) / 1000);
    const total = this.counter.total();
    return {
      total,
      byClass: this.counter.byClass('include'),
      byClassExcludingHealth: this.counter.byClass('exclude'),
      healthByClass: this.counter.byClass('only'),
      transportErrors: this.counter.transportErrors,
      requestsPerSecond: Math.round((total / seconds) * 10) / 10,
      byRoute: this.counter.rows(),
    };
  }

  window(endMs: number): { from: string; to: string } {
    return { from: new Date(this.counter.firstRequestAt ?? endMs).toISOString(), to: new Date(endMs).toISOString() };
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    await this.pool.close();
  }
}

/** The status of an API error, or undefined for anything else (transport errors). */
export function apiStatus(err: unknown): number | undefined {
  return err instanceof BackendApiError ? err.status : undefined;
}

/** Run `fn`; a 409 (already exists) counts as success, so examples can run twice on one backend. */
export async function idempotent<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (apiStatus(err) === 409) return undefined;
    throw err;
  }
}

export function round(n: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
