import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendApiError, BackendClient, type WorkerCredentials } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, sleep } from './helpers/fault.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';

// Several `serve` replicas on one real PostgreSQL (docs/faults.md, faults 9–12): a budget race
// spread over three replicas, fleet long-polls on different replicas, recovery isolation after a
// kill -9 of one replica, and PostgreSQL restarted under load.
let server: TestPostgres;
let dataDir: string;
const replicas: Array<TestBackend | undefined> = [];
const clients: BackendClient[] = [];
let db: pg.Client;

const MODEL = 'gpt-4o';
const TOKENS = { input_tokens: 1000, output_tokens: 200 };
const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

async function startReplica(i: number, env: NodeJS.ProcessEnv = {}): Promise<TestBackend> {
  const b = await startTestBackend({ dataDir, args: ['--database', server.url, '--instance-id', `replica-${i}`], env: { SAGEWAI_OBS_LATENCY_SCALE: '0.1', ...env } });
  replicas[i] = b;
  return b;
}

const client = (b: TestBackend): BackendClient => new BackendClient({ baseUrl: b.url, token: b.operatorToken, timeoutMs: 60_000, connections: 64 });
const one = async <R>(sql: string, params: unknown[] = []): Promise<R> => (await db.query(sql, params)).rows[0] as R;

