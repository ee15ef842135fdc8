/**
 * Example 40 — fleet under load. 24 workers (8 per tenant, pools default and fast) take 100
 * tasks (40/35/25 % per tenant) through the backend's fleet API: enqueue, long-poll claim, work,
 * report. It measures claim latency and throughput and fails on a cross-tenant leak, a lost task
 * or a task done twice.
 */
import type { FleetTask, RegisteredWorker } from '../src/clients/backend.js';
import type { ExpectedEvent } from '../src/run-example/verify.js';
import { ExampleContext, idempotent, type ExampleOptions, type ExampleResultBase } from '../src/driver/context.js';
import { sleep } from '../src/driver/pace.js';
import { signIn } from '../src/driver/session.js';
import { summarise, type LatencySummary } from '../src/driver/stats.js';

/** Upper bound for the whole workload; it normally ends as soon as every task is reported. */
export const DEFAULT_DURATION_MS = 90_000;
export const DEFAULT_SEED = 40;
export const TOTAL_TASKS = 100;
export const WORKERS_PER_TENANT = 8;
export const POOLS = ['default', 'fast'] as const;
export const FLEET_TENANTS = [
  { slug: 'acme-fleet', name: 'Acme Fleet', share: 0.4 },
  { slug: 'globex-fleet', name: 'Globex Fleet', share: 0.35 },
  { slug: 'initech-fleet', name: 'Initech Fleet', share: 0.25 },
] as const;
const CLAIM_WAIT_MS = 1000;

export interface Example40Result extends ExampleResultBase {
  example: '40';
  workers: number;
  tasks: { enqueued: number; completed: number; lost: number; doneTwice: number; leaks: number; stale: number; byTenant: Record<string, number> };
  /** Enqueue request start → the claim answer that carried the task (ms). */
  claimLatencyMs: LatencySummary;
  /** Round trip of claim calls that returned a task (ms). */
  claimRequestMs: LatencySummary;
  throughputTasksPerSecond: number;
  elapsedSeconds: number;
}

interface Worker {
  reg: RegisteredWorker;
  project: string;
  pool: string;
}

