import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { RequestCounter } from '../src/driver/counter.js';
import { SpreadingPool } from '../src/driver/counting-pool.js';

// run-example --backend-url URL1,URL2,URL3: the driver's requests go to each replica in turn,
// all counted once in one counter, and closing the client closes every replica's pool.
const servers: http.Server[] = [];
const hits: number[] = [0, 0, 0];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) {
    const s = http.createServer((req, res) => {
      hits[i] = (hits[i] ?? 0) + 1;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok' }));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    servers.push(s);
  }
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

describe('SpreadingPool', () => {
  it('spreads requests over every replica in turn, counts each once, and closes all pools', async () => {
    const origins = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    const counter = new RequestCounter();
    const pool = new SpreadingPool(origins, counter);
    const client = new BackendClient({ baseUrl: origins[0] as string }, pool);
    for (let i = 0; i < 9; i++) await client.request('GET', '/healthz');
    expect(hits).toEqual([3, 3, 3]);
    expect(counter.total()).toBe(9);
    await pool.close();
    await expect(client.request('GET', '/healthz')).rejects.toThrow();
  });
});
