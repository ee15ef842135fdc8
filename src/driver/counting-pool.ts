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
