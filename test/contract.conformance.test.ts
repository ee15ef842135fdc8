import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import { BackendClient } from '../src/clients/backend.js';
import { SseParser } from '../src/clients/sse.js';
import { arbitraryFor, validateSchema, wrongTypeFor, type Hints, type Schema } from './helpers/json-schema.js';

// The backend against its own /openapi.json: every operation of the served document is driven
// with generated requests that the document says are valid, and with invalid ones. A failure is
// an answer whose status the document does not list for that operation, a valid request refused
// (other than a documented business outcome), a body that does not match the status's schema, or
// any 5xx. The document is read over HTTP like any client would; nothing here imports it.

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema: Schema;
  style?: string;
}
interface OperationDoc {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: { 'application/json': { schema: Schema } } };
  security: Array<Record<string, string[]>>;
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, { schema: Schema; 'x-events'?: Record<string, Schema> }> }>;
  'x-allow': string[];
}
interface Doc {
  paths: Record<string, Record<string, OperationDoc>>;
  components: Record<string, unknown>;
}
interface Case {
  params: Record<string, string>;
  query: Record<string, unknown>;
  headers: Record<string, string>;
  body?: unknown;
  rawBody?: string;
}

/**
 * Refusals of a schema-valid request that are the business's answer, not a contract gap. Each is
 * a rule a JSON Schema cannot state (another request's state, or two fields together).
 */
const BUSINESS: Array<{ status: number; op?: string; code?: string; why: string }> = [
  { status: 402, why: 'a stop budget leaves no room' },
  { status: 404, why: 'a generated name, id or project that does not exist' },
  { status: 409, why: 'it exists already / was reported already / setup done' },
  { status: 401, op: 'login', code: 'invalid_credentials', why: 'generated e-mail and password' },
  { status: 429, op: 'login', code: 'too_many_attempts', why: 'those generated logins fail, and five failures throttle' },
  { status: 400, op: 'costs', code: 'invalid_query', why: '`to` before `from`' },
  { status: 422, op: 'setBudget', code: 'validation_failed', why: 'subject rules by scope, throttle needs fallback_model' },
  { status: 422, op: 'importPriceBook', code: 'invalid_price_book', why: 'generated text is not a valid price book (the schema cannot say what the book checks)' },
];

const PROJECTS = ['alpha', 'beta'];
let dir: string;
let backend: RunningBackend;
let doc: Doc;
let operatorToken: string;
let worker: { worker_id: string; worker_secret: string };
const fixture = { taskIds: [] as string[], budgetIds: [] as string[], admin: { email: 'admin@example.test', password: 'correct horse battery' } };
const seen = new Map<string, Set<number>>();
const setupViolations: string[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-conformance-'));
  const store = openStore(dir);
  operatorToken = store.operatorToken;
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 7, failureRates: { rate_limit: 0.05, timeout: 0.05, server_error: 0.05 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
  doc = (await (await request(`${backend.url}/openapi.json`)).body.json()) as Doc;
  // Setup succeeds once per backend: this is that once, checked like every generated answer below.
  const setupOp = doc.paths['/api/v1/setup']?.post as OperationDoc;
  const setup = await send('POST', '/api/v1/setup', setupOp, { params: {}, query: {}, headers: {}, body: { org_name: 'Conformance', admin_email: fixture.admin.email, admin_password: fixture.admin.password } });
  setupViolations.push(...violations('setup', setupOp, setup, true));
  const op = new BackendClient({ baseUrl: backend.url, token: operatorToken });
  for (const p of PROJECTS) {
    await op.createProject({ slug: p, name: p });
    await op.createAgent(p, { name: 'a1', model: 'gpt-4o' });
    fixture.budgetIds.push((await op.setBudget(p, { scope: 'user', subject: 'capped', window: 'daily', limit_usd: 0.000001, action: 'stop' })).id);
  }
  worker = await op.fleetRegister('alpha', { name: 'w1' });
  for (let i = 0; i < 3; i++) fixture.taskIds.push((await op.createTask('alpha', { payload: { i } })).task_id);
  await op.close();
});

