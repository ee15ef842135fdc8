import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, runBuiltCli, type CliResult } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// Fault 6 of docs/faults.md: property-based hostile input against every route of the real
// backend's /openapi.json (random bodies, headers, parameters, huge and deeply nested JSON,
// invalid UTF-8, malformed HTTP), and garbage CLI flags and config files. Bounded in count
// (RUNS_PER_ROUTE per route, fixed seed) and time (REQUEST_TIMEOUT_MS per request).
const RUNS_PER_ROUTE = 100;
const REQUEST_TIMEOUT_MS = 70_000; // above the largest legal long-poll (claim wait_ms ≤ 60 s)
const SEED = 20261127;

let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;
let projectToken: string;
let workerCreds: { worker_id: string; worker_secret: string };
const violations: string[] = [];
let requests = 0;
let notSent = 0;
const statusCounts = new Map<number, number>();

const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

interface RouteSpec {
  method: string;
  template: string;
  hasBody: boolean;
  bodyKeys: string[];
}

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
  await bootstrap(client, [{ project: 'fz', agent: 'bot', model: 'gpt-4o-mini' }]);
  projectToken = (await client.createProjectToken('fz', 'fuzz')).token;
  const w = await client.fleetRegister('fz', { name: 'fuzz-worker', pool: 'default' });
  workerCreds = { worker_id: w.worker_id, worker_secret: w.worker_secret };
});

afterAll(async () => {
  await client?.close();
  await backend?.stop();
  await stack?.stop();
});

async function routes(): Promise<RouteSpec[]> {
  const res = await request(`${backend.url}/openapi.json`);
  const doc = (await res.body.json()) as { paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { schema: { properties?: Record<string, unknown> } } } } }>> };
  const out: RouteSpec[] = [];
  for (const [template, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const schema = op.requestBody?.content['application/json'].schema;
      out.push({ method: method.toUpperCase(), template, hasBody: Boolean(op.requestBody), bodyKeys: Object.keys(schema?.properties ?? {}) });
    }
  }
  return out;
}

// Header values a client can put on the wire (visible ASCII, space, tab and obs-text bytes);
// anything else is refused by the HTTP client before it reaches the server.
const headerSafe = fc.string({ unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0x09, 0xa0, 0xe9, 0xff)).map((c) => String.fromCharCode(c)), maxLength: 80 });
const segment = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent),
  fc.constantFrom('%', '%ff', '%c3%28', '..', '%2e%2e', 'fz', 'other-tenant', 'bot', 'a'.repeat(3000), '%00', '%E2%82'),
);
const jsonish = fc.jsonValue({ maxDepth: 6 });

function bodyFor(r: RouteSpec): fc.Arbitrary<{ bytes: Buffer; contentType: string | undefined; label: string }> {
  const json = (v: unknown, label: string) => ({ bytes: Buffer.from(JSON.stringify(v) ?? 'null'), contentType: 'application/json', label });
  const keyed = r.bodyKeys.length
    ? fc.dictionary(fc.constantFrom(...r.bodyKeys), fc.oneof(jsonish, fc.integer(), fc.string({ unit: 'grapheme' }), fc.constant(null), fc.double()), { maxKeys: r.bodyKeys.length }).map((o) => json(o, 'schema-keyed'))
    : jsonish.map((v) => json(v, 'json'));
  return fc.oneof(
    { arbitrary: keyed, weight: 4 },
    { arbitrary: jsonish.map((v) => json(v, 'json')), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 200 }).map((u) => ({ bytes: Buffer.from(u), contentType: 'application/json', label: 'bytes' })), weight: 2 },
    { arbitrary: fc.constant({ bytes: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0xfe, 0x22, 0x7d]), contentType: 'application/json', label: 'invalid-utf8' }), weight: 1 },
    { arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((n) => ({ bytes: Buffer.from('['.repeat(n) + ']'.repeat(n)), contentType: 'application/json', label: `nested-${n}` })), weight: 1 },
    { arbitrary: fc.integer({ min: 1000, max: 100_000 }).map((n) => ({ bytes: Buffer.from('{"name":'.repeat(n) + '1' + '}'.repeat(n)), contentType: 'application/json', label: `nested-object-${n}` })), weight: 1 },
    { arbitrary: fc.constant({ bytes: Buffer.from(JSON.stringify({ big: 'x'.repeat(2 * 1024 * 1024) })), contentType: 'application/json', label: 'huge' }), weight: 1 },
    { arbitrary: fc.tuple(jsonish, fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ';;;', 'application/json; charset=latin1')).map(([v, ct]) => ({ ...json(v, 'odd-content-type'), contentType: ct })), weight: 1 },
    { arbitrary: fc.constant({ bytes: Buffer.alloc(0), contentType: undefined, label: 'empty' }), weight: 1 },
  );
}

