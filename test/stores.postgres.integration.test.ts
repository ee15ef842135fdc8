import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, type RunSink } from '../src/backend/app.js';
import type { WorkerRow } from '../src/backend/areas/fleet.js';
import { HttpError } from '../src/backend/http.js';
import { postgresReplicas } from './helpers/postgres.js';

// The store-level checks of the SQLite unit tests, on a real PostgreSQL: window totals equal the
// ledger, a budget race between three in-process "replicas" (each its own pool and owner id),
// and concurrent fleet claims from three pools. (test/replicas.fault.test.ts does the same with
// three `serve` processes over HTTP.)
const pgr = postgresReplicas('pgstores');
const replica = (id: string, failureRates?: { rate_limit: number; timeout: number; server_error: number }): ReturnType<typeof pgr.replica> => pgr.replica(id, { seed: 5, ...(failureRates ? { failureRates } : {}) });
const sink: RunSink = { started: () => {}, delta: () => {}, warning: () => {} };

beforeAll(() => pgr.start(), 60_000);
afterAll(() => pgr.stop());

const agent = { name: 'bot', model: 'gpt-4o', system_prompt: 'You help.', strategy: 'single', temperature: 0, tools: [], metadata: {}, max_output_tokens: 300 };

describe('PostgreSQL stores', () => {
  it('budget window totals equal the ledger sum for every subject, with provider errors and denials in the mix', async () => {
    const { app, o } = await replica('totals', { rate_limit: 0, timeout: 0, server_error: 0.15 });
    const budgets = o.stores.budgets;
    for (const p of ['alpha', 'beta']) {
      await app.createProject({ slug: p, name: p, environment: 'dev' }, 'op');
      await app.createAgent(p, agent, 'op');
      for (const window of ['daily', 'monthly'] as const) {
        await budgets.upsert({ project: p, scope: 'project', subject: p, window, limit_nusd: 1e12, action: 'warn', fallback_model: null });
        for (const team of ['eng', 'ops']) await budgets.upsert({ project: p, scope: 'team', subject: team, window, limit_nusd: 1e12, action: 'warn', fallback_model: null });
        for (const user of ['ann', 'bob']) await budgets.upsert({ project: p, scope: 'user', subject: user, window, limit_nusd: 1e12, action: 'warn', fallback_model: null });
      }
    }
    await budgets.upsert({ project: 'beta', scope: 'user', subject: 'cid', window: 'daily', limit_nusd: 20_000_000, action: 'stop', fallback_model: null });
    const people = [{ user: 'ann', team: 'eng' }, { user: 'bob', team: 'eng' }, { user: 'ann', team: 'ops' }, { user: 'cid' }, { team: 'ops' }, {}] as Array<{ user?: string; team?: string }>;
    let denied = 0;
    await Promise.all(
      Array.from({ length: 60 }, async (_, k) => {
        const who = people[k % people.length] as { user?: string; team?: string };
        try {
          await app.run(k % 3 === 0 ? 'beta' : 'alpha', { agent_name: 'bot', message: `call ${k}`, user: who.user, team: who.team, simulate: { input_tokens: 100 + (k % 7) * 50, output_tokens: 20 + (k % 5) * 40 } }, 'op', sink);
        } catch (err) {
          if (!(err instanceof HttpError && err.status === 402)) throw err;
          denied++;
        }
      }),
    );
    expect(denied).toBeGreaterThan(0);
    const col = { project: 'project', team: 'team', user: 'user_name' } as const;
    let nonZero = 0;
    for (const b of await budgets.list()) {
      const want = Number((await pgr.db.query(`SELECT COALESCE(SUM(cost_nusd), 0) AS s FROM ledger WHERE project = $1 AND ${col[b.scope]} = $2`, [b.project, b.subject])).rows[0].s);
      expect(await budgets.spentInWindow(b), `${b.project} ${b.scope} ${b.subject} ${b.window}`).toBe(want);
      if (want > 0) nonZero++;
    }
    expect(nonZero).toBeGreaterThan(10);
    expect((await pgr.db.query('SELECT COUNT(*)::int AS n FROM reservations')).rows[0].n).toBe(0);
  });

  it('a stop cap raced by three replicas (own pools, own owner ids): exactly the affordable calls pass', async () => {
    const reps = [await replica('race-a'), await replica('race-b'), await replica('race-c')];
    const app = reps[0]?.app as App;
    await app.createProject({ slug: 'race', name: 'race', environment: 'dev' }, 'op');
    await app.createAgent('race', { ...agent, max_output_tokens: 200 }, 'op');
    const one = await app.run('race', { agent_name: 'bot', message: 'price', simulate: { input_tokens: 1000, output_tokens: 200 } }, 'op', sink);
    const cost = (one as { usage: { cost_nusd: number } }).usage.cost_nusd;
    await reps[1]?.o.stores.budgets.upsert({ project: 'race', scope: 'project', subject: 'race', window: 'daily', limit_nusd: Math.round(5.5 * cost), action: 'stop', fallback_model: null });
    const outcomes = await Promise.all(
      Array.from({ length: 45 }, async (_, i) => {
        try {
          return (await (reps[i % 3]?.app as App).run('race', { agent_name: 'bot', message: `r${i}`, simulate: { input_tokens: 1000, output_tokens: 200 } }, 'op', sink)).status;
        } catch (err) {
          return err instanceof HttpError ? String(err.status) : String(err);
        }
      }),
    );
    // One call was made before the cap: 4 more fit under 5.5 calls' worth.
    expect(outcomes.filter((s) => s === 'completed')).toHaveLength(4);
    expect(outcomes.filter((s) => s === '402')).toHaveLength(41);
    const spent = Number((await pgr.db.query("SELECT SUM(cost_nusd) AS s FROM ledger WHERE project = 'race'")).rows[0].s);
    expect(spent).toBe(5 * cost);
    expect((await pgr.db.query("SELECT COUNT(*)::int AS n FROM reservations WHERE project = 'race'")).rows[0].n).toBe(0);
  });

  it('fleet: 60 concurrent claims from three pools over 20 queued tasks hand each task to exactly one worker', async () => {
    const reps = [await replica('fleet-a'), await replica('fleet-b'), await replica('fleet-c')];
    const first = reps[0]?.o.stores.fleet;
    if (!first) throw new Error('no store');
    await reps[0]?.app.createProject({ slug: 'fleet', name: 'fleet', environment: 'dev' }, 'op');
    const workers: WorkerRow[] = [];
    for (let i = 0; i < 12; i++) {
      await first.insertWorker({ id: `w${i}`, project: 'fleet', name: `w${i}`, pool: 'p', models: '[]', labels: '{}', max_concurrent: 1, secret_hash: 'x', registered_at: Date.now() });
      workers.push((await first.worker(`w${i}`)) as WorkerRow);
    }
    const tasks: string[] = [];
    for (let i = 0; i < 20; i++) tasks.push((await first.insertTask({ id: `t${i}`, project: 'fleet', pool: 'p', payload: '{}', model: null, created_at: Date.now() + i })).id);
    const claims = await Promise.all(Array.from({ length: 60 }, (_, i) => reps[i % 3]?.o.stores.fleet.claim(workers[i % 12] as WorkerRow, Date.now())));
    const got = claims.filter((t) => t !== undefined).map((t) => t?.id as string);
    expect(got.sort()).toEqual([...tasks].sort());
    const rows = (await pgr.db.query<{ id: string; worker_id: string }>("SELECT id, worker_id FROM tasks WHERE project = 'fleet' AND status = 'claimed'")).rows;
    expect(rows).toHaveLength(20);
  });

  it('a transaction whose connection PostgreSQL drops between two statements is a 503, and the process lives on', async () => {
    const { o } = await replica('dropped');
    // Between the two statements the server ends this session: with no active query, node-postgres
    // reports it as an 'error' event on the checked-out client, which nothing else listens to.
    const err = await o.stores.db
      .tx(async (q) => {
        const pid = (await q('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
        await pgr.db.query('SELECT pg_terminate_backend($1)', [pid]);
        await new Promise((r) => setTimeout(r, 300));
        return q('SELECT 1');
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 503, code: 'database_unavailable' });
    // The pool hands out a working connection afterwards.
    expect(await o.stores.db.tx(async (q) => (await q('SELECT 2 AS n')).rows[0].n)).toBe(2);
  });
});