afterAll(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Values a valid request draws from the running backend part of the time; the rest are generated. */
function hints(): Hints {
  return {
    slug: fc.constantFrom(...PROJECTS),
    project: fc.constantFrom(...PROJECTS),
    'X-Project-ID': fc.constantFrom(...PROJECTS),
    name: fc.constantFrom('a1'),
    agent_name: fc.constantFrom('a1'),
    subject: fc.constantFrom('alpha', 'capped'),
    user: fc.constantFrom('capped', 'ann'),
    id: fc.constantFrom(...fixture.budgetIds),
    task_id: fc.constantFrom(...fixture.taskIds),
    email: fc.constantFrom(fixture.admin.email),
    password: fc.constantFrom(fixture.admin.password),
    model: fc.constantFrom('gpt-4o', 'claude-haiku-4-5', 'gpt-4o-mini'),
    // A valid price book starting in a future year; a later year than the last import succeeds, the rest are 409.
    text: fc.integer({ min: 2100, max: 9000 }).map((y) => JSON.stringify({ version: `conformance-${y}`, effective_from: `${y}-01-01`, entries: [{ provider: 'openai', model: 'gpt-4o', input: 2.5, cached_input: 1.25, output: 10, effective_from: '2024-10-01', source: 'test' }] })),
    // A claim long-polls up to wait_ms (≤ 60 s): keep the run short.
    wait_ms: { only: fc.integer({ min: 0, max: 20 }) },
  };
}

function caseArbitrary(o: OperationDoc): fc.Arbitrary<Case> {
  const h = hints();
  const params: Record<string, fc.Arbitrary<unknown>> = {};
  const query: Record<string, fc.Arbitrary<unknown>> = {};
  const headers: Record<string, fc.Arbitrary<unknown>> = {};
  const requiredQuery: string[] = [];
  const requiredHeaders: string[] = [];
  for (const p of o.parameters ?? []) {
    if (p.in === 'path') params[p.name] = arbitraryFor(p.schema, h, p.name).filter((v) => v !== '.' && v !== '..');
    if (p.in === 'query') {
      query[p.name] = arbitraryFor(p.schema, h, p.name);
      if (p.required) requiredQuery.push(p.name);
    }
    if (p.in === 'header') {
      // Only values a header can carry: the hint (a real project) or a generated slug-like name.
      headers[p.name] = fc.oneof({ arbitrary: (h[p.name] as fc.Arbitrary<unknown> | undefined) ?? fc.constant('alpha'), weight: 3 }, { arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/), weight: 1 });
      if (p.required) requiredHeaders.push(p.name);
    }
  }
  const body = o.requestBody ? arbitraryFor(o.requestBody.content['application/json'].schema, h) : fc.constant(undefined);
  return fc.record({
    params: fc.record(params) as fc.Arbitrary<Record<string, string>>,
    query: fc.record(query, { requiredKeys: requiredQuery }) as fc.Arbitrary<Record<string, unknown>>,
    headers: fc.record(headers, { requiredKeys: requiredHeaders }) as fc.Arbitrary<Record<string, string>>,
    body,
  }) as fc.Arbitrary<Case>;
}

function credentials(o: OperationDoc): Record<string, string> {
  const schemes = o.security.flatMap((s) => Object.keys(s));
  if (schemes.includes('bearer')) return { authorization: `Bearer ${operatorToken}` };
  if (schemes.includes('workerId')) return { 'x-worker-id': worker.worker_id, 'x-worker-secret': worker.worker_secret };
  return {};
}

async function send(method: string, template: string, o: OperationDoc, c: Case): Promise<{ status: number; type: string; text: string; headers: Record<string, unknown> }> {
  let p = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(String(c.params[k])));
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(c.query)) if (v !== undefined) qs.append(k, Array.isArray(v) ? v.join(',') : String(v));
  if ([...qs].length) p += `?${qs}`;
  const headers: Record<string, string> = { ...credentials(o), ...Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k.toLowerCase(), v])) };
  let body: string | undefined;
  if (c.rawBody !== undefined) body = c.rawBody;
  else if (c.body !== undefined) body = JSON.stringify(c.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await request(backend.url + p, { method: method as 'GET', headers, body });
  return { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), text: await res.body.text(), headers: res.headers };
}

