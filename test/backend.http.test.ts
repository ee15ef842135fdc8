import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import { BackendApiError, BackendClient } from '../src/clients/backend.js';

// The HTTP surface in-process on port 0: each class of bad input gets the right 4xx JSON error
// and the server keeps serving; tenant isolation; login throttling; cookie + CSRF.
let dir: string;
let backend: RunningBackend;
let op: BackendClient;
let token: string;

async function raw(method: string, p: string, opts: { body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const res = await request(backend.url + p, { method: method as 'GET', body: opts.body, headers: opts.headers });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json: json as { error?: { code: string; message: string } } & Record<string, unknown> };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-http-'));
  const store = openStore(dir);
  token = store.operatorToken;
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 1, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false, bodyLimit: 64 * 1024 });
  op = new BackendClient({ baseUrl: backend.url, token });
  await op.setup({ org_name: 'Test Org', admin_email: 'admin@example.test', admin_password: 'correct horse battery' });
  await op.createProject({ slug: 'alpha', name: 'Alpha' });
  await op.createProject({ slug: 'beta', name: 'Beta' });
  await op.createAgent('alpha', { name: 'a1', model: 'claude-haiku-4-5' });
  await op.createAgent('beta', { name: 'b1', model: 'gpt-4o-mini' });
});

afterAll(async () => {
  await op.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const auth = (): Record<string, string> => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

describe('bad input answers 4xx JSON and the server keeps serving', () => {
  it('a documented query parameter outside its values → 400 invalid_query naming it; unknown parameters are ignored', async () => {
    for (const q of ['/api/v1/fleet/tasks?status=bogus', '/api/v1/live?project=', '/api/v1/budget/limits?project=Not%20A%20Slug', '/admin/runs?status=done', '/admin/runs?limit=abc', '/api/v1/analytics/costs?group_by=project,colour']) {
      const r = await raw('GET', q, { headers: auth() });
      expect(r.status, q).toBe(400);
      expect(r.json.error?.code, q).toBe('invalid_query');
      expect(r.json.error?.message, q).toMatch(/status|project|limit|group_by/);
    }
    expect((await raw('GET', '/api/v1/fleet/tasks?status=queued&utm_source=x', { headers: auth() })).status).toBe(200);
    // The cost totals take a time, a UTC date or epoch digits; a date that does not exist is refused.
    const byDate = await raw('GET', '/api/v1/analytics/costs?from=2026-01-01&to=2026-02-01', { headers: auth() });
    expect(byDate.status).toBe(200);
    expect(byDate.json).toMatchObject({ from: '2026-01-01T00:00:00.000Z', to: '2026-02-01T00:00:00.000Z' });
    expect((await raw('GET', '/api/v1/analytics/costs?from=2026-02-30', { headers: auth() })).json.error?.code).toBe('invalid_query');
  });
  it('an X-Project-ID header that is present but empty → 400, not every project', async () => {
    const r = await raw('GET', '/api/v1/live', { headers: { ...auth(), 'x-project-id': '' } });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe('invalid_header');
  });
  it('malformed JSON → 400 invalid_json', async () => {
    const r = await raw('POST', '/api/v1/projects', { body: '{"slug": "x",', headers: auth() });
    expect(r.status).toBe(400);
    expect(r.json.error?.code).toBe('invalid_json');
  });
  it('wrong types → 422 with the failing fields', async () => {
    const r = await raw('POST', '/playground/agent', { body: JSON.stringify({ name: 42, model: ['x'], temperature: 'hot' }), headers: { ...auth(), 'x-project-id': 'alpha' } });
    expect(r.status).toBe(422);
    expect(r.json.error?.code).toBe('validation_failed');
    const paths = (r.json.error as unknown as { issues: Array<{ path: string }> }).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'model', 'temperature']));
  });
  it('oversized body → 413', async () => {
    const big = JSON.stringify({ agent_name: 'a1', message: 'x'.repeat(100 * 1024) });
    const r = await raw('POST', '/playground/run', { body: big, headers: { ...auth(), 'x-project-id': 'alpha' } });
    expect(r.status).toBe(413);
    expect(r.json.error?.code).toBe('payload_too_large');
  });
  it('unknown route → 404 JSON, wrong method → 405 with Allow', async () => {
    const a = await raw('GET', '/api/v1/nothing-here');
    expect(a.status).toBe(404);
    expect(a.json.error?.code).toBe('not_found');
    const b = await raw('DELETE', '/api/v1/projects', { headers: auth() });
    expect(b.status).toBe(405);
    expect(b.headers.allow).toBe('GET, POST');
  });
  it('missing or invalid auth → 401', async () => {
    expect((await raw('GET', '/api/v1/auth/me')).status).toBe(401);
    const r = await raw('GET', '/api/v1/projects', { headers: { authorization: 'Bearer not-a-token' } });
    expect(r.status).toBe(401);
    expect(r.json.error?.code).toBe('unauthorized');
    expect((await raw('GET', '/api/v1/projects', { headers: { authorization: 'Basic abc' } })).status).toBe(401);
  });
  it('tenant route without X-Project-ID → 400; unknown project → 404', async () => {
    expect((await raw('GET', '/playground/agents', { headers: auth() })).status).toBe(400);
    const r = await raw('GET', '/playground/agents', { headers: { ...auth(), 'x-project-id': 'nope' } });
    expect(r.status).toBe(404);
    expect((await raw('GET', '/api/v1/projects/nope', { headers: auth() })).status).toBe(404);
  });
  it('duplicate project → 409; setup twice → 409', async () => {
    await expect(op.createProject({ slug: 'alpha', name: 'again' })).rejects.toMatchObject({ status: 409, code: 'project_exists' });
    await expect(op.setup({ org_name: 'x', admin_email: 'b@example.test', admin_password: 'another password' })).rejects.toMatchObject({ status: 409 });
  });
  it('bad query parameters → 400', async () => {
    expect((await raw('GET', '/admin/runs?limit=abc', { headers: auth() })).status).toBe(400);
    expect((await raw('GET', '/api/v1/analytics/costs?group_by=planet', { headers: auth() })).status).toBe(400);
    expect((await raw('GET', '/api/v1/analytics/costs?from=yesterday', { headers: auth() })).status).toBe(400);
  });
  it('worker routes without valid worker credentials → 401', async () => {
    expect((await raw('POST', '/api/v1/fleet/claim', { body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect((await raw('POST', '/api/v1/fleet/heartbeat', { body: '{}', headers: { 'content-type': 'application/json', 'x-worker-id': 'wkr_x', 'x-worker-secret': 'nope' } })).status).toBe(401);
  });
  it('admin runs filter by agent and status and page with has_more', async () => {
    for (let i = 0; i < 3; i++) await op.run('alpha', { agent_name: 'a1', message: `page ${i}` });
    const p1 = await op.listRuns({ project: 'alpha', agent_name: 'a1', status: 'completed', limit: 2, offset: 0 });
    expect(p1.items).toHaveLength(2);
    expect(p1.has_more).toBe(true);
    const p2 = await op.listRuns({ project: 'alpha', agent_name: 'a1', status: 'completed', limit: 2, offset: 2 });
    expect(p2.has_more).toBe(false);
    const ids = [...p1.items, ...p2.items].map((r) => r.run_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(p1.items[0]?.total_tokens).toBe((p1.items[0]?.input_tokens ?? 0) + (p1.items[0]?.output_tokens ?? 0));
    expect((await op.listRuns({ project: 'alpha', agent_name: 'nobody' })).items).toEqual([]);
  });
  it('publishes its OpenAPI document with the request schemas', async () => {
    const doc = (await op.openapi()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { required?: string[]; properties: Record<string, unknown> } } } } }>> };
    expect(doc.openapi).toMatch(/^3\./);
    const run = doc.paths['/playground/run']?.post?.requestBody?.content['application/json'].schema;
    expect(run?.required).toEqual(['agent_name', 'message']);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/fleet/claim', '/api/v1/analytics/costs', '/api/v1/live', '/api/v1/budget/limits']));
  });
  it('still serves after all of that', async () => {
    expect((await op.healthSummary()).status).toBe('ok');
    expect((await op.listProjects()).map((p) => p.slug)).toEqual(['alpha', 'beta']);
  });
});