describe('hostile input', () => {
  it('6a. every /openapi.json route: random bodies, headers and parameters → never a 5xx, never a hang', async () => {
    const all = await routes();
    expect(all.length).toBeGreaterThan(20);
    const started = Date.now();
    for (const r of all) {
      const auth = fc.constantFrom('operator', 'project', 'none', 'garbage', 'worker', 'cookie');
      const arb = fc.record({
        params: fc.array(segment, { minLength: 4, maxLength: 4 }),
        query: fc.array(fc.tuple(fc.constantFrom('project', 'from', 'to', 'group_by', 'limit', 'offset', 'status', 'agent_name', 'x'), fc.string({ unit: 'grapheme', maxLength: 30 })), { maxLength: 4 }),
        projectHeader: fc.option(fc.oneof(headerSafe, fc.constantFrom('fz', 'nope', 'FZ', 'fz ', '../fz')), { nil: undefined }),
        extraHeaders: fc.dictionary(fc.constantFrom('x-csrf-token', 'x-worker-id', 'x-worker-secret', 'accept', 'x-forwarded-for', 'traceparent', 'cookie'), headerSafe, { maxKeys: 3 }),
        auth,
        body: r.method === 'GET' ? fc.constant(undefined) : bodyFor(r),
      });
      await fc.assert(
        fc.asyncProperty(arb, async (c) => {
          let i = 0;
          const p = r.template.replace(/\{\w+\}/g, () => c.params[i++] ?? 'x');
          const qs = c.query.length ? `?${c.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : '';
          const headers: Record<string, string> = { ...c.extraHeaders };
          if (c.projectHeader !== undefined) headers['x-project-id'] = c.projectHeader;
          if (c.auth === 'operator') headers.authorization = `Bearer ${backend.operatorToken}`;
          if (c.auth === 'project') headers.authorization = `Bearer ${projectToken}`;
          if (c.auth === 'garbage') headers.authorization = `Bearer ${c.params[0]}`;
          if (c.auth === 'cookie') headers.cookie = `sagewai_session=${c.params[1]}; sagewai_csrf=${c.params[2]}`;
          if (c.auth === 'worker') {
            headers['x-worker-id'] = workerCreds.worker_id;
            headers['x-worker-secret'] = workerCreds.worker_secret;
          }
          if (c.body?.contentType) headers['content-type'] = c.body.contentType;
          const label = `${r.method} ${p.slice(0, 120)}${qs.slice(0, 80)} [auth ${c.auth}, body ${c.body?.label ?? 'none'}]`;
          const t0 = Date.now();
          requests++;
          let status: number;
          try {
            const res = await request(`${backend.url}${p}${qs}`, { method: r.method as 'GET', headers, body: c.body?.bytes, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
            await res.body.arrayBuffer();
            status = res.statusCode;
            statusCounts.set(status, (statusCounts.get(status) ?? 0) + 1);
          } catch (err) {
            const msg = String((err as Error).message);
            // The client refusing to send a header it considers invalid is not the server's doing.
            if (/invalid .*header|header.*invalid|Invalid URL/i.test(msg)) {
              notSent++;
              return;
            }
            // A 413 may close the socket before the whole huge body is written.
            if (c.body?.label === 'huge' && /other side closed|ECONNRESET|EPIPE|SocketError/i.test(msg)) return;
            violations.push(`${label}: no response (${msg}) after ${Date.now() - t0} ms`);
            throw err;
          }
          if (status >= 500) {
            violations.push(`${label}: HTTP ${status}`);
            throw new Error(`${label}: HTTP ${status}`);
          }
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
      );
    }
    const health = await request(`${backend.url}/readyz`);
    await health.body.arrayBuffer();
    log(`hostile HTTP: ${all.length} routes × ${RUNS_PER_ROUTE} cases = ${requests} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...statusCounts].sort((x, y) => x[0] - y[0])))}; violations ${violations.length}; not sent (refused by the client) ${notSent}`);
    expect(violations).toEqual([]);
    expect(notSent).toBeLessThan(requests * 0.05);
    expect(health.statusCode).toBe(200);
    expect(() => process.kill(backend.pid, 0)).not.toThrow();
  });

  it('6b. malformed HTTP on the raw socket → a 4xx or a closed connection, never a crash', async () => {
    const { port, hostname } = new URL(backend.url);
    const raw = async (payload: Buffer): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect({ host: hostname, port: Number(port) });
        let out = '';
        s.setTimeout(10_000, () => {
          s.destroy();
          resolve(`${out}<timeout>`);
        });
        s.on('data', (d) => (out += d.toString('latin1')));
        s.on('error', () => resolve(out));
        s.on('close', () => resolve(out));
        s.write(payload, () => s.end());
      });
    const payloads = [
      Buffer.from('GARBAGE\r\n\r\n'),
      Buffer.from('GET /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'),
      Buffer.concat([Buffer.from('GET /api/v1/'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n')]),
      Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
      Buffer.from('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n'),
      Buffer.from('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{}'),
      Buffer.from('GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'),
    ];
    const answers: string[] = [];
    for (const p of payloads) answers.push(await raw(p));
    const statusLines = answers.map((a) => a.split('\r\n')[0] ?? '');
    log(`hostile raw HTTP: ${statusLines.map((s) => s || '<closed>').join(' | ')}`);
    for (const s of statusLines) expect(s, s).not.toMatch(/^HTTP\/1\.[01] 5/);
    for (const a of answers) expect(a).not.toContain('<timeout>');
    const health = await request(`${backend.url}/healthz`);
    await health.body.arrayBuffer();
    expect(health.statusCode).toBe(200);
  });

  it('6c. garbage CLI flags and config files → exit 2 with a message, never a stack trace', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-fault-cli-'));
    const env: NodeJS.ProcessEnv = { ...process.env, SAGEWAI_OBS_STATE_DIR: path.join(tmp, 'state'), XDG_CONFIG_HOME: path.join(tmp, 'config'), XDG_STATE_HOME: path.join(tmp, 'xstate'), NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (/^SAGEWAI_OBS_(VM_URL|VL_URL|BACKEND_URL|TOKEN|CONFIG|PROJECT|SINCE)$/.test(k)) delete env[k];
    const runCli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<CliResult> => runBuiltCli(args, { ...env, ...extraEnv }, 30_000);
    const garbage = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map((s) => `!${s.replace(/\0/g, '')}`);
    const cases = fc.sample(
      fc.oneof(
        fc.tuple(fc.constantFrom('cost', 'audit', 'hud', 'verify', 'status', 'up', 'serve', 'budget list'), garbage).map(([cmd, g]) => [...cmd.split(' '), `--zz${g.replace(/[^a-z]/gi, 'q')}`, g]),
        garbage.map((g) => ['cost', '--since', g]),
        garbage.map((g) => ['cost', '--by', g]),
        garbage.map((g) => ['audit', '--limit', g]),
        garbage.map((g) => ['hud', '--once', '--refresh', g]),
        garbage.map((g) => ['cost', '--from', g]),
        garbage.map((g) => ['serve', '--port', g]),
      ),
      { numRuns: 14, seed: SEED },
    );
    const configs: Array<[string, Buffer]> = [
      ['not-json', Buffer.from('{{{ nope')],
      ['binary', Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7b])],
      ['array', Buffer.from('[1,2,3]')],
      ['bad-url', Buffer.from(JSON.stringify({ 'vm-url': 'ftp://\u0000evil', 'backend-url': 12 }))],
      ['deep', Buffer.from('{"a":'.repeat(5000) + '1' + '}'.repeat(5000))],
      ['bad-types', Buffer.from(JSON.stringify({ 'vm-url': { nested: true }, since: [] }))],
    ];
    const results: Array<{ what: string; code: number | null; stderr: string; stdout: string }> = [];
    for (const args of cases) results.push({ what: `flags ${JSON.stringify(args)}`, ...(await runCli(args)) });
    for (const [name, bytes] of configs) {
      const file = path.join(tmp, `${name}.json`);
      fs.writeFileSync(file, bytes);
      results.push({ what: `config ${name}`, ...(await runCli(['cost', '--since', '1h'], { SAGEWAI_OBS_CONFIG: file })) });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    const bad = results.filter((r) => r.code !== 2 || r.stderr.trim().length === 0 || /\n\s+at .+:\d+:\d+/.test(r.stderr + r.stdout) || /Internal error/.test(r.stderr));
    log(`hostile CLI: ${results.length} invocations, exit codes ${JSON.stringify(results.map((r) => r.code))}; bad ${bad.length}`);
    expect(bad.map((r) => `${r.what} → exit ${r.code}: ${r.stderr.slice(0, 300)}`)).toEqual([]);
  });
});