/** The contract violations of one answer (empty when it conforms). */
function violations(id: string, o: OperationDoc, r: { status: number; type: string; text: string; headers?: Record<string, unknown> }, valid: boolean): string[] {
  (seen.get(id) ?? seen.set(id, new Set()).get(id))?.add(r.status);
  const spec = o.responses[String(r.status)];
  if (r.status >= 500) return [`${r.status} (a 5xx): ${r.text.slice(0, 300)}`];
  if (!spec) return [`${r.status} is not among the documented ${Object.keys(o.responses).join(', ')}: ${r.text.slice(0, 300)}`];
  const out: string[] = [];
  for (const h of Object.keys(spec.headers ?? {})) if (r.headers && r.headers[h.toLowerCase()] === undefined) out.push(`${r.status} without its documented ${h} header`);
  if (valid && r.status >= 400) {
    let code: string | undefined;
    try {
      code = (JSON.parse(r.text) as { error?: { code?: string } }).error?.code;
    } catch {
      code = undefined;
    }
    if (!BUSINESS.some((b) => b.status === r.status && (!b.op || b.op === o.operationId) && (!b.code || b.code === code))) out.push(`a schema-valid request was refused with ${r.status}: ${r.text.slice(0, 300)}`);
  }
  if (r.status === 204) return r.text === '' ? out : [...out, `204 with a body: ${r.text.slice(0, 100)}`];
  const content = spec.content ?? {};
  if (content['text/event-stream']) {
    if (!r.type.startsWith('text/event-stream')) return [...out, `content-type ${r.type}, documented text/event-stream`];
    const events = content['text/event-stream']['x-events'] ?? {};
    const p = new SseParser();
    const got = [...p.push(r.text), ...p.end()];
    if (got.at(-1)?.event !== 'run_finished') out.push(`the stream does not end with run_finished: ${got.map((e) => e.event).join(',')}`);
    for (const e of got) {
      const s = events[e.event];
      if (!s) out.push(`undocumented event ${e.event}`);
      else out.push(...validateSchema(doc as unknown as Schema, s, JSON.parse(e.data), `event ${e.event}`));
    }
    return out;
  }
  const json = content['application/json'];
  if (!json) return [...out, `status ${r.status} documents no body, got ${r.text.slice(0, 100)}`];
  if (!r.type.startsWith('application/json')) return [...out, `content-type ${r.type}, documented application/json`];
  return [...out, ...validateSchema(doc as unknown as Schema, json.schema, JSON.parse(r.text))];
}

function operationsOf(d: Doc): Array<[string, string, OperationDoc]> {
  return Object.entries(d.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, o]) => [m.toUpperCase(), p, o] as [string, string, OperationDoc]));
}