describe('sessions, CSRF and login throttling', () => {
  it('login sets HttpOnly session + CSRF cookies; cookie mutations need X-CSRF-Token', async () => {
    const r = await raw('POST', '/api/v1/auth/login', { body: JSON.stringify({ email: 'admin@example.test', password: 'correct horse battery' }), headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(200);
    expect(r.json.token_type).toBe('bearer');
    const cookies = r.headers['set-cookie'] as string[];
    const session = cookies.find((c) => c.startsWith('sagewai_session='));
    const csrfCookie = cookies.find((c) => c.startsWith('sagewai_csrf='));
    expect(session).toMatch(/HttpOnly/);
    expect(csrfCookie).not.toMatch(/HttpOnly/);
    const cookie = [session, csrfCookie].map((c) => (c as string).split(';')[0]).join('; ');
    const csrf = (csrfCookie as string).split(';')[0]?.split('=')[1] as string;
    expect((await raw('GET', '/api/v1/auth/me', { headers: { cookie } })).status).toBe(200);
    const body = JSON.stringify({ slug: 'gamma', name: 'Gamma' });
    const denied = await raw('POST', '/api/v1/projects', { body, headers: { cookie, 'content-type': 'application/json' } });
    expect(denied.status).toBe(403);
    expect(denied.json.error?.code).toBe('csrf_failed');
    expect((await raw('POST', '/api/v1/projects', { body, headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': 'wrong' } })).status).toBe(403);
    expect((await raw('POST', '/api/v1/projects', { body, headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf } })).status).toBe(201);
    // The bearer form of the same session needs no CSRF header.
    const bearer = await raw('POST', '/api/v1/projects', { body: JSON.stringify({ slug: 'delta', name: 'Delta' }), headers: { authorization: `Bearer ${r.json.access_token as string}`, 'content-type': 'application/json' } });
    expect(bearer.status).toBe(201);
  });
  it('5 failures per ip+email in 15 min → 429 with Retry-After, even with the right password', async () => {
    const c = new BackendClient({ baseUrl: backend.url });
    for (let i = 0; i < 5; i++) await expect(c.login('admin@example.test', 'wrong')).rejects.toMatchObject({ status: 401 });
    const err = await c.login('admin@example.test', 'correct horse battery').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendApiError);
    expect((err as BackendApiError).status).toBe(429);
    expect((err as BackendApiError).retryAfterSeconds).toBeGreaterThan(800);
    // Another e-mail from the same ip is not throttled.
    await expect(c.login('someone@example.test', 'x')).rejects.toMatchObject({ status: 401 });
    await c.close();
  });
});

describe('tenant isolation', () => {
  it('a project-scoped token sees only its project; other projects answer 404', async () => {
    const { token: alphaToken } = await op.createProjectToken('alpha');
    const a = op.with({ token: alphaToken });
    expect((await a.listProjects()).map((p) => p.slug)).toEqual(['alpha']);
    expect((await a.listAgents('alpha')).map((x) => x.name)).toEqual(['a1']);
    await expect(a.listAgents('beta')).rejects.toMatchObject({ status: 404 });
    await expect(a.getAgent('beta', 'b1')).rejects.toMatchObject({ status: 404 });
    await expect(a.getProject('beta')).rejects.toMatchObject({ status: 404 });
    await expect(a.run('beta', { agent_name: 'b1', message: 'hi' })).rejects.toMatchObject({ status: 404 });
    await expect(a.costs({ project: 'beta' })).rejects.toMatchObject({ status: 404 });
    await expect(a.budgetStatus('beta')).rejects.toMatchObject({ status: 404 });
    await expect(a.setBudget('beta', { scope: 'project', window: 'daily', limit_usd: 1, action: 'stop' })).rejects.toMatchObject({ status: 404 });
    await expect(a.listRuns({ project: 'beta' })).rejects.toMatchObject({ status: 404 });
    await expect(a.createProject({ slug: 'evil', name: 'x' })).rejects.toMatchObject({ status: 403 });
    // Without a filter, lists are forced to the token's own project.
    await op.run('beta', { agent_name: 'b1', message: 'beta only' });
    const mine = await a.listRuns();
    expect(mine.items.every((r) => r.project === 'alpha')).toBe(true);
    const costs = await a.costs({ group_by: ['project'] });
    expect(costs.groups.every((g) => g.project === 'alpha')).toBe(true);
    const live = await a.live();
    expect(live.agents.every((x) => x.project === 'alpha')).toBe(true);
  });
  it('a worker only ever claims tasks of its own project and pool', async () => {
    const wa = await op.fleetRegister('alpha', { name: 'wa', pool: 'fast' });
    const wb = await op.fleetRegister('beta', { name: 'wb', pool: 'fast' });
    await op.createTask('beta', { pool: 'fast', payload: { n: 1 } });
    await op.createTask('alpha', { pool: 'default', payload: { n: 2 } });
    expect(await op.fleetClaim(wa, 0)).toBeNull();
    const t = await op.fleetClaim(wb, 0);
    expect(t?.project).toBe('beta');
    // Another project's worker cannot report it.
    await expect(op.fleetReport(wa, { task_id: t?.task_id as string, status: 'completed' })).rejects.toMatchObject({ status: 404 });
    await op.fleetReport(wb, { task_id: t?.task_id as string, status: 'completed' });
    await expect(op.fleetReport(wb, { task_id: t?.task_id as string, status: 'completed' })).rejects.toMatchObject({ status: 409 });
  });
  it('claim long-polls and wakes on a new task; 204 after the wait', async () => {
    const w = await op.fleetRegister('alpha', { name: 'poller', pool: 'lp' });
    const t0 = Date.now();
    expect(await op.fleetClaim(w, 300)).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    const pending = op.fleetClaim(w, 5000);
    await new Promise((r) => setTimeout(r, 100));
    await op.createTask('alpha', { pool: 'lp', payload: { x: 1 } });
    const got = await pending;
    expect(got?.pool).toBe('lp');
    expect(Date.now() - t0).toBeLessThan(4000);
  });
});
