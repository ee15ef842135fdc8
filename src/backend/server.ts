import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildOpenApi } from '../contract/openapi.js';
import { operations, type Operation } from '../contract/operations.js';
import { App, type AppOptions } from './app.js';
import { requestLog } from './audit.js';
import { HttpError, parseJson, parseQuery, readBody, sendJson } from './http.js';
import { finishedRequest } from './http-telemetry.js';
import * as inst from './instruments.js';
import { bind, headerValue, type Ctx, type RouteBinding } from './routing.js';

/**
 * The admin backend's HTTP server on node:http. The request pipeline lives here, once: route
 * match (405 with Allow, 404), span, HTTP metrics, authentication, the handler of the area
 * (src/backend/areas/*), the JSON answer or error, the request log. Every client mistake is a 4xx
 * JSON error; every request gets a span and the HTTP metrics (except probes and OPTIONS).
 */
export interface BackendOptions extends AppOptions {
  host?: string;
  port?: number;
  /** Largest accepted request body, bytes (default 1 MiB). */
  bodyLimit?: number;
}

export interface RunningBackend {
  url: string;
  port: number;
  app: App;
  /** Stops accepting, lets in-flight requests finish (up to drainMs), then closes. */
  close(drainMs?: number): Promise<void>;
}

interface Route {
  op: Operation;
  re: RegExp;
  keys: string[];
  handler: RouteBinding['handler'];
}

function compile(b: RouteBinding): Route {
  const keys: string[] = [];
  const re = new RegExp(`^${b.op.path.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, k: string) => (keys.push(k), '([^/]+)'))}$`);
  return { op: b.op, re, keys, handler: b.handler };
}

export async function startBackend(opts: BackendOptions): Promise<RunningBackend> {
  const app = new App(opts);
  await app.ready;
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const openapi = buildOpenApi(opts.version);
  const bindings = [...app.routes(), bind(operations.openapi, () => ({ status: 200, body: openapi })), bind(operations.healthz, () => ({ status: 200, body: { status: 'ok' as const } }))];
  const bound = new Set(bindings.map((b) => b.op.id));
  const unbound = Object.keys(operations).filter((id) => !bound.has(id));
  if (unbound.length) throw new Error(`operations without a handler: ${unbound.join(', ')}`);
  // Matched in the contract's order, so Allow lists a path's methods as the contract does.
  const order = Object.keys(operations);
  const routes = bindings.map(compile).sort((a, b) => order.indexOf(a.op.id) - order.indexOf(b.op.id));

  const inflight = new Set<Promise<void>>();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = performance.now();
    const startMs = performance.timeOrigin + t0;
    const method = (req.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    let route: Route | undefined;
    let params: Record<string, string> = {};
    const allowed: string[] = [];
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.op.method === method || (method === 'HEAD' && r.op.method === 'GET')) {
        route = r;
        params = Object.fromEntries(r.keys.map((k, i) => [k, safeDecode(m[i + 1] as string)]));
        break;
      }
      if (!allowed.includes(r.op.method)) allowed.push(r.op.method);
    }
    if (method === 'OPTIONS') {
      // Not counted, traced or logged: browsers' preflights would drown the request metrics.
      if (allowed.length === 0) sendJson(res, 404, { error: { code: 'not_found', message: `no route for ${path}` } });
      else {
        res.writeHead(204, { allow: [...allowed, 'OPTIONS'].join(', ') });
        res.end();
      }
      return;
    }
    const instrument = route ? route.op.instrument !== false : !['/metrics', '/healthz', '/readyz'].includes(path);
    const template = route?.op.path;
    const active = instrument ? inst.activeRequests(method, template) : undefined;
    if (active) active.active++;
    // Only a client that went away before the response ended aborts the handler (a long-poll or a
    // stream); aborting after every finished response cost a DOMException per request. The
    // controller is made only for a handler that asks for the signal (most never do).
    let abortCtl: AbortController | undefined;
    let clientGone = false;
    res.on('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      abortCtl?.abort();
    });
    let bodyPromise: Promise<unknown> | undefined;
    const ctx: Ctx = {
      req,
      res,
      url,
      params,
      query: {},
      get abort(): AbortSignal {
        if (abortCtl === undefined) {
          abortCtl = new AbortController();
          if (clientGone) abortCtl.abort();
        }
        return abortCtl.signal;
      },
      body: () => (bodyPromise ??= readBody(req, bodyLimit).then((b) => parseJson(b, headerValue(req, 'content-type')))),
    };
    let status = 500;
    let size = 0;
    let errCode: string | undefined;
    try {
      if (!route) {
        if (allowed.length > 0) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`, { allow: allowed }, { allow: allowed.join(', ') });
        throw new HttpError(404, 'not_found', `no route for ${method} ${path}`);
      }
      if (draining && route.op.auth !== 'none') throw new HttpError(503, 'shutting_down', 'the backend is shutting down', {}, { 'retry-after': '1' });
      if (route.op.auth === 'user') ctx.principal = await app.auth.authenticate(req, method);
      if (route.op.query) ctx.query = parseQuery(route.op.query, url.searchParams);
      const reply = await route.handler(ctx);
      if (res.headersSent) {
        status = res.statusCode;
      } else {
        status = reply?.status ?? 200;
        if (status === 204) {
          res.writeHead(204, reply?.headers ?? {});
          res.end();
        } else size = sendJson(res, status, reply?.body ?? {}, reply?.headers);
      }
    } catch (err) {
      if (res.headersSent) {
        // Mid-stream failure: end the stream; the status line has already gone out.
        status = res.statusCode;
        errCode = 'stream_aborted';
        res.end();
      } else if (err instanceof HttpError) {
        status = err.status;
        errCode = err.code;
        size = sendJson(res, err.status, { error: { code: err.code, message: err.message, ...err.extra } }, err.headers);
      } else {
        status = 500;
        errCode = 'internal';
        size = sendJson(res, 500, { error: { code: 'internal', message: 'internal error; see the server log' } });
        process.stderr.write(`[sagewai-admin] ${method} ${path}: ${(err as Error)?.stack ?? String(err)}\n`);
      }
      if (bodyPromise === undefined && !req.readableEnded) req.resume();
    }
    if (!active) return;
    const done = (): void => {
      active.active--;
      finishedRequest({
        method,
        route: template,
        path,
        startMs,
        seconds: (performance.now() - t0) / 1000,
        bodyBytes: size || Number(res.getHeader('content-length') ?? 0),
        status,
        project: ctx.project || undefined,
        actor: ctx.principal?.id,
        errCode,
        traceparent: headerValue(req, 'traceparent'),
        tracestate: headerValue(req, 'tracestate'),
      });
      if (status >= 400) requestLog(method, template ?? 'unmatched', status, ctx.project, errCode);
    };
    if (res.writableFinished) done();
    else res.once('close', done);
  };

  const server = http.createServer({ keepAliveTimeout: 30_000, requestTimeout: 120_000 }, (req, res) => {
    const p = handle(req, res).catch((err: unknown) => {
      process.stderr.write(`[sagewai-admin] unhandled: ${String(err)}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal', message: 'internal error' } });
      else res.end();
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  server.on('clientError', (err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":{"code":"bad_request","message":"malformed HTTP request"}}');
    else socket.destroy(err);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    app,
    close: (drainMs = 10_000) =>
      (closed ??= (async () => {
        draining = true;
        app.wakeAllWaiters();
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, drainMs).unref())]);
        server.closeAllConnections();
        await stopped;
        app.close();
      })()),
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