describe('the backend conforms to its /openapi.json', () => {
  it('documents every operation with answers, security and (for 405/OPTIONS) its path\'s methods', () => {
    const ops = operationsOf(doc);
    expect(ops.length).toBeGreaterThanOrEqual(34);
    for (const [, p, o] of ops) {
      expect(Object.keys(o.responses).length, p).toBeGreaterThan(0);
      expect(Array.isArray(o.security), p).toBe(true);
      expect(o['x-allow'], p).toEqual(Object.keys(doc.paths[p] ?? {}).map((m) => m.toUpperCase()));
    }
  });

  it('every operation: generated valid requests get a documented answer of the documented shape', async () => {
    const failures: string[] = [];
    for (const [method, p, o] of operationsOf(doc)) {
      await fc.assert(
        fc.asyncProperty(caseArbitrary(o), async (c) => {
          const t0 = Date.now();
          const r = await send(method, p, o, c);
          if (Date.now() - t0 > 2000) process.stderr.write(`[conformance] slow: ${method} ${p} ${Date.now() - t0} ms\n`);
          const v = violations(o.operationId, o, r, true);
          if (v.length) failures.push(`${method} ${p} ${JSON.stringify(c).slice(0, 300)} → ${v.join('; ')}`);
          return v.length === 0;
        }),
        { numRuns: 25, seed: 20261201, endOnFailure: true },
      ).catch(() => undefined);
    }
    expect([...setupViolations, ...failures].slice(0, 10)).toEqual([]);
    // The generation reached the success path of every operation, not only its 4xx.
    const neverOk = operationsOf(doc).filter(([, , o]) => ![...(seen.get(o.operationId) ?? [])].some((s) => s < 300)).map(([m, p]) => `${m} ${p}`);
    expect(neverOk, JSON.stringify([...seen].map(([k, v]) => [k, [...v]]))).toEqual([]);
  }, 120_000);

  it('every operation: invalid bodies, types and media get a documented 4xx with the error shape', async () => {
    const failures: string[] = [];
    for (const [method, p, o] of operationsOf(doc)) {
      const bodySchema = o.requestBody?.content['application/json'].schema;
      await fc.assert(
        fc.asyncProperty(caseArbitrary(o), fc.nat(), async (c, pick) => {
          const bad: Case = { ...c };
          const props = (bodySchema?.properties as Record<string, Schema> | undefined) ?? {};
          const required = (bodySchema?.required as string[] | undefined) ?? [];
          const typed = Object.entries(props).filter(([, s]) => wrongTypeFor(s) !== undefined);
          const mutations: Array<() => void> = [() => (bad.query = { ...c.query, limit: 'many', from: 'yesterday', group_by: 'planet' })];
          if (bodySchema) {
            mutations.push(() => (bad.rawBody = '{"unterminated": '));
            mutations.push(() => (bad.body = ['not', 'an', 'object']));
            if (required.length) mutations.push(() => (bad.body = Object.fromEntries(Object.entries(c.body as object).filter(([k]) => k !== required[pick % required.length]))));
            if (typed.length) {
              const [k, s] = typed[pick % typed.length] as [string, Schema];
              mutations.push(() => (bad.body = { ...(c.body as object), [k]: wrongTypeFor(s) }));
            }
          }
          (mutations[pick % mutations.length] as () => void)();
          const r = await send(method, p, o, bad);
          const v = violations(o.operationId, o, r, false);
          if (bodySchema && (bad.rawBody !== undefined || bad.body !== c.body) && r.status < 400) v.push(`an invalid body was accepted with ${r.status}`);
          if (v.length) failures.push(`${method} ${p} ${JSON.stringify(bad).slice(0, 300)} → ${v.join('; ')}`);
          return v.length === 0;
        }),
        { numRuns: 15, seed: 20261202, endOnFailure: true },
      ).catch(() => undefined);
    }
    expect(failures.slice(0, 10)).toEqual([]);
  }, 120_000);

  it('a body sent as text/plain gets 415; without credentials 401; both documented', async () => {
    const failures: string[] = [];
    for (const [method, p, o] of operationsOf(doc)) {
      const c = fc.sample(caseArbitrary(o), { numRuns: 1, seed: 3 })[0] as Case;
      if (o.requestBody) {
        const r = await send(method, p, o, { ...c, headers: { ...c.headers, 'content-type': 'text/plain' } });
        const v = violations(o.operationId, o, r, false);
        if (r.status !== 415 && !(r.status === 404 && o.parameters?.some((x) => x.in !== 'query'))) v.push(`text/plain body answered ${r.status}, not 415`);
        if (v.length) failures.push(`${method} ${p} text/plain → ${v.join('; ')}`);
      }
      if (o.security.length) {
        const res = await request(backend.url + p.replace(/\{(\w+)\}/g, 'x'), { method: method as 'GET', headers: { 'x-project-id': 'alpha' } });
        const r = { status: res.statusCode, type: String(res.headers['content-type'] ?? ''), text: await res.body.text(), headers: res.headers };
        const v = violations(o.operationId, o, r, false);
        if (r.status !== 401) v.push(`no credentials answered ${r.status}, not 401`);
        if (v.length) failures.push(`${method} ${p} anonymous → ${v.join('; ')}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('a method a path does not serve answers 405 with the documented Allow; OPTIONS answers 204 with it', async () => {
    const failures: string[] = [];
    for (const [p, ops] of Object.entries(doc.paths)) {
      const allow = (Object.values(ops)[0] as OperationDoc)['x-allow'];
      const concrete = p.replace(/\{(\w+)\}/g, 'x');
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((x) => !allow.includes(x))) {
        const res = await request(backend.url + concrete, { method: m as 'GET', headers: { authorization: `Bearer ${operatorToken}` } });
        const text = await res.body.text();
        const errs = res.statusCode === 405 ? validateSchema(doc as unknown as Schema, { $ref: '#/components/schemas/Error' }, JSON.parse(text)) : [`status ${res.statusCode}`];
        if (res.headers.allow !== allow.join(', ')) errs.push(`Allow ${String(res.headers.allow)}, documented ${allow.join(', ')}`);
        if (errs.length) failures.push(`${m} ${p}: ${errs.join('; ')}`);
      }
      const opt = await request(backend.url + concrete, { method: 'OPTIONS' });
      await opt.body.text();
      if (opt.statusCode !== 204 || opt.headers.allow !== [...allow, 'OPTIONS'].join(', ')) failures.push(`OPTIONS ${p}: ${opt.statusCode} Allow ${String(opt.headers.allow)}`);
    }
    expect(failures).toEqual([]);
  });
});
