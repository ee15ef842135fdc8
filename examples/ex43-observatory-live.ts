/**
 * Example 43 — observatory live. Three tenants of a demo organisation use their agents, fleet
 * workers pull tasks, an operator's list views poll, and probes hit the error paths, for a fixed
 * time. Every panel of the board gets data; the run returns what it did and its own checks
 * (run-example --verify adds the checks against the stores).
 */
import type { FleetTask, RegisteredWorker } from '../src/clients/backend.js';
import { apiStatus, ExampleContext, idempotent, round, type ExampleOptions, type ExampleResultBase } from '../src/driver/context.js';
import type { ExpectedEvent } from '../src/run-example/verify.js';
import { loopUntil, sleep } from '../src/driver/pace.js';
import type { Rng } from '../src/driver/prng.js';
import { signIn } from '../src/driver/session.js';

export const DEFAULT_DURATION_MS = 180_000;
export const DEFAULT_SEED = 43;

export interface Tenant {
  slug: string;
  name: string;
  workers: number;
  pool: string;
  model: string;
  /** Seconds between runs: uniform in [min, max]. */
  every: [number, number];
  /** Daily project budget (warn) so the budget panels have data. */
  budgetUsd: number;
}

export const TENANTS: readonly Tenant[] = [
  { slug: 'acme-support', name: 'Acme Support', workers: 4, pool: 'default', model: 'claude-haiku-4-5', every: [1.0, 2.5], budgetUsd: 5 },
  { slug: 'globex-codereview', name: 'Globex Code Review', workers: 2, pool: 'reviewers', model: 'claude-sonnet-4-6', every: [5, 10], budgetUsd: 5 },
  { slug: 'initech-sales', name: 'Initech Sales', workers: 2, pool: 'default', model: 'claude-haiku-4-5', every: [2, 4], budgetUsd: 2 },
];
export const ROLES = ['triager', 'drafter', 'escalator', 'summariser'] as const;
/** A user with a tiny stop cap in initech-sales: budget denials (402) are part of the picture. */
export const CAPPED_USER = { project: 'initech-sales', user: 'trial-user', limitUsd: 0.02 };
const FAILURE_RATE = 0.04;

const PROMPTS = [
  'Customer cannot reset their password after the last update.',
  'Summarise the ticket thread and propose a reply.',
  'Is this refund request within policy? Order 1183, 45 days.',
  'Review this diff for error handling gaps.',
  'Draft a follow-up to the lead from the webinar.',
  'Escalate: production checkout returns 502 for EU customers.',
  'Classify: billing, bug, feature request or other?',
];

export interface Example43Result extends ExampleResultBase {
  example: '43';
  auth: string;
  /** Projects and agents (by tenant) this run created; on a backend that had them, none. */
  created: { projects: string[]; agents: string[] };
  tasksFailedByTenant: Record<string, number>;
  runs: { total: number; completed: number; errors: number; denied: number; byTenant: Record<string, number> };
  spendUsd: number;
  spendByTenant: Record<string, number>;
  workers: { registered: number; byTenant: Record<string, number> };
  tasks: { enqueued: number; claimed: number; completed: number; failed: number; foreign: number };
  probes: { sent: number; expected: number; unexpected: string[] };
  loginFailures: number;
  budgetDenials: number;
  timeToFirstDataSeconds: number | null;
}

interface Worker {
  reg: RegisteredWorker;
  tenant: Tenant;
}

