import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BackendClient, BackendApiError } from '../src/clients/backend.js';
import { RequestCounter, isHealthRoute, statusClass } from '../examples/driver/counter.js';
import { CountingPool, routeTemplate } from '../examples/driver/counting-pool.js';
import { createRng, mulberry32 } from '../examples/driver/prng.js';
import { loopUntil, mapLimit } from '../examples/driver/pace.js';
import { parseSse, SseParser } from '../examples/driver/sse.js';
import { percentile, summarise } from '../examples/driver/stats.js';

describe('seeded PRNG', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = mulberry32(43);
    const b = mulberry32(43);
    const c = mulberry32(44);
    const sa = Array.from({ length: 50 }, () => a());
    const sb = Array.from({ length: 50 }, () => b());
    const sc = Array.from({ length: 50 }, () => c());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('stays in [0, 1) and is roughly uniform', () => {
    const r = createRng(7);
    const buckets = new Array(10).fill(0) as number[];
    for (let i = 0; i < 20_000; i++) {
      const v = r.next();
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
      buckets[Math.floor(v * 10)]! += 1;
    }
    // 2,000 expected per bucket; a broken generator lands far outside ±10 %.
    for (const n of buckets) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });

  it('uniform/int stay within their bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (seed, lo, span) => {
        const r = createRng(seed);
        const i = r.int(lo, lo + span);
        const u = r.uniform(lo, lo + span + 1);
        return Number.isInteger(i) && i >= lo && i <= lo + span && u >= lo && u < lo + span + 1;
      }),
    );
  });

  it('forks are reproducible and independent of each other', () => {
    const one = createRng(43).fork('runs:acme-support');
    const two = createRng(43).fork('runs:acme-support');
    const other = createRng(43).fork('runs:initech-sales');
    const s1 = [one.next(), one.next(), one.next()];
    expect([two.next(), two.next(), two.next()]).toEqual(s1);
    expect([other.next(), other.next(), other.next()]).not.toEqual(s1);
  });
});

describe('status counting', () => {
  it('classifies statuses and rejects non-statuses', () => {
    expect(statusClass(200)).toBe('2xx');
    expect(statusClass(204)).toBe('2xx');
    expect(statusClass(302)).toBe('3xx');
    expect(statusClass(402)).toBe('4xx');
    expect(statusClass(599)).toBe('5xx');
    expect(() => statusClass(600)).toThrow();
    expect(() => statusClass(99)).toThrow();
  });

  it('keeps health routes apart exactly as the board excludes them', () => {
    expect(isHealthRoute('/api/v1/health/summary')).toBe(true);
    expect(isHealthRoute('/healthz')).toBe(true);
    expect(isHealthRoute('/api/v1/projects')).toBe(false);
    expect(isHealthRoute('/api/v1/healthy-things')).toBe(true); // the board's regex is a prefix: /api/v1/health.*
    const c = new RequestCounter();
    c.record('GET', '/api/v1/projects', 200);
    c.record('GET', '/api/v1/projects', 200);
    c.record('GET', '/api/v1/projects/{slug}', 404);
    c.record('GET', '/api/v1/health/summary', 200);
    c.record('POST', '/playground/run', 402);
    c.record('POST', '/playground/run', 500);
    expect(c.byClass('include')).toEqual({ '1xx': 0, '2xx': 3, '3xx': 0, '4xx': 2, '5xx': 1 });
    expect(c.byClass('exclude')).toEqual({ '1xx': 0, '2xx': 2, '3xx': 0, '4xx': 2, '5xx': 1 });
    expect(c.byClass('only')).toEqual({ '1xx': 0, '2xx': 1, '3xx': 0, '4xx': 0, '5xx': 0 });
    expect(c.byStatus('exclude')).toEqual({ '200': 2, '404': 1, '402': 1, '500': 1 });
    expect(c.total()).toBe(6);
  });

  it('maps concrete paths to route templates', () => {
    expect(routeTemplate('/api/v1/projects/acme-support')).toBe('/api/v1/projects/{slug}');
    expect(routeTemplate('/api/v1/projects/acme/tokens')).toBe('/api/v1/projects/{slug}/tokens');
    expect(routeTemplate('/api/v1/analytics/costs?from=x')).toBe('/api/v1/analytics/costs');
    expect(routeTemplate('/playground/agents/acme-triager')).toBe('/playground/agents/{name}');
  });
});

