import crypto from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace } from '@opentelemetry/api';
import { ATTR_HTTP_RESPONSE_STATUS_CODE } from '@opentelemetry/semantic-conventions';
import type { z } from 'zod';
import { App, agentJson, budgetJson, projectJson, verifyPassword, type AppOptions } from './app.js';
import { audit, requestLog } from './audit.js';
import { HttpError, clientIp, notFound, parseCookies, parseJson, readBody, sendJson, validate } from './http.js';
import * as inst from './instruments.js';
import { buildOpenApi } from './openapi.js';
import * as schemas from './schemas.js';
import { ATTR_SAGEWAI_AUTH_OUTCOME, ATTR_SAGEWAI_PROJECT_ID } from './semconv.js';
import { newSecret, sha256 } from './store.js';

/**
 * The admin backend's HTTP server on node:http with a small router. Every client mistake is a
 * 4xx JSON error; every request gets a span and the HTTP metrics (except probes and OPTIONS).
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

type AuthKind = 'none' | 'user' | 'worker';
type Principal = { kind: 'operator' | 'user' | 'project'; id: string; project: string | null; via: 'bearer' | 'cookie'; csrf?: string; sessionHash?: string };

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  principal?: Principal;
  /** Project the request is about (sets sagewai.project_id). */
  project?: string;
  body(): Promise<unknown>;
  abort: AbortSignal;
}

interface Route {
  method: string;
  template: string;
  re: RegExp;
  keys: string[];
  auth: AuthKind;
  summary: string;
  schema?: z.ZodTypeAny;
  instrument: boolean;
  handler: (ctx: Ctx) => Promise<Reply | undefined> | Reply | undefined;
}

interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string | string[]>;
}

const LOGIN_WINDOW_MS = 15 * 60_000;
const LOGIN_MAX_FAILURES = 5;
const SESSION_TTL_MS = 12 * 3_600_000;
const SESSION_COOKIE = 'sagewai_session';
const CSRF_COOKIE = 'sagewai_csrf';

const tracer = trace.getTracer('sagewai-admin');

