import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';

/*
 * `serve` with telemetry on records its HTTP server spans and HTTP histograms in a worker thread
 * (src/backend/telemetry-worker.ts) from what the request thread sends it. This runs the built
 * serve against a small OTLP/HTTP receiver and reads the protobuf it is sent: every instrumented
 * request is one span with its parent from traceparent, its times and the contract's attributes;
 * the HTTP histograms count each request once, under the process's one boot id (the same as the
 * request thread's metrics); both threads export the same resource; SIGTERM flushes it all.
 */

// ── a minimal protobuf wire reader (enough for OTLP) ──
type Field = { n: number; wire: number; v: bigint | Buffer };
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++] as number;
      r |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return r;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const n = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ n, wire, v: varint() });
    else if (wire === 1) {
      out.push({ n, wire, v: buf.subarray(i, i + 8) });
      i += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ n, wire, v: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 5) {
      out.push({ n, wire, v: buf.subarray(i, i + 4) });
      i += 4;
    } else throw new Error(`wire type ${wire}`);
  }
  return out;
}
const all = (buf: Buffer, n: number): Buffer[] => fields(buf).filter((f) => f.n === n && f.wire === 2).map((f) => f.v as Buffer);
const one = (buf: Buffer, n: number): Field | undefined => fields(buf).find((f) => f.n === n);
const str = (buf: Buffer, n: number): string | undefined => (one(buf, n)?.v as Buffer | undefined)?.toString('utf8');
const u64 = (buf: Buffer, n: number): bigint => {
  const f = one(buf, n);
  if (!f) return 0n;
  return f.wire === 1 ? (f.v as Buffer).readBigUInt64LE() : (f.v as bigint);
};
/** KeyValue list (field `n`) → { key: string | number | boolean }. */
function attrs(buf: Buffer, n: number): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of all(buf, n)) {
    const key = str(kv, 1) as string;
    const value = one(kv, 2)?.v as Buffer;
    const f = fields(value)[0] as Field;
    out[key] = f.n === 1 ? (f.v as Buffer).toString('utf8') : f.n === 2 ? f.v === 1n : f.n === 3 ? Number(f.v as bigint) : f.n === 4 ? (f.v as Buffer).readDoubleLE() : `field ${f.n}`;
  }
  return out;
}

interface Span { traceId: string; spanId: string; parentSpanId: string; name: string; kind: number; startNs: bigint; endNs: bigint; attributes: Record<string, string | number | boolean>; statusCode: number }
interface Point { metric: string; attributes: Record<string, string | number | boolean>; count: number }

const received: Record<string, Buffer[]> = {};
let receiver: http.Server;
let otlp: string;
let backend: TestBackend;

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const PARENT_ID = 'b7ad6b7169203331';

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      (received[req.url ?? ''] ??= []).push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  otlp = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  backend = await startTestBackend({ otlpHttp: otlp });
});

afterAll(async () => {
  await backend?.stop().catch(() => undefined);
  await new Promise<void>((r) => receiver.close(() => r()));
});

