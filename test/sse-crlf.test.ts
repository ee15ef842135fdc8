import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import { BackendClient, type RunEvent } from '../src/clients/backend.js';
import { SseParser } from '../src/clients/sse.js';

// The client reads /playground/run through the one SSE parser, so an event stream whose lines end
// in CRLF (as a proxy in front of the backend may rewrite them), even split between CR and LF
// across chunks, gives the same events as the backend's own LF stream.

let dir: string;
let backend: RunningBackend;
let proxy: http.Server;
let proxyUrl: string;
let token: string;

/** Forwards to the real backend; the event stream's LF become CRLF, written a few bytes per chunk. */
function crlfProxy(target: string): http.Server {
  return http.createServer((req, res) => {
    const up = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
      const sse = String(ur.headers['content-type'] ?? '').startsWith('text/event-stream');
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!sse) {
        ur.pipe(res);
        return;
      }
      let pending = '';
      ur.setEncoding('utf8');
      ur.on('data', (c: string) => {
        pending += c.replace(/\n/g, '\r\n');
      });
      ur.on('end', () => {
        // 3-byte pieces: many a CR arrives without its LF.
        const pieces = pending.match(/[\s\S]{1,3}/g) ?? [];
        const next = (): void => {
          const p = pieces.shift();
          if (p === undefined) res.end();
          else res.write(p, next);
        };
        next();
      });
    });
    req.pipe(up);
  });
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-sse-'));
  const store = openStore(dir);
  token = store.operatorToken;
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 3, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
  proxy = crlfProxy(backend.url);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const op = new BackendClient({ baseUrl: backend.url, token });
  await op.createProject({ slug: 'alpha', name: 'Alpha' });
  await op.createAgent('alpha', { name: 'a1', model: 'gpt-4o' });
  await op.close();
});

afterAll(async () => {
  await new Promise<void>((r) => proxy.close(() => r()));
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('server-sent events with CRLF line endings', () => {
  it('the parser ends lines at CRLF, CR and LF alike, also when CR and LF arrive in different chunks', () => {
    const p = new SseParser();
    const got = [...p.push('event: a\r'), ...p.push('\ndata: {"x":1}\r\n'), ...p.push('\r'), ...p.push('\nevent: b\rdata: 2\r\r'), ...p.end()];
    expect(got).toEqual([
      { event: 'a', data: '{"x":1}' },
      { event: 'b', data: '2' },
    ]);
  });

  it('BackendClient.run through a CRLF stream returns the same run as the direct LF stream', async () => {
    const viaProxy = new BackendClient({ baseUrl: proxyUrl, token });
    const direct = new BackendClient({ baseUrl: backend.url, token });
    const events: RunEvent[] = [];
    const req = { agent_name: 'a1', message: 'hello', simulate: { input_tokens: 40, output_tokens: 30 } };
    const a = await viaProxy.run('alpha', req, (e) => events.push(e));
    const b = await direct.run('alpha', req);
    expect(a.status).toBe('completed');
    expect(a.usage).toMatchObject({ input_tokens: 40, output_tokens: 30 });
    expect(a.usage?.cost_nusd).toBe(b.usage?.cost_nusd);
    expect(events[0]?.type).toBe('run_started');
    expect(events.at(-1)?.type).toBe('run_finished');
    const text = events.flatMap((e) => (e.type === 'text_message_content' ? [e.data.delta] : [])).join('');
    expect(text).toBe(a.output);
    expect(a.output.length).toBeGreaterThan(0);
    expect(text).not.toContain('\r');
    await viaProxy.close();
    await direct.close();
  });
});
