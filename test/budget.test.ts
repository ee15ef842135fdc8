import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import { BackendApiError, BackendClient } from '../src/clients/backend.js';

let dir: string;
let backend: RunningBackend;
let op: BackendClient;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-budget-'));
  const store = openStore(dir);
  // Real (scaled) latency so the concurrent calls overlap while their reservations are open.
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 7, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0.5, workerLostAfterMs: 60_000, telemetryEnabled: false });
  op = new BackendClient({ baseUrl: backend.url, token: store.operatorToken, connections: 64 });
  for (const slug of ['capped', 'team-co', 'warned']) await op.createProject({ slug, name: slug });
  await op.createAgent('capped', { name: 'writer', model: 'gpt-4o', max_output_tokens: 1000 });
  await op.createAgent('team-co', { name: 'coder', model: 'claude-sonnet-4-5', max_output_tokens: 500 });
  await op.createAgent('warned', { name: 'w', model: 'claude-haiku-4-5', max_output_tokens: 100 });
});

afterAll(async () => {
  await op.close();
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// gpt-4o list price: $2.50 in / $10 out per million → 1000 in + 1000 out = $0.0125 = 12,500,000 nano-USD.
const CALL_NUSD = 12_500_000;
const fixed = { input_tokens: 1000, output_tokens: 1000 };

describe('stop caps under concurrency', () => {
  it('25 simultaneous runs at a cap with room for 3: exactly 3 succeed, spend never exceeds the cap, the rest get 402 + Retry-After', async () => {
    for (let i = 0; i < 4; i++) await op.run('capped', { agent_name: 'writer', message: `warm-up ${i}`, simulate: fixed });
    const cap = (4 + 3.5) * CALL_NUSD;
    await op.setBudget('capped', { scope: 'project', window: 'daily', limit_usd: cap / 1e9, action: 'stop' });
    const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => op.run('capped', { agent_name: 'writer', message: `burst ${i}`, simulate: fixed })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const denied = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(3);
    expect(denied).toHaveLength(22);
    for (const d of denied) {
      const e = d.reason as BackendApiError;
      expect(e).toBeInstanceOf(BackendApiError);
      expect(e.status).toBe(402);
      expect(e.code).toBe('budget_exceeded');
      const now = new Date();
      const toMidnight = (Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1) - now.getTime()) / 1000;
      expect(Math.abs((e.retryAfterSeconds as number) - toMidnight)).toBeLessThan(30);
    }
    const costs = await op.costs({ project: 'capped' });
    expect(costs.total.cost_nusd).toBe(7 * CALL_NUSD);
    expect(costs.total.cost_nusd).toBeLessThanOrEqual(cap);
    const [status] = await op.budgetStatus('capped');
    expect(status?.spent_usd).toBeCloseTo((7 * CALL_NUSD) / 1e9, 9);
    expect(status?.reserved_usd).toBe(0);
    const runs = await op.listRuns({ project: 'capped', status: 'denied', limit: 100 });
    expect(runs.items).toHaveLength(22);
  });

  it('with variable output the worst case is reserved: spend stays under the cap', async () => {
    await op.createProject({ slug: 'varied', name: 'varied' });
    await op.createAgent('varied', { name: 'v', model: 'gpt-4o', max_output_tokens: 800 });
    const cap = 0.03;
    await op.setBudget('varied', { scope: 'project', window: 'monthly', limit_usd: cap, action: 'stop' });
    const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => op.run('varied', { agent_name: 'v', message: `question number ${i} about the invoice` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(30);
    const costs = await op.costs({ project: 'varied' });
    expect(costs.total.cost_usd).toBeLessThanOrEqual(cap);
    expect(costs.total.calls).toBe(ok);
  });
});

describe('live state', () => {
  it('shows a run in flight with its elapsed time and cost so far, and drops it when done', async () => {
    let seen: Awaited<ReturnType<BackendClient['live']>> | undefined;
    let pending: Promise<void> | undefined;
    const done = await op.run('warned', { agent_name: 'w', message: 'live please', simulate: { input_tokens: 500, output_tokens: 100 } }, (e) => {
      if (e.type === 'run_started') pending = op.live('warned').then((l) => void (seen = l));
    });
    await pending;
    const mine = seen?.runs_in_flight.find((r) => r.run_id === done.run_id);
    expect(mine).toMatchObject({ project: 'warned', agent: 'w', model: 'claude-haiku-4-5' });
    expect(mine?.elapsed_ms).toBeGreaterThanOrEqual(0);
    // At least the input cost is already spent: 500 × $1/M.
    expect(mine?.cost_usd).toBeGreaterThanOrEqual(0.0005);
    expect((await op.live('warned')).runs_in_flight.find((r) => r.run_id === done.run_id)).toBeUndefined();
  });
});

describe('throttle and warn', () => {
  it('a throttle cap falls back to the cheaper model for that user only', async () => {
    await op.setBudget('team-co', { scope: 'user', subject: 'bob', window: 'daily', limit_usd: 0.001, action: 'throttle', fallback_model: 'claude-haiku-4-5' });
    const events: string[] = [];
    const bob = await op.run('team-co', { agent_name: 'coder', message: 'refactor this', user: 'bob' }, (e) => events.push(e.type));
    expect(bob.usage?.model).toBe('claude-haiku-4-5');
    expect(events).toContain('budget_warning');
    const alice = await op.run('team-co', { agent_name: 'coder', message: 'refactor this', user: 'alice' });
    expect(alice.usage?.model).toBe('claude-sonnet-4-5');
  });
  it('a team stop cap denies only calls attributed to that team', async () => {
    await op.setBudget('team-co', { scope: 'team', subject: 'interns', window: 'daily', limit_usd: 0, action: 'stop' });
    await expect(op.run('team-co', { agent_name: 'coder', message: 'x', team: 'interns' })).rejects.toMatchObject({ status: 402 });
    await expect(op.run('team-co', { agent_name: 'coder', message: 'x', team: 'engineering' })).resolves.toMatchObject({ status: 'completed' });
  });
  it('a warn cap lets calls through past 100 % and reports its state', async () => {
    await op.setBudget('warned', { scope: 'project', window: 'daily', limit_usd: 0.0001, action: 'warn' });
    for (let i = 0; i < 3; i++) await expect(op.run('warned', { agent_name: 'w', message: 'hello' })).resolves.toMatchObject({ status: 'completed' });
    const [s] = await op.budgetStatus('warned');
    expect(s?.state).toBe('exceeded');
    expect(s?.utilization).toBeGreaterThan(1);
  });
  it('rejects a throttle without fallback model and a team budget without subject (422)', async () => {
    await expect(op.setBudget('warned', { scope: 'project', window: 'daily', limit_usd: 1, action: 'throttle' })).rejects.toMatchObject({ status: 422 });
    await expect(op.setBudget('warned', { scope: 'team', window: 'daily', limit_usd: 1, action: 'stop' })).rejects.toMatchObject({ status: 422 });
  });
});