export async function startBackend(opts: BackendOptions): Promise<RunningBackend> {
  const app = new App(opts);
  const bodyLimit = opts.bodyLimit ?? 1024 * 1024;
  const loginFailures = new Map<string, number[]>();
  const routes: Route[] = [];

  const add = (method: string, template: string, auth: AuthKind, summary: string, handler: Route['handler'], extra: { schema?: z.ZodTypeAny; instrument?: boolean } = {}): void => {
    const keys: string[] = [];
    const re = new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{(\w+)\}/g, (_, k: string) => (keys.push(k), '([^/]+)'))}$`);
    routes.push({ method, template, re, keys, auth, summary, handler, instrument: extra.instrument ?? true, ...(extra.schema ? { schema: extra.schema } : {}) });
  };

  // ── auth helpers ──
  const requireUnscoped = (ctx: Ctx): void => {
    if (ctx.principal?.kind === 'project') throw new HttpError(403, 'forbidden', 'a project-scoped token cannot do this');
  };
  /** The project named by X-Project-ID (required), visible to the principal, else 404. */
  const tenant = (ctx: Ctx): string => {
    const slug = headerValue(ctx.req, 'x-project-id');
    if (!slug) throw new HttpError(400, 'project_required', 'this route needs the X-Project-ID header');
    return visibleProject(ctx, slug);
  };
  const visibleProject = (ctx: Ctx, slug: string): string => {
    const p = ctx.principal;
    if (p?.kind === 'project' && p.project !== slug) throw notFound(`project ${slug}`);
    if (!app.getProject(slug)) throw notFound(`project ${slug}`);
    ctx.project = slug;
    return slug;
  };
  /** Optional project filter: header or ?project=, forced to the token's own project. */
  const optionalTenant = (ctx: Ctx): string | undefined => {
    const slug = headerValue(ctx.req, 'x-project-id') ?? ctx.url.searchParams.get('project') ?? undefined;
    if (slug) return visibleProject(ctx, slug);
    if (ctx.principal?.kind === 'project' && ctx.principal.project) return visibleProject(ctx, ctx.principal.project);
    return undefined;
  };
  const actor = (ctx: Ctx): string => ctx.principal?.id ?? 'anonymous';

  // ── setup and auth ──
  add('GET', '/api/v1/setup/status', 'none', 'Is first-run setup still required?', () => ({ body: { setup_required: app.setupRequired() } }));
  add('POST', '/api/v1/setup', 'none', 'First-run setup: organisation and admin user (409 once done)', async (ctx) => ({ status: 201, body: await app.setup(validate(schemas.setupBody, await ctx.body())) }), { schema: schemas.setupBody });
  add('POST', '/api/v1/auth/login', 'none', 'Log in: bearer access_token plus HttpOnly session cookie and CSRF cookie', async (ctx) => {
    const input = validate(schemas.loginBody, await ctx.body());
    const key = `${clientIp(ctx.req)}|${sha256(input.email.toLowerCase())}`;
    const now = Date.now();
    const recent = (loginFailures.get(key) ?? []).filter((t) => t > now - LOGIN_WINDOW_MS);
    if (recent.length >= LOGIN_MAX_FAILURES) {
      const retry = Math.max(1, Math.ceil(((recent[0] as number) + LOGIN_WINDOW_MS - now) / 1000));
      inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'throttled' });
      audit('auth.login.throttled', undefined, undefined, { 'client.address': clientIp(ctx.req) });
      throw new HttpError(429, 'too_many_attempts', 'too many failed logins; wait before trying again', { retry_after_s: retry }, { 'retry-after': String(retry) });
    }
    const user = app.sql<[string], { id: string; email: string; name: string; role: string; password_hash: string }>('SELECT * FROM users WHERE email = ?').get(input.email.toLowerCase());
    const ok = user ? await verifyPassword(input.password, user.password_hash) : (await verifyPassword(input.password, 'scrypt$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='), false);
    if (!user || !ok) {
      recent.push(now);
      loginFailures.set(key, recent);
      if (loginFailures.size > 10_000) {
        for (const [k, v] of loginFailures) if ((v[v.length - 1] ?? 0) <= now - LOGIN_WINDOW_MS) loginFailures.delete(k);
      }
      inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'failed' });
      audit('auth.login.failed', undefined, user?.id, { 'client.address': clientIp(ctx.req) });
      throw new HttpError(401, 'invalid_credentials', 'wrong e-mail or password');
    }
    loginFailures.delete(key);
    const token = `sgs_${newSecret()}`;
    const csrf = newSecret();
    app.sql('INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(sha256(token), user.id, csrf, now, now + SESSION_TTL_MS);
    inst.authLogins.add(1, { [ATTR_SAGEWAI_AUTH_OUTCOME]: 'success' });
    audit('auth.login.success', undefined, user.id);
    const maxAge = Math.floor(SESSION_TTL_MS / 1000);
    return {
      body: { access_token: token, token_type: 'bearer', expires_in: maxAge, user: { id: user.id, email: user.email, name: user.name, role: user.role } },
      headers: { 'set-cookie': [`${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}`, `${CSRF_COOKIE}=${csrf}; SameSite=Strict; Path=/; Max-Age=${maxAge}`] },
    };
  }, { schema: schemas.loginBody });
  add('GET', '/api/v1/auth/me', 'user', 'The caller', (ctx) => {
    const p = ctx.principal as Principal;
    const user = p.kind === 'user' ? app.sql<[string], { id: string; email: string; name: string; role: string }>('SELECT id, email, name, role FROM users WHERE id = ?').get(p.id) : undefined;
    return { body: { user: user ?? null, token: { kind: p.kind, project: p.project } } };
  });
  add('POST', '/api/v1/auth/logout', 'user', 'End the session', (ctx) => {
    const p = ctx.principal as Principal;
    if (p.sessionHash) app.sql('DELETE FROM sessions WHERE token_hash = ?').run(p.sessionHash);
    audit('auth.logout', undefined, p.id);
    return { body: { ok: true }, headers: { 'set-cookie': [`${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`, `${CSRF_COOKIE}=; SameSite=Strict; Path=/; Max-Age=0`] } };
  });

  // ── projects ──
  add('GET', '/api/v1/projects', 'user', 'List projects visible to the caller', (ctx) => {
    const p = ctx.principal as Principal;
    return { body: { items: app.listProjects(p.kind === 'project' ? (p.project ?? '') : undefined).map(projectJson) } };
  });
  add('POST', '/api/v1/projects', 'user', 'Create a project (409 on a duplicate slug)', async (ctx) => {
    requireUnscoped(ctx);
    const input = validate(schemas.projectBody, await ctx.body());
    ctx.project = input.slug;
    return { status: 201, body: projectJson(app.createProject(input, actor(ctx))) };
  }, { schema: schemas.projectBody });
  add('GET', '/api/v1/projects/{slug}', 'user', 'One project (404 unknown)', (ctx) => ({ body: projectJson(app.getProject(visibleProject(ctx, ctx.params.slug as string)) as never) }));
  add('POST', '/api/v1/projects/{slug}/tokens', 'user', 'Create a bearer token scoped to one project', async (ctx) => {
    requireUnscoped(ctx);
    const slug = visibleProject(ctx, ctx.params.slug as string);
    const input = validate(schemas.projectTokenBody, await ctx.body());
    return { status: 201, body: app.createProjectToken(slug, input.name) };
  }, { schema: schemas.projectTokenBody });

  // ── playground ──
  add('POST', '/playground/agent', 'user', 'Create an agent in the X-Project-ID project', async (ctx) => {
    const project = tenant(ctx);
    const input = validate(schemas.agentBody, await ctx.body());
    return { status: 201, body: agentJson(app.createAgent(project, input, actor(ctx))) };
  }, { schema: schemas.agentBody });
  add('GET', '/playground/agents', 'user', 'Agents of the X-Project-ID project', (ctx) => ({ body: { items: app.listAgents(tenant(ctx)).map(agentJson) } }));
  add('GET', '/playground/agents/{name}', 'user', 'One agent', (ctx) => {
    const a = app.getAgent(tenant(ctx), ctx.params.name as string);
    if (!a) throw notFound(`agent ${ctx.params.name}`);
    return { body: agentJson(a) };
  });
  add('POST', '/playground/run', 'user', 'Run an agent; answers text/event-stream (run_started, text_message_content…, run_finished); 402 on a budget stop', async (ctx) => {
    const project = tenant(ctx);
    const input = validate(schemas.runBody, await ctx.body());
    const res = ctx.res;
    let open = false;
    const send = (event: string, data: unknown): void => {
      if (!open) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        open = true;
      }
      if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const result = await app.run(project, input, actor(ctx), {
      started: (e) => send('run_started', e),
      delta: (d) => send('text_message_content', { delta: d }),
      warning: (w) => send('budget_warning', w),
    });
    if (result.status === 'error') send('run_error', { run_id: result.run_id, error: result.error });
    send('run_finished', result);
    res.end();
    return undefined;
  }, { schema: schemas.runBody });
  add('POST', '/api/v1/providers/test', 'user', 'Check the (simulated) provider for a model; audited as provider.test.success|failed', async (ctx) => {
    const project = optionalTenant(ctx);
    const input = validate(schemas.providerTestBody, await ctx.body());
    return { body: await app.testProvider(project, input.model, input.fail, actor(ctx)) };
  }, { schema: schemas.providerTestBody });
  add('GET', '/admin/runs', 'user', 'Runs, newest first: ?agent_name&status&limit&offset', (ctx) => {
    const q = ctx.url.searchParams;
    const limit = intParam(q.get('limit'), 50, 1, 500, 'limit');
    const offset = intParam(q.get('offset'), 0, 0, 1_000_000_000, 'offset');
    return { body: app.listRuns({ project: optionalTenant(ctx), agent_name: q.get('agent_name') ?? undefined, status: q.get('status') ?? undefined, limit, offset }) };
  });

  // ── fleet ──
  add('POST', '/api/v1/fleet/register', 'user', 'Register a worker in the X-Project-ID project', async (ctx) => {
    const project = tenant(ctx);
    return { status: 201, body: app.registerWorker(project, validate(schemas.registerBody, await ctx.body()), actor(ctx)) };
  }, { schema: schemas.registerBody });
  const worker = (ctx: Ctx) => {
    const w = app.authWorker(headerValue(ctx.req, 'x-worker-id'), headerValue(ctx.req, 'x-worker-secret'));
    ctx.project = w.project;
    return w;
  };
  add('POST', '/api/v1/fleet/heartbeat', 'worker', 'Worker heartbeat', async (ctx) => {
    const w = worker(ctx);
    validate(schemas.heartbeatBody, await ctx.body());
    return { body: app.heartbeat(w) };
  }, { schema: schemas.heartbeatBody });
  add('POST', '/api/v1/fleet/claim', 'worker', 'Long-poll for a task of the worker\'s project and pool (204 when none)', async (ctx) => {
    const w = worker(ctx);
    const input = validate(schemas.claimBody, await ctx.body());
    const task = await app.claim(w, input.wait_ms, ctx.abort);
    return task ? { body: task } : { status: 204 };
  }, { schema: schemas.claimBody });
  add('POST', '/api/v1/fleet/report', 'worker', 'Report a claimed task\'s outcome', async (ctx) => {
    const w = worker(ctx);
    return { body: { ok: true, task: app.report(w, validate(schemas.reportBody, await ctx.body())) } };
  }, { schema: schemas.reportBody });
  add('POST', '/api/v1/fleet/tasks', 'user', 'Enqueue a task in the X-Project-ID project', async (ctx) => {
    const project = tenant(ctx);
    return { status: 201, body: app.createTask(project, validate(schemas.taskBody, await ctx.body()), actor(ctx)) };
  }, { schema: schemas.taskBody });
  add('GET', '/api/v1/fleet/tasks', 'user', 'Tasks (optionally ?status=)', (ctx) => ({ body: { items: app.listTasks(optionalTenant(ctx), ctx.url.searchParams.get('status') ?? undefined) } }));
  add('GET', '/api/v1/fleet/workers', 'user', 'Workers', (ctx) => ({ body: { items: app.listWorkers(optionalTenant(ctx)) } }));

  // ── health, analytics, live, budgets ──
  add('GET', '/api/v1/health/summary', 'none', 'Public health summary', () => ({ body: app.health() }));
  add('GET', '/api/v1/analytics/costs', 'user', 'Cost totals from the ledger: ?from&to (ISO) &group_by=project,model,agent,provider,token_type', (ctx) => {
    const q = ctx.url.searchParams;
    const from = timeParam(q.get('from'), 0, 'from');
    const to = timeParam(q.get('to'), Date.now() + 1, 'to');
    if (to < from) throw new HttpError(400, 'invalid_query', '`to` is before `from`');
    const groupBy = q.getAll('group_by').flatMap((g) => g.split(',')).map((g) => g.trim()).filter(Boolean);
    for (const g of groupBy) if (!['project', 'model', 'agent', 'provider', 'token_type'].includes(g)) throw new HttpError(400, 'invalid_query', `group_by ${JSON.stringify(g)} is not one of project, model, agent, provider, token_type`);
    return { body: app.costs({ project: optionalTenant(ctx), from, to, groupBy: [...new Set(groupBy)] }) };
  });
  add('GET', '/api/v1/live', 'user', 'Live state for the HUD: agents, runs and tasks in flight, workers', (ctx) => ({ body: app.live(optionalTenant(ctx)) }));
  add('GET', '/api/v1/budget/limits', 'user', 'Budget limits', (ctx) => ({ body: { items: app.budgets.list(optionalTenant(ctx)).map(budgetJson) } }));
  add('POST', '/api/v1/budget/limits', 'user', 'Create or replace a budget limit in the X-Project-ID project', async (ctx) => {
    const project = tenant(ctx);
    const input = validate(schemas.budgetBody, await ctx.body());
    const subject = input.scope === 'project' ? (input.subject ?? project) : input.subject;
    if (!subject) throw new HttpError(422, 'validation_failed', `subject is required for scope ${input.scope}`, { issues: [{ path: 'subject', message: 'Required', code: 'invalid_type' }] });
    if (input.scope === 'project' && subject !== project) throw new HttpError(422, 'validation_failed', 'a project budget\'s subject is its own project slug', { issues: [{ path: 'subject', message: 'must equal X-Project-ID', code: 'custom' }] });
    if (input.action === 'throttle' && !input.fallback_model) throw new HttpError(422, 'validation_failed', 'throttle needs fallback_model', { issues: [{ path: 'fallback_model', message: 'Required for throttle', code: 'invalid_type' }] });
    const row = app.budgets.upsert({ project, scope: input.scope, subject, window: input.window, limit_nusd: Math.round(input.limit_usd * 1e9), action: input.action, fallback_model: input.fallback_model ?? null });
    return { status: 201, body: budgetJson(row) };
  }, { schema: schemas.budgetBody });
  const budgetStatus = (ctx: Ctx) => {
    const scope = ctx.params.scope;
    if (scope !== undefined && !['project', 'team', 'user'].includes(scope)) throw notFound(`budget scope ${scope}`);
    return { body: { items: app.budgetStatus(optionalTenant(ctx), scope as 'project' | undefined, ctx.params.subject) } };
  };
  add('GET', '/api/v1/budget/status', 'user', 'Budget status: spend, reservations, utilisation, reset time', budgetStatus);
  add('GET', '/api/v1/budget/status/{scope}', 'user', 'Budget status for one scope', budgetStatus);
  add('GET', '/api/v1/budget/status/{scope}/{subject}', 'user', 'Budget status for one subject', budgetStatus);

  // ── meta (not instrumented) ──
  add('GET', '/openapi.json', 'none', 'This document', () => ({ body: openapi }), { instrument: true });
  add('GET', '/healthz', 'none', 'Liveness', () => ({ body: { status: 'ok' } }), { instrument: false });
  add('GET', '/readyz', 'none', 'Readiness', () => {
    app.sql('SELECT 1').get();
    return { body: { status: 'ready' } };
  }, { instrument: false });

  const openapi = buildOpenApi(opts.version, routes.map((r) => ({ method: r.method, template: r.template, summary: r.summary, auth: r.auth, schema: r.schema })));

  // ── the request pipeline ──
  const authenticate = (req: IncomingMessage, method: string): Principal => {
    const authz = headerValue(req, 'authorization');
    const now = Date.now();
    if (authz) {
      const m = /^Bearer\s+(\S+)$/i.exec(authz);
      if (!m) throw new HttpError(401, 'unauthorized', 'Authorization must be "Bearer <token>"', {}, { 'www-authenticate': 'Bearer' });
      const h = sha256(m[1] as string);
      const s = app.sql<[string, number], { user_id: string; csrf: string }>('SELECT user_id, csrf FROM sessions WHERE token_hash = ? AND expires_at > ?').get(h, now);
      if (s) return { kind: 'user', id: s.user_id, project: null, via: 'bearer', sessionHash: h };
      const t = app.sql<[string], { id: string; kind: string; project: string | null }>('SELECT id, kind, project FROM tokens WHERE token_hash = ?').get(h);
      if (t) return { kind: t.kind === 'project' ? 'project' : 'operator', id: t.kind === 'operator' ? 'operator' : t.id, project: t.project, via: 'bearer' };
      throw new HttpError(401, 'unauthorized', 'invalid or expired token', {}, { 'www-authenticate': 'Bearer' });
    }
    const cookies = parseCookies(headerValue(req, 'cookie'));
    const sess = cookies[SESSION_COOKIE];
    if (sess) {
      const h = sha256(sess);
      const s = app.sql<[string, number], { user_id: string; csrf: string }>('SELECT user_id, csrf FROM sessions WHERE token_hash = ? AND expires_at > ?').get(h, now);
      if (!s) throw new HttpError(401, 'unauthorized', 'session expired; log in again');
      if (!['GET', 'HEAD'].includes(method)) {
        const sent = headerValue(req, 'x-csrf-token') ?? '';
        const a = Buffer.from(sent);
        const b = Buffer.from(s.csrf);
        if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) throw new HttpError(403, 'csrf_failed', 'cookie-authenticated changes need the X-CSRF-Token header (the sagewai_csrf cookie value)');
      }
      return { kind: 'user', id: s.user_id, project: null, via: 'cookie', csrf: s.csrf, sessionHash: h };
    }
    throw new HttpError(401, 'unauthorized', 'authentication required: Authorization: Bearer <token> or a session cookie', {}, { 'www-authenticate': 'Bearer' });
  };

  const inflight = new Set<Promise<void>>();
  let draining = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const t0 = performance.now();
    const method = (req.method ?? 'GET').toUpperCase();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      url = new URL('http://localhost/');
    }
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    if (method === 'OPTIONS') {
      res.writeHead(204, { allow: 'GET, POST, OPTIONS' });
      res.end();
      return;
    }
    let route: Route | undefined;
    let params: Record<string, string> = {};
    const allowed = new Set<string>();
    for (const r of routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) {
        route = r;
        params = Object.fromEntries(r.keys.map((k, i) => [k, safeDecode(m[i + 1] as string)]));
        break;
      }
      allowed.add(r.method);
    }
    const instrument = route ? route.instrument : !['/metrics', '/healthz', '/readyz'].includes(path);
    const template = route?.template;
    const series = instrument ? inst.httpServerSeries(method, template) : undefined;
    const span = series ? tracer.startSpan(`${method} ${template ?? ''}`.trim(), { kind: SpanKind.SERVER, attributes: { ...series.attributes, 'url.path': path } }, propagation.extract(ROOT_CONTEXT, req.headers)) : undefined;
    if (series) series.active++;
    const abortCtl = new AbortController();
    // Only a client that went away before the response ended aborts the handler (a long-poll or a
    // stream); aborting after every finished response cost a DOMException per request.
    res.on('close', () => {
      if (!res.writableFinished) abortCtl.abort();
    });
    let bodyPromise: Promise<unknown> | undefined;
    const ctx: Ctx = {
      req,
      res,
      url,
      params,
      abort: abortCtl.signal,
      body: () => (bodyPromise ??= readBody(req, bodyLimit).then((b) => parseJson(b, headerValue(req, 'content-type')))),
    };
    let status = 500;
    let size = 0;
    let errCode: string | undefined;
    try {
      if (!route) {
        if (allowed.size > 0) throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}`, { allow: [...allowed] }, { allow: [...allowed].join(', ') });
        throw new HttpError(404, 'not_found', `no route for ${method} ${path}`);
      }
      if (draining && route.auth !== 'none') throw new HttpError(503, 'shutting_down', 'the backend is shutting down', {}, { 'retry-after': '1' });
      if (route.auth === 'user') ctx.principal = authenticate(req, method);
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
    if (!series) return;
    const done = (): void => {
      series.active--;
      series.record((performance.now() - t0) / 1000, size || Number(res.getHeader('content-length') ?? 0), status, ctx.project || undefined);
      if (span) {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        if (ctx.project) span.setAttribute(ATTR_SAGEWAI_PROJECT_ID, ctx.project);
        if (ctx.principal) span.setAttribute('sagewai.actor', ctx.principal.id);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: errCode ?? String(status) });
        span.end();
      }
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

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function intParam(raw: string | null, dflt: number, min: number, max: number, name: string): number {
  if (raw === null || raw === '') return dflt;
  if (!/^\d+$/.test(raw)) throw new HttpError(400, 'invalid_query', `${name} must be an integer`);
  const n = Number(raw);
  if (n < min || n > max) throw new HttpError(400, 'invalid_query', `${name} must be between ${min} and ${max}`);
  return n;
}

function timeParam(raw: string | null, dflt: number, name: string): number {
  if (raw === null || raw === '') return dflt;
  const n = /^\d+$/.test(raw) ? Number(raw) * (raw.length <= 10 ? 1000 : 1) : Date.parse(raw);
  if (!Number.isFinite(n)) throw new HttpError(400, 'invalid_query', `${name} must be an ISO-8601 time or epoch seconds`);
  return n;
}