export async function run(options: ExampleOptions): Promise<Example43Result> {
  const ctx = new ExampleContext(options, DEFAULT_SEED);
  const durationMs = options.durationMs ?? DEFAULT_DURATION_MS;
  const { api, progress, rng } = ctx;
  try {
    progress.phase = 'setup';
    const auth = await signIn(ctx);
    ctx.log(`signed in (${auth})`);

    const created = { projects: [] as string[], agents: [] as string[] };
    for (const t of TENANTS) {
      if (await idempotent(() => api.createProject({ slug: t.slug, name: t.name, environment: 'production' }))) created.projects.push(t.slug);
      for (const role of ROLES) {
        const agent = await idempotent(() =>
          api.createAgent(t.slug, {
            name: `${t.slug}-${role}`,
            model: t.model,
            system_prompt: `You are the ${role} of ${t.name}.`,
            strategy: 'direct',
            temperature: 0.2,
            tools: [],
            metadata: { role },
          }),
        );
        if (agent) created.agents.push(t.slug);
      }
      await idempotent(() => api.setBudget(t.slug, { scope: 'project', subject: t.slug, window: 'daily', limit_usd: t.budgetUsd, action: 'warn' }));
    }
    await idempotent(() => api.setBudget(CAPPED_USER.project, { scope: 'user', subject: CAPPED_USER.user, window: 'daily', limit_usd: CAPPED_USER.limitUsd, action: 'stop' }));
    ctx.log(`3 tenants, ${TENANTS.length * ROLES.length} agents, budgets set`);

    const workers: Worker[] = [];
    for (const t of TENANTS) {
      for (let i = 1; i <= t.workers; i++) {
        const reg = await api.fleetRegister(t.slug, { name: `${t.slug}-worker-${i}`, models: [t.model], pool: t.pool, labels: { tenant: t.slug }, max_concurrent: 1 });
        workers.push({ reg, tenant: t });
      }
    }
    progress.workers = workers.length;
    ctx.log(`${workers.length} fleet workers registered`);

    progress.phase = 'load';
    const stop = ctx.deadline(durationMs);
    const stats = {
      runsByTenant: Object.fromEntries(TENANTS.map((t) => [t.slug, 0])) as Record<string, number>,
      spendByTenant: Object.fromEntries(TENANTS.map((t) => [t.slug, 0])) as Record<string, number>,
      completed: 0,
      errors: 0,
      denied: 0,
      enqueued: 0,
      claimed: 0,
      tasksCompleted: 0,
      tasksFailed: 0,
      foreign: 0,
      probesSent: 0,
      probesExpected: 0,
      unexpected: [] as string[],
      loginFailures: 0,
      loopErrors: [] as string[],
      tasksFailedByTenant: {} as Record<string, number>,
    };
    const onError = (where: string) => (err: unknown) => {
      if (stats.loopErrors.length < 50) stats.loopErrors.push(`${where}: ${(err as Error).message}`);
    };

    const loops: Promise<void>[] = [];
    // One run loop per tenant.
    for (const t of TENANTS) {
      const r = rng.fork(`runs:${t.slug}`);
      loops.push(
        loopUntil(stop, () => r.uniform(t.every[0], t.every[1]) * 1000, () => oneRun(ctx, t, r, stats), onError(`run ${t.slug}`)),
      );
    }
    // The capped user in initech-sales: a call now and then, until the cap stops them (402).
    {
      const r = rng.fork('capped-user');
      loops.push(loopUntil(stop, () => r.uniform(6, 12) * 1000, () => cappedRun(ctx, r, stats), onError('capped user'), { delayFirst: true }));
    }
    // Task enqueuer: work for every tenant's pool.
    for (const t of TENANTS) {
      const r = rng.fork(`enqueue:${t.slug}`);
      const perSecond = t.workers / 3;
      loops.push(
        loopUntil(
          stop,
          () => r.uniform(0.5, 1.5) * (1000 / perSecond),
          async () => {
            await api.createTask(t.slug, { pool: t.pool, model: t.model, payload: { kind: 'batch-item', n: stats.enqueued } });
            stats.enqueued++;
          },
          onError(`enqueue ${t.slug}`),
        ),
      );
    }
    // One heartbeat + claim + report loop per worker.
    for (const w of workers) {
      const r = rng.fork(`worker:${w.reg.worker_id}`);
      loops.push(loopUntil(stop, () => r.uniform(100, 400), () => workerCycle(ctx, w, r, stats, stop), onError(`worker ${w.reg.worker_id}`)));
    }
    // The operator's list views.
    {
      let i = 0;
      loops.push(
        loopUntil(
          stop,
          () => 2000,
          async () => {
            const t = TENANTS[i++ % TENANTS.length] as Tenant;
            await Promise.all([api.listProjects(), api.listAgents(t.slug), api.listWorkers(), api.healthSummary()]);
            if (i % 5 === 0) await Promise.all([api.listRuns({ project: t.slug, limit: 20 }), api.live(), api.budgetStatus(t.slug)]);
          },
          onError('poller'),
        ),
      );
    }
    // Error probes: an unauthenticated /auth/me (401) and an unknown project (404).
    {
      const anonymous = api.with({ token: undefined });
      let n = 0;
      loops.push(
        loopUntil(
          stop,
          () => 7000,
          async () => {
            n++;
            await expectStatus(() => anonymous.me(), 401, 'GET /api/v1/auth/me without credentials', stats);
            await expectStatus(() => api.getProject(`no-such-project-${n}`), 404, 'GET /api/v1/projects/{unknown}', stats);
          },
          onError('probe'),
        ),
      );
    }
    // A mistyped password now and then: failed logins are part of the audit trail.
    {
      const r = rng.fork('logins');
      const anonymous = api.with({ token: undefined });
      let n = 0;
      loops.push(
        loopUntil(
          stop,
          () => r.uniform(15, 30) * 1000,
          async () => {
            n++;
            // A different unknown account each time, so the 5-failures throttle is not what we measure.
            const s = await statusOf(() => anonymous.login(`visitor-${n}@demo.sagewai.invalid`, 'not-the-password'));
            stats.loginFailures++;
            if (s !== 401) stats.unexpected.push(`failed login answered ${s}, expected 401`);
          },
          onError('login probe'),
          { delayFirst: false },
        ),
      );
    }

    await Promise.all(loops);
    const endMs = Date.now();
    progress.phase = 'done';
    await api.logout().catch(() => undefined);

    const runsTotal = stats.completed + stats.errors;
    const spend = round(Object.values(stats.spendByTenant).reduce((a, b) => a + b, 0));
    for (const t of TENANTS) ctx.check(`runs:${t.slug}`, (stats.runsByTenant[t.slug] ?? 0) > 0, `${stats.runsByTenant[t.slug]} runs`);
    ctx.check('spend recorded', spend > 0, `$${spend.toFixed(6)} from run_finished usage`);
    ctx.check('fleet tasks completed', stats.tasksCompleted > 0, `${stats.tasksCompleted} completed, ${stats.tasksFailed} failed of ${stats.enqueued} enqueued`);
    ctx.check('workers only got their own tenant\'s tasks', stats.foreign === 0, `${stats.foreign} tasks of another tenant or pool`);
    ctx.check('error probes answered 401/404', stats.unexpected.length === 0 && stats.probesSent > 0, stats.unexpected.length === 0 ? `${stats.probesSent} probes as expected` : stats.unexpected.slice(0, 5).join('; '));
    ctx.check('no 5xx answers', ctx.counter.byClass()['5xx'] === 0, `${ctx.counter.byClass()['5xx']} × 5xx`);
    ctx.check('no transport errors', ctx.counter.transportErrors === 0, `${ctx.counter.transportErrors} requests without an answer`);
    ctx.check('driver loops ran clean', stats.loopErrors.length === 0, stats.loopErrors.length === 0 ? 'no unexpected errors' : stats.loopErrors.slice(0, 5).join('; '));

    return {
      example: '43',
      title: 'observatory live',
      seed: ctx.seed,
      window: ctx.window(endMs),
      projects: TENANTS.map((t) => t.slug),
      requests: ctx.requestsSummary(endMs),
      checks: ctx.checks,
      auth,
      created,
      tasksFailedByTenant: stats.tasksFailedByTenant,
      runs: { total: runsTotal, completed: stats.completed, errors: stats.errors, denied: stats.denied, byTenant: stats.runsByTenant },
      spendUsd: spend,
      spendByTenant: Object.fromEntries(Object.entries(stats.spendByTenant).map(([k, v]) => [k, round(v)])),
      workers: { registered: workers.length, byTenant: Object.fromEntries(TENANTS.map((t) => [t.slug, t.workers])) },
      tasks: { enqueued: stats.enqueued, claimed: stats.claimed, completed: stats.tasksCompleted, failed: stats.tasksFailed, foreign: stats.foreign },
      probes: { sent: stats.probesSent, expected: stats.probesExpected, unexpected: stats.unexpected },
      loginFailures: stats.loginFailures,
      budgetDenials: stats.denied,
      timeToFirstDataSeconds: null,
    };
  } finally {
    await ctx.close();
  }
}