beforeAll(async () => {
  server = await startTestPostgres();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-replicas-'));
  // Three replicas starting at once on an empty database: one migrates, the others wait for it.
  await Promise.all([0, 1, 2].map((i) => startReplica(i)));
  for (const b of replicas) clients.push(client(b as TestBackend));
  db = new pg.Client({ connectionString: server.url });
  db.on('error', () => undefined);
  await db.connect();
  await bootstrap(clients[0] as BackendClient, ['calib', 'race', 'steady', 'outage'].map((p) => ({ project: p, agent: 'bot', model: MODEL })), { max_output_tokens: TOKENS.output_tokens });
}, 120_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await db?.end().catch(() => undefined);
  for (const b of replicas) await b?.stop().catch(() => undefined);
  await server?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('serve replicas on one PostgreSQL', () => {
  it('migrated the empty database once, to the current schema version', async () => {
    const { SCHEMA_VERSION } = await import('../src/backend/migrations.js');
    const rows = (await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
    expect(rows).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
  });

  it('9. a 50-call budget race spread over 3 replicas: exactly the affordable calls pass, overshoot $0, no reservation left open', async () => {
    const calib = await (clients[0] as BackendClient).run('calib', { agent_name: 'bot', message: 'price one call', simulate: TOKENS });
    const cost = calib.usage?.cost_nusd as number;
    const limitUsd = (3.5 * cost) / 1e9;
    await (clients[1] as BackendClient).setBudget('race', { scope: 'project', window: 'daily', limit_usd: limitUsd, action: 'stop' });
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        try {
          return (await (clients[i % 3] as BackendClient).run('race', { agent_name: 'bot', message: `race ${i}`, simulate: TOKENS })).status;
        } catch (err) {
          return err instanceof BackendApiError ? String(err.status) : `error: ${(err as Error).message}`;
        }
      }),
    );
    const statuses: Record<string, number> = {};
    for (const o of outcomes) statuses[o] = (statuses[o] ?? 0) + 1;
    const spent = (await (clients[2] as BackendClient).costs({ project: 'race', group_by: ['project'] })).total.cost_nusd;
    const open = await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM reservations WHERE project = 'race'");
    log(`budget race over 3 replicas: ${JSON.stringify(statuses)}; spent $${spent / 1e9} of $${limitUsd}; overshoot $${Math.max(0, spent - Math.round(limitUsd * 1e9)) / 1e9}; open reservations ${open.n}`);
    expect(statuses).toEqual({ completed: 3, '402': 47 });
    expect(spent).toBe(3 * cost);
    expect(open.n).toBe(0);
  });

  it('10. fleet: tasks queued through one replica, long-poll claims on all three: each task claimed by exactly one worker', async () => {
    const project = 'steady';
    const workers: Array<{ w: WorkerCredentials; c: BackendClient; replica: number }> = [];
    // Tasks are queued through replica 0; the workers long-poll on replicas 1 and 2 only, so every
    // claim is woken by another replica's write (and two replicas race for each task).
    for (let i = 0; i < 6; i++) {
      const replica = 1 + (i % 2);
      const c = clients[replica] as BackendClient;
      workers.push({ w: await c.fleetRegister(project, { name: `w${i}`, pool: 'cross', models: [MODEL] }), c, replica });
    }
    const claims: Array<{ task: string; worker: string; replica: number }> = [];
    let stop = false;
    const loops = workers.map(async ({ w, c, replica }) => {
      while (!stop) {
        const t = await c.fleetClaim(w, 1500);
        if (!t) continue;
        claims.push({ task: t.task_id, worker: w.worker_id, replica });
        await c.fleetReport(w, { task_id: t.task_id, status: 'completed', result: { by: w.worker_id } });
      }
    });
    const created: string[] = [];
    await sleep(300); // every worker is waiting in its long-poll
    for (let i = 0; i < 30; i++) {
      created.push((await (clients[0] as BackendClient).createTask(project, { pool: 'cross', payload: { n: i } })).task_id);
      if (i % 5 === 4) await sleep(100);
    }
    const t0 = performance.now();
    const deadline = Date.now() + 20_000;
    while (claims.length < created.length && Date.now() < deadline) await sleep(50);
    const waited = performance.now() - t0;
    stop = true;
    await Promise.all(loops);
    const perTask = new Map<string, number>();
    for (const c of claims) perTask.set(c.task, (perTask.get(c.task) ?? 0) + 1);
    const byReplica = [0, 1, 2].map((r) => claims.filter((c) => c.replica === r).length);
    log(`fleet over 3 replicas: ${created.length} tasks queued on replica 0, ${claims.length} claims (on replicas 0/1/2: ${byReplica.join('/')}), ${Math.round(waited)} ms until the last claim`);
    expect([...perTask.keys()].sort()).toEqual([...created].sort());
    expect([...perTask.values()].every((n) => n === 1)).toBe(true);
    // Long-polls waiting on replicas 1 and 2 got tasks queued through replica 0.
    expect(byReplica[0]).toBe(0);
    expect(byReplica[1]).toBeGreaterThan(0);
    expect(byReplica[2]).toBeGreaterThan(0);
    const done = await (clients[2] as BackendClient).listTasks(project, 'completed');
    expect(done.filter((t) => created.includes(t.task_id))).toHaveLength(created.length);
  });

  it('11. kill -9 one replica mid-load, start it again: the others\' in-flight runs and reservations are untouched, the killed one\'s are recovered, nothing lost', async () => {
    const project = 'steady';
    // Slow calls (≈2 s each) so that every replica has runs in flight when one is killed.
    const slow = { input_tokens: 500, output_tokens: 1500 };
    const results: Array<{ replica: number; status: string; runId?: string }> = [];
    const load = (replica: number, n: number): Promise<void> =>
      Promise.all(
        Array.from({ length: n }, async (_, i) => {
          try {
            const r = await (clients[replica] as BackendClient).run(project, { agent_name: 'bot', message: `steady ${replica}/${i}`, simulate: slow, max_output_tokens: 1500 });
            results.push({ replica, status: r.status, runId: r.run_id });
          } catch (err) {
            results.push({ replica, status: err instanceof BackendApiError ? String(err.status) : 'lost' });
          }
        }),
      ).then(() => undefined);
    // Replicas 0 and 2 keep three slow calls each in flight until the test ends; replica 1 gets six.
    let survivorsStop = false;
    const steady = (replica: number): Promise<void> =>
      Promise.all(
        Array.from({ length: 3 }, async () => {
          while (!survivorsStop) await load(replica, 1);
        }),
      ).then(() => undefined);
    const survivors = [steady(0), steady(2)];
    // Whatever fails below, the survivors' loops stop with the test: left running they outlive it,
    // and once afterAll closes the clients each call fails at once, so they spin on microtasks and
    // the whole fault tier hangs (seen once on a clean CI run).
    try {
      const doomed = load(1, 6);
      const ownerOf = async (owner: string): Promise<number> => (await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM runs WHERE status = 'running' AND owner = $1", [owner])).n;
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && (await ownerOf('replica-1')) === 0) await sleep(50);
      await (replicas[1] as TestBackend).kill();
      const killedOpen = await ownerOf('replica-1');
      const killedRes = (await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM reservations WHERE owner = 'replica-1'")).n;
      expect(killedOpen).toBeGreaterThan(0);
      await doomed;
      // Restarted with the same instance id while the other two are mid-load.
      const othersBefore = (await db.query<{ id: string }>("SELECT id FROM runs WHERE status = 'running' AND owner IN ('replica-0', 'replica-2')")).rows.map((r) => r.id);
      const othersResBefore = (await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM reservations WHERE owner IN ('replica-0', 'replica-2')")).n;
      const b = await startReplica(1);
      clients[1] = client(b);
      const othersAfter = (await db.query<{ id: string; status: string }>('SELECT id, status FROM runs WHERE id = ANY($1)', [othersBefore])).rows;
      log(`kill -9 replica-1 with ${killedOpen} runs / ${killedRes} reservations open; replicas 0+2 had ${othersBefore.length} runs / ${othersResBefore} reservations open when it restarted`);
      expect(othersBefore.length).toBeGreaterThan(0);
      // None of the survivors' runs was marked interrupted by the restarted replica's recovery.
      expect(othersAfter.filter((r) => r.status === 'error')).toEqual([]);
      expect(await ownerOf('replica-1')).toBe(0);
      expect((await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM reservations WHERE owner = 'replica-1'")).n).toBe(0);
      expect((await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM runs WHERE owner = 'replica-1' AND error = 'interrupted by a restart'")).n).toBe(killedOpen);
    } finally {
      survivorsStop = true;
      await Promise.all(survivors);
    }
    const survived = results.filter((r) => r.replica !== 1);
    expect(survived.length).toBeGreaterThanOrEqual(6);
    expect(survived.filter((r) => r.status !== 'completed')).toEqual([]);
    // Every completed call is one ledger row; every ledger row is a completed run; no reservation left.
    const ledgerRuns = new Set((await db.query<{ run_id: string }>("SELECT run_id FROM ledger WHERE project = 'steady'")).rows.map((r) => r.run_id));
    for (const r of survived) expect(ledgerRuns.has(r.runId as string)).toBe(true);
    const mismatch = await one<{ n: number }>("SELECT COUNT(*)::int AS n FROM runs r FULL JOIN ledger l ON l.run_id = r.id WHERE (r.status = 'completed') IS DISTINCT FROM (l.id IS NOT NULL) AND COALESCE(r.project, l.project) = 'steady'");
    expect(mismatch.n).toBe(0);
    expect((await one<{ n: number }>('SELECT COUNT(*)::int AS n FROM reservations')).n).toBe(0);
    // The restarted replica serves.
    expect((await (clients[1] as BackendClient).run(project, { agent_name: 'bot', message: 'after restart', simulate: TOKENS })).status).toBe('completed');
  });

  it('12. PostgreSQL restarted mid-load: 503 + Retry-After during the outage (never a 500), reconnect, no ledger row lost or doubled', async () => {
    const project = 'outage';
    const seen: Record<string, number> = {};
    const completed: string[] = [];
    let retryAfterMissing = 0;
    let stop = false;
    const inflight = new Set<Promise<void>>();
    const fire = async (r: number): Promise<void> => {
      try {
        const res = await (clients[r] as BackendClient).run(project, { agent_name: 'bot', message: 'outage', simulate: TOKENS });
        seen[res.status] = (seen[res.status] ?? 0) + 1;
        if (res.status === 'completed') completed.push(res.run_id);
      } catch (err) {
        const key = err instanceof BackendApiError ? String(err.status) : `other: ${(err as Error).message.slice(0, 80)}`;
        seen[key] = (seen[key] ?? 0) + 1;
        if (err instanceof BackendApiError && err.status === 503 && !err.retryAfterSeconds) retryAfterMissing++;
      }
    };
    // A new call every 60 ms spread over the replicas, whatever the others are doing (≤ 60 in flight).
    const loops = [
      (async () => {
        for (let i = 0; !stop; i++) {
          if (inflight.size < 60) {
            const p = fire(i % 3).finally(() => inflight.delete(p));
            inflight.add(p);
          }
          await sleep(60);
        }
        await Promise.all([...inflight]);
      })(),
    ];
    await sleep(1500);
    const before = completed.length;
    await server.restart(3000);
    const reconnect = Date.now();
    while (completed.length <= before + 3 && Date.now() - reconnect < 20_000) await sleep(100);
    const reconnectedMs = Date.now() - reconnect;
    await sleep(1000);
    stop = true;
    await Promise.all(loops);
    log(`PostgreSQL restart under load on 3 replicas: ${JSON.stringify(seen)}; served again ${reconnectedMs} ms after PostgreSQL was back`);
    // A replica that died during the outage says why here, not only as refused connections below.
    for (const [i, b] of replicas.entries()) expect(b?.exited() ?? null, `replica-${i} exited during the outage; its stderr:\n${b?.stderrTail()}`).toBeNull();
    expect(seen['503']).toBeGreaterThan(0);
    expect(retryAfterMissing).toBe(0);
    expect(Object.keys(seen).filter((k) => k !== 'completed' && k !== '503')).toEqual([]);
    expect(completed.length).toBeGreaterThan(before + 3);
    const rows = (await new Promise<pg.Client>((resolve, reject) => {
      const c = new pg.Client({ connectionString: server.url });
      c.connect().then(() => resolve(c), reject);
    }).then(async (c) => {
      const r = await c.query<{ run_id: string; n: number }>('SELECT run_id, COUNT(*)::int AS n FROM ledger WHERE project = $1 GROUP BY run_id', [project]);
      const runs = await c.query<{ n: number }>("SELECT COUNT(*)::int AS n FROM runs WHERE project = $1 AND status = 'completed'", [project]);
      const open = await c.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM reservations WHERE project = $1', [project]);
      await c.end();
      return { ledger: r.rows, completedRuns: runs.rows[0]?.n, open: open.rows[0]?.n };
    }));
    // Every completed answer has exactly one ledger row, and no ledger row lacks a completed answer.
    expect(rows.ledger.every((r) => r.n === 1)).toBe(true);
    expect(rows.ledger.map((r) => r.run_id).sort()).toEqual([...completed].sort());
    expect(rows.completedRuns).toBe(completed.length);
    expect(rows.open).toBe(0);
  });
});