export async function run(options: ExampleOptions): Promise<Example40Result> {
  const ctx = new ExampleContext(options, DEFAULT_SEED);
  const { api, progress, rng } = ctx;
  const nonce = `${ctx.seed}-${Date.now().toString(36)}`;
  try {
    progress.phase = 'setup';
    await signIn(ctx);
    for (const t of FLEET_TENANTS) await idempotent(() => api.createProject({ slug: t.slug, name: t.name, environment: 'production' }));
    const workers: Worker[] = [];
    for (const t of FLEET_TENANTS) {
      for (let i = 0; i < WORKERS_PER_TENANT; i++) {
        const pool = POOLS[i % POOLS.length] as string;
        const reg = await api.fleetRegister(t.slug, { name: `${t.slug}-${pool}-${i + 1}`, models: ['claude-haiku-4-5'], pool, labels: { run: nonce }, max_concurrent: 1 });
        workers.push({ reg, project: t.slug, pool });
      }
    }
    progress.workers = workers.length;
    ctx.log(`${workers.length} workers registered across ${FLEET_TENANTS.length} tenants`);

    // The task plan: 40/35/25 per tenant, alternating pools, enqueued in a seeded shuffled order.
    const plan: Array<{ project: string; pool: string; seq: number }> = [];
    for (const t of FLEET_TENANTS) {
      const n = Math.round(TOTAL_TASKS * t.share);
      for (let i = 0; i < n; i++) plan.push({ project: t.slug, pool: POOLS[i % POOLS.length] as string, seq: plan.length });
    }
    for (let i = plan.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [plan[i], plan[j]] = [plan[j] as (typeof plan)[number], plan[i] as (typeof plan)[number]];
    }

    const enqueued = new Map<string, { project: string; pool: string }>();
    const ours = new Map<string, { project: string; pool: string }>();
    const enqueueStartedAt = new Map<number, number>();
    const claimedBy = new Map<string, string[]>();
    const completedCount = new Map<string, number>();
    let leaks = 0;
    let stale = 0;
    const latencies: number[] = [];
    const claimRtts: number[] = [];
    const errors: string[] = [];
    const stop = ctx.deadline(options.durationMs ?? DEFAULT_DURATION_MS);
    const allDone = new AbortController();
    stop.addEventListener('abort', () => allDone.abort(), { once: true });
    const finished = allDone.signal;
    const firstAt = Date.now();
    let lastReportAt = firstAt;

    progress.phase = 'load';
    const workerLoops = workers.map(async (w) => {
      const creds = { worker_id: w.reg.worker_id, worker_secret: w.reg.worker_secret };
      const r = rng.fork(`worker:${w.reg.worker_id}`);
      await api.fleetHeartbeat(creds, { status: 'online', active_tasks: 0 });
      while (!finished.aborted) {
        try {
          const t0 = Date.now();
          const task: FleetTask | null = await api.fleetClaim(creds, CLAIM_WAIT_MS);
          const t1 = Date.now();
          if (!task) {
            await api.fleetHeartbeat(creds, { status: 'online', active_tasks: 0 });
            continue;
          }
          claimRtts.push(t1 - t0);
          // Ours by payload, not by the enqueue answer: a worker may claim a task before the
          // enqueuer has even read the response that created it.
          const payload = (task.payload ?? {}) as { run?: string; seq?: number };
          const item = payload.run === nonce && typeof payload.seq === 'number' ? plan.find((p) => p.seq === payload.seq) : undefined;
          if (task.project !== w.project || task.pool !== w.pool || (item && (item.project !== w.project || item.pool !== w.pool))) leaks++;
          if (item) {
            latencies.push(t1 - (enqueueStartedAt.get(item.seq) ?? t1));
            claimedBy.set(task.task_id, [...(claimedBy.get(task.task_id) ?? []), w.reg.worker_id]);
          } else stale++; // a task left queued by an earlier run of this tenant: done, but not ours to count
          await sleep(r.uniform(20, 120));
          await api.fleetReport(creds, { task_id: task.task_id, status: 'completed', result: { by: w.reg.worker_id } });
          lastReportAt = Date.now();
          if (item) {
            ours.set(task.task_id, { project: item.project, pool: item.pool });
            completedCount.set(task.task_id, (completedCount.get(task.task_id) ?? 0) + 1);
            progress.tasksDone++;
            if (completedCount.size === plan.length) allDone.abort();
          }
        } catch (err) {
          if (errors.length < 20) errors.push(`${w.reg.worker_id}: ${(err as Error).message}`);
          await sleep(200);
        }
      }
    });

    // Enqueue the plan at once, a few at a time, while the workers are already waiting.
    const enqueuer = (async () => {
      for (const item of plan) {
        if (stop.aborted) break;
        enqueueStartedAt.set(item.seq, Date.now());
        const task = await api.createTask(item.project, { pool: item.pool, model: 'claude-haiku-4-5', payload: { run: nonce, seq: item.seq } });
        enqueued.set(task.task_id, { project: item.project, pool: item.pool });
      }
    })();
    await enqueuer;
    await Promise.all(workerLoops);
    const endMs = Date.now();
    progress.phase = 'done';

    // The backend's own view: every task we enqueued is completed, in its own tenant.
    const backendCompleted = new Set<string>();
    for (const t of FLEET_TENANTS) for (const task of await api.listTasks(t.slug, 'completed')) if (task.project === t.slug) backendCompleted.add(task.task_id);

    const ids = [...enqueued.keys()];
    const lost = ids.filter((id) => !completedCount.has(id) || !backendCompleted.has(id)).length;
    const doneTwice = ids.filter((id) => (completedCount.get(id) ?? 0) > 1 || (claimedBy.get(id)?.length ?? 0) > 1).length;
    const byTenant: Record<string, number> = {};
    for (const [id, e] of enqueued) if (completedCount.has(id) && ours.has(id)) byTenant[e.project] = (byTenant[e.project] ?? 0) + 1;
    const elapsed = Math.max(0.001, (lastReportAt - firstAt) / 1000);

    ctx.check('all tasks enqueued', ids.length === TOTAL_TASKS, `${ids.length} of ${TOTAL_TASKS}`);
    ctx.check('no cross-tenant leak', leaks === 0, `${leaks} tasks claimed by a worker of another tenant or pool`);
    ctx.check('no lost task', lost === 0, `${lost} tasks not completed (driver and backend task list)`);
    ctx.check('no task done twice', doneTwice === 0, `${doneTwice} tasks claimed or completed more than once`);
    for (const t of FLEET_TENANTS) {
      const want = Math.round(TOTAL_TASKS * t.share);
      ctx.check(`tenant ${t.slug} share`, byTenant[t.slug] === want, `${byTenant[t.slug] ?? 0} of ${want} tasks completed`);
    }
    ctx.check('workers ran clean', errors.length === 0, errors.length === 0 ? 'no errors' : errors.slice(0, 5).join('; '));

    return {
      example: '40',
      title: 'fleet under load',
      seed: ctx.seed,
      window: ctx.window(endMs),
      projects: FLEET_TENANTS.map((t) => t.slug),
      requests: ctx.requestsSummary(endMs),
      checks: ctx.checks,
      workers: workers.length,
      tasks: { enqueued: ids.length, completed: [...completedCount.keys()].length, lost, doneTwice, leaks, stale, byTenant },
      claimLatencyMs: summarise(latencies),
      claimRequestMs: summarise(claimRtts),
      throughputTasksPerSecond: Math.round(([...completedCount.keys()].length / elapsed) * 10) / 10,
      elapsedSeconds: Math.round(elapsed * 10) / 10,
    };
  } finally {
    await ctx.close();
  }
}

export function expectedEvents(r: Example40Result): ExpectedEvent[] {
  const out: ExpectedEvent[] = [];
  for (const p of r.projects) for (const event of ['fleet.worker.registered', 'fleet.task.queued', 'fleet.task.claimed', 'fleet.task.completed']) out.push({ event, project: p });
  return out;
}