type Stats = {
  runsByTenant: Record<string, number>;
  spendByTenant: Record<string, number>;
  completed: number;
  errors: number;
  denied: number;
  enqueued: number;
  claimed: number;
  tasksCompleted: number;
  tasksFailed: number;
  foreign: number;
  probesSent: number;
  probesExpected: number;
  unexpected: string[];
  tasksFailedByTenant: Record<string, number>;
};

async function oneRun(ctx: ExampleContext, t: Tenant, r: Rng, stats: Stats): Promise<void> {
  const role = r.pick(ROLES);
  const finished = await ctx.api.run(t.slug, { agent_name: `${t.slug}-${role}`, message: r.pick(PROMPTS) });
  stats.runsByTenant[t.slug] = (stats.runsByTenant[t.slug] ?? 0) + 1;
  const cost = finished.usage?.cost_usd ?? 0;
  stats.spendByTenant[t.slug] = (stats.spendByTenant[t.slug] ?? 0) + cost;
  ctx.progress.spendUsd += cost;
  ctx.progress.runs++;
  if (finished.status === 'completed') stats.completed++;
  else {
    stats.errors++;
    ctx.progress.runErrors++;
  }
}

async function cappedRun(ctx: ExampleContext, r: Rng, stats: Stats): Promise<void> {
  const t = TENANTS.find((x) => x.slug === CAPPED_USER.project) as Tenant;
  try {
    const finished = await ctx.api.run(t.slug, { agent_name: `${t.slug}-drafter`, message: r.pick(PROMPTS), user: CAPPED_USER.user });
    const cost = finished.usage?.cost_usd ?? 0;
    stats.runsByTenant[t.slug] = (stats.runsByTenant[t.slug] ?? 0) + 1;
    stats.spendByTenant[t.slug] = (stats.spendByTenant[t.slug] ?? 0) + cost;
    ctx.progress.spendUsd += cost;
    ctx.progress.runs++;
    if (finished.status === 'completed') stats.completed++;
    else stats.errors++;
  } catch (err) {
    if (apiStatus(err) !== 402) throw err;
    stats.denied++;
    ctx.progress.denied++;
  }
}