function spans(): Span[] {
  const out: Span[] = [];
  for (const body of received['/v1/traces'] ?? [])
    for (const rs of all(body, 1))
      for (const ss of all(rs, 2))
        for (const s of all(ss, 2))
          out.push({
            traceId: ((one(s, 1)?.v as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            spanId: ((one(s, 2)?.v as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            parentSpanId: ((one(s, 4)?.v as Buffer | undefined) ?? Buffer.alloc(0)).toString('hex'),
            name: str(s, 5) as string,
            kind: Number(u64(s, 6)),
            startNs: u64(s, 7),
            endNs: u64(s, 8),
            attributes: attrs(s, 9),
            statusCode: Number(one(s, 15) ? u64(one(s, 15)?.v as Buffer, 3) : 0n),
          });
  return out;
}

/** The newest cumulative point of each (metric, attributes) over every export; histograms give their count. */
function points(): { points: Point[]; resources: Array<Record<string, string | number | boolean>> } {
  const latest = new Map<string, Point>();
  const resources: Array<Record<string, string | number | boolean>> = [];
  for (const body of received['/v1/metrics'] ?? [])
    for (const rm of all(body, 1)) {
      resources.push(attrs(one(rm, 1)?.v as Buffer, 1));
      for (const sm of all(rm, 2))
        for (const m of all(sm, 2)) {
          const name = str(m, 1) as string;
          const hist = one(m, 9)?.v as Buffer | undefined;
          const sum = one(m, 7)?.v as Buffer | undefined;
          for (const dp of hist ? all(hist, 1) : sum ? all(sum, 1) : []) {
            const a = hist ? attrs(dp, 9) : attrs(dp, 7);
            const count = hist ? Number(u64(dp, 4)) : Number(one(dp, 6) ? u64(dp, 6) : 0n);
            latest.set(`${name} ${JSON.stringify(Object.entries(a).sort())}`, { metric: name, attributes: a, count });
          }
        }
    }
  return { points: [...latest.values()], resources };
}

describe('serve records HTTP spans and histograms in its telemetry worker', () => {
  it('every instrumented request is one span and one histogram count; parents, times, boot id and resource are right; SIGTERM flushes', async () => {
    const op = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
    await op.setup({ org_name: 'Worker Org', admin_email: 'worker-admin@example.test', admin_password: 'worker-pass-123' });
    await new BackendClient({ baseUrl: backend.url }).login('worker-admin@example.test', 'not-the-password').catch(() => undefined);
    const before = Date.now();
    const traced = await request(`${backend.url}/api/v1/projects`, { headers: { authorization: `Bearer ${backend.operatorToken}`, traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
    await traced.body.text();
    expect(traced.statusCode).toBe(200);
    for (let i = 0; i < 3; i++) {
      const r = await request(`${backend.url}/api/v1/projects/no-such-${i}`, { headers: { authorization: `Bearer ${backend.operatorToken}` } });
      await r.body.text();
      expect(r.statusCode).toBe(404);
    }
    const health = await request(`${backend.url}/healthz`);
    await health.body.text();
    const after = Date.now();
    await op.close();
    await backend.stop();
    expect(backend.exited()).toBe(0);

    const got = spans();
    // setup, the failed login, the traced list and three 404s; /healthz is not instrumented.
    expect(got.map((s) => s.name).sort()).toEqual(['GET /api/v1/projects', 'GET /api/v1/projects/{slug}', 'GET /api/v1/projects/{slug}', 'GET /api/v1/projects/{slug}', 'POST /api/v1/auth/login', 'POST /api/v1/setup']);
    const list = got.find((s) => s.name === 'GET /api/v1/projects') as Span;
    expect(list.traceId).toBe(TRACE_ID);
    expect(list.parentSpanId).toBe(PARENT_ID);
    expect(list.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(list.kind).toBe(2); // SPAN_KIND_SERVER
    expect(list.attributes).toEqual({ 'http.request.method': 'GET', 'http.route': '/api/v1/projects', 'url.path': '/api/v1/projects', 'http.response.status_code': 200, 'sagewai.actor': 'operator' });
    expect(Number(list.startNs / 1_000_000n)).toBeGreaterThanOrEqual(before - 1);
    expect(Number(list.endNs / 1_000_000n)).toBeLessThanOrEqual(after + 1);
    expect(list.endNs > list.startNs).toBe(true);
    const missing = got.filter((s) => s.name === 'GET /api/v1/projects/{slug}');
    expect(new Set(missing.map((s) => s.attributes['url.path']))).toEqual(new Set(['/api/v1/projects/no-such-0', '/api/v1/projects/no-such-1', '/api/v1/projects/no-such-2']));
    for (const s of missing) {
      expect(s.parentSpanId).toBe('');
      expect(s.traceId).not.toBe(TRACE_ID);
      expect(s.attributes['http.response.status_code']).toBe(404);
      expect(s.statusCode).toBe(0); // a 4xx is the client's, not a span error
    }
    expect(new Set(got.map((s) => s.spanId)).size).toBe(got.length);

    const { points: pts, resources } = points();
    const duration = pts.filter((p) => p.metric === 'http.server.request.duration');
    const size = pts.filter((p) => p.metric === 'http.server.response.body.size');
    const count = (ps: Point[], route: string, status: number): number => ps.filter((p) => p.attributes['http.route'] === route && p.attributes['http.response.status_code'] === status).reduce((a, p) => a + p.count, 0);
    for (const ps of [duration, size]) {
      expect(count(ps, '/api/v1/projects', 200)).toBe(1);
      expect(count(ps, '/api/v1/projects/{slug}', 404)).toBe(3);
      expect(count(ps, '/api/v1/auth/login', 401)).toBe(1);
      expect(ps.reduce((a, p) => a + p.count, 0)).toBe(6);
    }
    // One boot id per process: the worker's HTTP series carry the request thread's.
    const logins = pts.find((p) => p.metric === 'sagewai.auth.logins');
    const bootId = logins?.attributes['sagewai.boot.id'];
    expect(bootId).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set([...duration, ...size].map((p) => p.attributes['sagewai.boot.id']))).toEqual(new Set([bootId]));
    // The request thread still owns http.server.active_requests (0 after the drain).
    const active = pts.filter((p) => p.metric === 'http.server.active_requests');
    expect(active.length).toBeGreaterThan(0);
    expect(active.every((p) => p.count === 0)).toBe(true);
    // Both threads export one and the same resource.
    const ids = new Set(resources.map((r) => `${r['service.name']} ${r['service.instance.id']}`));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toMatch(/^sagewai-admin \S+$/);
  });
});
