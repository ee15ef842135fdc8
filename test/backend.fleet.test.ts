import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import { BackendClient } from '../src/clients/backend.js';

// Fleet worker lifecycle and the simulated provider's injected failures.
let dir: string;
let backend: RunningBackend;
let op: BackendClient;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-fleet-'));
  const store = openStore(dir);
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 5, failureRates: { rate_limit: 0.2, timeout: 0.1, server_error: 0.1 }, latencyScale: 0, workerLostAfterMs: 400, telemetryEnabled: false });
  op = new BackendClient({ baseUrl: backend.url, token: store.operatorToken });
  await op.createProject({ slug: 'fleet', name: 'Fleet' });
  await op.createAgent('fleet', { name: 'flaky', model: 'gpt-4.1-mini' });
});

afterAll(async () => {
  await op.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('fleet workers', () => {
  it('online → busy while holding a task → lost without heartbeats → online again on heartbeat', async () => {
    const w = await op.fleetRegister('fleet', { name: 'w1', pool: 'default', models: ['gpt-4.1-mini'], max_concurrent: 2 });
    expect(w.status).toBe('online');
    await op.createTask('fleet', { pool: 'default', payload: { job: 1 } });
    const t = await op.fleetClaim(w, 0);
    expect((await op.listWorkers('fleet'))[0]?.state).toBe('busy');
    // A heartbeat while holding the task keeps it busy (and says so).
    expect((await op.fleetHeartbeat(w)).state).toBe('busy');
    expect((await op.listWorkers('fleet'))[0]?.state).toBe('busy');
    const live = await op.live('fleet');
    expect(live.tasks_in_flight.find((x) => x.task_id === t?.task_id)).toMatchObject({ state: 'claimed', worker_id: w.worker_id });
    await op.fleetReport(w, { task_id: t?.task_id as string, status: 'failed', error: 'tool crashed' });
    expect((await op.listWorkers('fleet'))[0]?.state).toBe('online');
    await new Promise((r) => setTimeout(r, 1000));
    expect((await op.listWorkers('fleet'))[0]?.state).toBe('lost');
    expect((await op.fleetHeartbeat(w)).state).toBe('online');
    expect((await op.listTasks('fleet', 'failed')).map((x) => x.task_id)).toEqual([t?.task_id]);
  });
});

describe('a claim whose client went away', () => {
  it('takes no task: the long-poll ends with the connection, and the next worker gets the task', async () => {
    const gone = await op.fleetRegister('fleet', { name: 'gone', pool: 'hangup', models: ['gpt-4.1-mini'] });
    const other = await op.fleetRegister('fleet', { name: 'other', pool: 'hangup', models: ['gpt-4.1-mini'] });
    const body = JSON.stringify({ wait_ms: 30_000 });
    const req = http.request(`${backend.url}/api/v1/fleet/claim`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-worker-id': gone.worker_id, 'x-worker-secret': gone.worker_secret } });
    req.on('error', () => undefined);
    req.end(body);
    // Give the long-poll time to start waiting, then hang up.
    await new Promise((r) => setTimeout(r, 300));
    req.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const task = await op.createTask('fleet', { pool: 'hangup', payload: { job: 'after hang-up' } });
    const claimed = await op.fleetClaim(other, 2000);
    expect(claimed?.task_id).toBe(task.task_id);
    expect((await op.listTasks('fleet', 'claimed')).find((t) => t.task_id === task.task_id)?.worker_id).toBe(other.worker_id);
  });
});

describe('simulated provider failures', () => {
  it('injected failures end the stream with status error, cost nothing and leave no ledger row', async () => {
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await op.run('fleet', { agent_name: 'flaky', message: `call ${i}` }));
    const failed = results.filter((r) => r.status === 'error');
    const codes = new Set(failed.map((r) => r.error?.code));
    // 40 % configured failure rate: with 40 calls, both outcomes must occur.
    expect(failed.length).toBeGreaterThan(4);
    expect(failed.length).toBeLessThan(32);
    for (const c of codes) expect(['rate_limit', 'timeout', 'server_error']).toContain(c);
    const costs = await op.costs({ project: 'fleet' });
    expect(costs.total.calls).toBe(40 - failed.length);
    const errors = await op.listRuns({ project: 'fleet', status: 'error', limit: 100 });
    expect(errors.items).toHaveLength(failed.length);
    const forced = await op.run('fleet', { agent_name: 'flaky', message: 'x', simulate: { fail: 'timeout' } });
    expect(forced).toMatchObject({ status: 'error', error: { code: 'timeout' } });
  });
});