async function workerCycle(ctx: ExampleContext, w: Worker, r: Rng, stats: Stats, stop: AbortSignal): Promise<void> {
  const creds = { worker_id: w.reg.worker_id, worker_secret: w.reg.worker_secret };
  await ctx.api.fleetHeartbeat(creds, { status: 'online', active_tasks: 0 });
  if (stop.aborted) return;
  const task: FleetTask | null = await ctx.api.fleetClaim(creds, 1500);
  if (!task) return;
  stats.claimed++;
  if (task.project !== w.tenant.slug || task.pool !== w.tenant.pool) stats.foreign++;
  await ctx.api.fleetHeartbeat(creds, { status: 'busy', active_tasks: 1 });
  await sleep(r.uniform(200, 1200));
  const failed = r.chance(FAILURE_RATE);
  await ctx.api.fleetReport(creds, failed ? { task_id: task.task_id, status: 'failed', error: 'simulated worker failure' } : { task_id: task.task_id, status: 'completed', result: { ok: true } });
  if (failed) {
    stats.tasksFailed++;
    stats.tasksFailedByTenant[w.tenant.slug] = (stats.tasksFailedByTenant[w.tenant.slug] ?? 0) + 1;
    ctx.progress.tasksFailed++;
  } else {
    stats.tasksCompleted++;
    ctx.progress.tasksDone++;
  }
}

async function statusOf(fn: () => Promise<unknown>): Promise<number | 'ok' | 'transport'> {
  try {
    await fn();
    return 'ok';
  } catch (err) {
    return apiStatus(err) ?? 'transport';
  }
}

async function expectStatus(fn: () => Promise<unknown>, expected: number, what: string, stats: Stats): Promise<void> {
  stats.probesSent++;
  const s = await statusOf(fn);
  if (s === expected) stats.probesExpected++;
  else stats.unexpected.push(`${what} answered ${s}, expected ${expected}`);
}

/** The audit events a run of example 43 must leave in VictoriaLogs, given what it did. */
export function expectedEvents(r: Example43Result): ExpectedEvent[] {
  const out: ExpectedEvent[] = [];
  if (r.auth === 'setup+login') out.push({ event: 'setup.completed', project: null });
  if (r.auth !== 'operator-token') out.push({ event: 'auth.login.success', project: null }, { event: 'auth.logout', project: null });
  if (r.loginFailures > 0) out.push({ event: 'auth.login.failed', project: null });
  for (const p of r.created.projects) out.push({ event: 'project.created', project: p });
  for (const p of new Set(r.created.agents)) out.push({ event: 'agent.created', project: p });
  for (const t of TENANTS) {
    for (const event of ['agent.run.started', 'agent.run.completed', 'fleet.worker.registered', 'fleet.task.queued', 'fleet.task.claimed', 'fleet.task.completed']) {
      out.push({ event, project: t.slug });
    }
    if ((r.tasksFailedByTenant[t.slug] ?? 0) > 0) out.push({ event: 'fleet.task.failed', project: t.slug });
  }
  if (r.budgetDenials > 0) out.push({ event: 'budget.exceeded', project: CAPPED_USER.project });
  return out;
}