describe('CountingPool under the shared backend client', () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/api/v1/projects') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"items":[]}');
      } else if (req.url === '/api/v1/health/summary') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      } else if (req.url === '/api/v1/fleet/claim') {
        res.writeHead(204).end();
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"nope"}}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('counts every answered request by route template and status, errors included', async () => {
    const counter = new RequestCounter();
    const pool = new CountingPool(url, counter);
    const api = new BackendClient({ baseUrl: url }, pool);
    await api.listProjects();
    await api.listProjects();
    await api.healthSummary();
    expect(await api.fleetClaim({ worker_id: 'w', worker_secret: 's' }, 0)).toBeNull();
    await expect(api.getProject('ghost')).rejects.toBeInstanceOf(BackendApiError);
    await pool.close();
    expect(counter.rows()).toEqual([
      { method: 'POST', route: '/api/v1/fleet/claim', status: 204, count: 1 },
      { method: 'GET', route: '/api/v1/health/summary', status: 200, count: 1 },
      { method: 'GET', route: '/api/v1/projects', status: 200, count: 2 },
      { method: 'GET', route: '/api/v1/projects/{slug}', status: 404, count: 1 },
    ]);
    expect(counter.byClass('exclude')).toMatchObject({ '2xx': 3, '4xx': 1 });
    expect(counter.firstRequestAt).toBeTypeOf('number');
  });

  it('counts a refused connection as a transport error, not a status', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const counter = new RequestCounter();
    const pool = new CountingPool(`http://127.0.0.1:${port}`, counter);
    const api = new BackendClient({ baseUrl: `http://127.0.0.1:${port}` }, pool);
    await expect(api.listProjects()).rejects.toThrow();
    await pool.close();
    expect(counter.transportErrors).toBe(1);
    expect(counter.total()).toBe(0);
  });
});

describe('SSE parsing', () => {
  it('parses the /playground/run event sequence', () => {
    const text = 'event: run_started\ndata: {"run_id":"r1","agent":"a"}\n\nevent: text_message_content\ndata: {"delta":"Hel"}\n\nevent: text_message_content\ndata: {"delta":"lo"}\n\nevent: run_finished\ndata: {"output":"Hello","status":"completed","run_id":"r1"}\n\n';
    const evs = parseSse(text);
    expect(evs.map((e) => e.event)).toEqual(['run_started', 'text_message_content', 'text_message_content', 'run_finished']);
    expect(JSON.parse(evs[3]!.data)).toEqual({ output: 'Hello', status: 'completed', run_id: 'r1' });
  });

  it('handles chunks split anywhere, CRLF, comments, multi-line data and an unterminated tail', () => {
    const text = ': keep-alive\r\nevent: a\r\ndata: line1\r\ndata: line2\r\nid: 7\r\n\r\ndata: plain\n\nevent: cut\ndata: never finished';
    for (let split = 0; split <= text.length; split++) {
      const p = new SseParser();
      const evs = [...p.push(text.slice(0, split)), ...p.push(text.slice(split)), ...p.end()];
      expect(evs).toEqual([
        { event: 'a', data: 'line1\nline2', id: '7' },
        { event: 'message', data: 'plain', id: '7' },
      ]);
    }
  });
});

describe('percentiles', () => {
  it('uses nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([5, 1, 3], 50)).toBe(3);
    expect(percentile([42], 99)).toBe(42);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
    expect(() => percentile([1], 101)).toThrow();
  });

  it('is an observed value, monotone in p, between min and max', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 200 }), (xs) => {
        const s = summarise(xs);
        return xs.includes(s.p50) && s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max && s.p50 >= Math.min(...xs) && s.count === xs.length;
      }),
    );
  });
});

describe('pacing', () => {
  it('loopUntil stops on abort and survives a failing iteration', async () => {
    const ac = new AbortController();
    let n = 0;
    const errors: unknown[] = [];
    await loopUntil(
      ac.signal,
      () => 1,
      async () => {
        n++;
        if (n === 2) throw new Error('boom');
        if (n === 5) ac.abort();
      },
      (e) => errors.push(e),
    );
    expect(n).toBe(5);
    expect(errors).toHaveLength(1);
  });

  it('mapLimit never exceeds its limit and keeps order', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (x) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
      return x * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
  });
});
