import { Pool, type Dispatcher } from 'undici';
import type { RequestCounter } from './counter.js';

/**
 * An undici keep-alive Pool that records every request's method, route template and status in a
 * RequestCounter as soon as the status line arrives. Handing it to src/clients/backend.ts's
 * BackendClient lets the examples use the shared typed client and still count every call.
 */
export class CountingPool extends Pool {
  constructor(
    origin: string,
    private readonly counter: RequestCounter,
    options: Pool.Options = {},
  ) {
    super(origin, { connections: 48, keepAliveTimeout: 30_000, pipelining: 1, ...options });
  }

  override request<TOpaque = null>(options: Dispatcher.RequestOptions<TOpaque>, callback: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void): void;
  override request<TOpaque = null>(options: Dispatcher.RequestOptions<TOpaque>): Promise<Dispatcher.ResponseData<TOpaque>>;
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
    callback?: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void,
  ): void | Promise<Dispatcher.ResponseData<TOpaque>> {
    const method = String(options.method);
    const route = routeTemplate(options.path);
    this.counter.started();
    const p = super.request(options).then(
      (data) => {
        this.counter.record(method, route, data.statusCode);
        return data;
      },
      (err: unknown) => {
        this.counter.recordTransportError();
        throw err;
      },
    );
    if (!callback) return p;
    p.then(
      (d) => callback(null, d),
      (e: unknown) => callback(e as Error, undefined as unknown as Dispatcher.ResponseData<TOpaque>),
    );
  }
}

/**
 * Several backend replicas behind one client: each request goes to the next replica in turn
 * (round robin), counted in one RequestCounter. The first origin is this pool's own.
 */
export class SpreadingPool extends CountingPool {
  private readonly others: CountingPool[];
  private next = 0;

  constructor(origins: readonly string[], counter: RequestCounter, options: Pool.Options = {}) {
    const [first, ...rest] = origins;
    if (first === undefined) throw new Error('SpreadingPool needs at least one origin');
    super(first, counter, options);
    this.others = rest.map((o) => new CountingPool(o, counter, options));
  }

  override request<TOpaque = null>(options: Dispatcher.RequestOptions<TOpaque>, callback: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void): void;
  override request<TOpaque = null>(options: Dispatcher.RequestOptions<TOpaque>): Promise<Dispatcher.ResponseData<TOpaque>>;
  override request<TOpaque = null>(
    options: Dispatcher.RequestOptions<TOpaque>,
    callback?: (err: Error | null, data: Dispatcher.ResponseData<TOpaque>) => void,
  ): void | Promise<Dispatcher.ResponseData<TOpaque>> {
    const i = this.next++ % (this.others.length + 1);
    const target = i === 0 ? undefined : this.others[i - 1];
    if (!target) return callback ? super.request(options, callback) : super.request(options);
    return callback ? target.request(options, callback) : target.request(options);
  }

  // undici's promise form of close() calls this.close(callback): only that form closes this pool itself.
  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    if (callback) return super.close(callback);
    return Promise.all([super.close(), ...this.others.map((p) => p.close())]).then(() => undefined);
  }
}

/** Route templates of the backend paths the examples call; a path not listed counts as itself. */
const TEMPLATES: Array<[RegExp, string]> = [
  [/^\/api\/v1\/projects\/[^/]+\/tokens$/, '/api/v1/projects/{slug}/tokens'],
  [/^\/api\/v1\/projects\/[^/]+$/, '/api/v1/projects/{slug}'],
  [/^\/playground\/agents\/[^/]+$/, '/playground/agents/{name}'],
  [/^\/api\/v1\/budget\/status\/[^/]+\/[^/]+$/, '/api/v1/budget/status/{scope}/{subject}'],
  [/^\/api\/v1\/budget\/status\/[^/]+$/, '/api/v1/budget/status/{scope}'],
];

export function routeTemplate(pathWithQuery: string): string {
  const path = pathWithQuery.split('?')[0] ?? pathWithQuery;
  for (const [re, template] of TEMPLATES) if (re.test(path)) return template;
  return path;
}
