import crypto from 'node:crypto';
import type { Attributes } from '@opentelemetry/api';
import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { audit } from '../audit.js';
import { HttpError, notFound, validate } from '../http.js';
import * as inst from '../instruments.js';
import { actor, bind, headerValue, queryOf, type Ctx, type RouteBinding } from '../routing.js';
import * as sc from '../semconv.js';
import { newId, newSecret, sha256, type Awaitable, type Db, type Prepare } from '../store.js';
import { iso, type Tenancy } from './projects.js';

/** Fleet: workers of a project and pool, tasks they long-poll for, claim and report. */
export interface WorkerRow {
  id: string;
  project: string;
  name: string;
  pool: string;
  models: string;
  labels: string;
  max_concurrent: number;
  secret_hash: string;
  state: string;
  registered_at: number;
  last_heartbeat_at: number;
}
export interface TaskRow {
  id: string;
  project: string;
  pool: string;
  payload: string;
  model: string | null;
  status: string;
  worker_id: string | null;
  created_at: number;
  claimed_at: number | null;
  completed_at: number | null;
  result: string | null;
  error: string | null;
}

export interface FleetStore {
  insertWorker(w: Omit<WorkerRow, 'state' | 'last_heartbeat_at'>): Awaitable<void>;
  worker(id: string): Awaitable<WorkerRow | undefined>;
  workers(project?: string): Awaitable<WorkerRow[]>;
  /** online or busy (has a claimed task); written back with the heartbeat time. */
  touchWorker(id: string, now: number): Awaitable<'online' | 'busy'>;
  /** Workers silent since before cutoff become `lost` (each returned once). */
  markLost(cutoff: number): Awaitable<WorkerRow[]>;
  insertTask(t: Pick<TaskRow, 'id' | 'project' | 'pool' | 'payload' | 'model' | 'created_at'>): Awaitable<TaskRow>;
  task(id: string): Awaitable<TaskRow | undefined>;
  tasks(f: { project?: string | undefined; status?: string | undefined; limit: number }): Awaitable<TaskRow[]>;
  /**
   * The oldest queued task of the worker's project and pool, marked claimed by this worker, in one
   * transaction. A PostgreSQL store must hand each task to exactly one worker across replicas
   * (UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) RETURNING *).
   */
  claim(w: WorkerRow, now: number): Awaitable<TaskRow | undefined>;
  /** The task's outcome and the worker's heartbeat in one transaction; then the worker's state. undefined when the task is not this worker's claimed task. */
  report(w: WorkerRow, r: { task_id: string; status: 'completed' | 'failed'; result?: unknown; error?: string | undefined }, now: number): Awaitable<{ task: TaskRow } | { conflict: string } | undefined>;
  /** sagewai.fleet.workers (by state) and sagewai.fleet.tasks (by event) source rows. */
  workerCounts(): Awaitable<Array<{ project: string; pool: string; state: string; n: number }>>;
  taskCounts(): Awaitable<Array<{ project: string; pool: string; queued: number; claimed: number; completed: number; failed: number }>>;
}

export class SqliteFleetStore implements FleetStore {
  constructor(private readonly db: Db, private readonly sql: Prepare) {}

  insertWorker(w: Omit<WorkerRow, 'state' | 'last_heartbeat_at'>): void {
    this.sql("INSERT INTO workers (id, project, name, pool, models, labels, max_concurrent, secret_hash, state, registered_at, last_heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'online', ?, ?)").run(w.id, w.project, w.name, w.pool, w.models, w.labels, w.max_concurrent, w.secret_hash, w.registered_at, w.registered_at);
  }
  worker(id: string): WorkerRow | undefined {
    return this.sql<[string], WorkerRow>('SELECT * FROM workers WHERE id = ?').get(id);
  }
  workers(project?: string): WorkerRow[] {
    return project ? this.sql<[string], WorkerRow>('SELECT * FROM workers WHERE project = ? ORDER BY registered_at').all(project) : this.sql<[], WorkerRow>('SELECT * FROM workers ORDER BY project, registered_at').all();
  }
  private state(id: string): 'online' | 'busy' {
    const busy = this.sql<[string], { n: number }>("SELECT COUNT(*) AS n FROM tasks WHERE worker_id = ? AND status = 'claimed'").get(id)?.n ?? 0;
    return busy > 0 ? 'busy' : 'online';
  }
  touchWorker(id: string, now: number): 'online' | 'busy' {
    // One statement, as the PostgreSQL store does: the heartbeat is example 43's commonest request.
    const row = this.sql<[{ id: string; now: number }], { state: 'online' | 'busy' }>(
      "UPDATE workers SET last_heartbeat_at = @now, state = CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE worker_id = @id AND status = 'claimed') THEN 'busy' ELSE 'online' END WHERE id = @id RETURNING state",
    ).get({ id, now });
    return row?.state ?? 'online';
  }
  markLost(cutoff: number): WorkerRow[] {
    const lost = this.sql<[number], WorkerRow>("SELECT * FROM workers WHERE state != 'lost' AND last_heartbeat_at < ?").all(cutoff);
    for (const w of lost) this.sql("UPDATE workers SET state = 'lost' WHERE id = ?").run(w.id);
    return lost;
  }
  insertTask(t: Pick<TaskRow, 'id' | 'project' | 'pool' | 'payload' | 'model' | 'created_at'>): TaskRow {
    this.sql("INSERT INTO tasks (id, project, pool, payload, model, status, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)").run(t.id, t.project, t.pool, t.payload, t.model, t.created_at);
    return this.task(t.id) as TaskRow;
  }
  task(id: string): TaskRow | undefined {
    return this.sql<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?').get(id);
  }
  tasks(f: { project?: string | undefined; status?: string | undefined; limit: number }): TaskRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.project) {
      where.push('project = ?');
      args.push(f.project);
    }
    if (f.status) {
      where.push('status = ?');
      args.push(f.status);
    }
    return this.sql(`SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT ?`).all(...args, f.limit) as TaskRow[];
  }
  claim(w: WorkerRow, now: number): TaskRow | undefined {
    return this.db.transaction(() => {
      const t = this.sql<[string, string], TaskRow>("SELECT * FROM tasks WHERE project = ? AND pool = ? AND status = 'queued' ORDER BY created_at, id LIMIT 1").get(w.project, w.pool);
      if (!t) return undefined;
      this.sql("UPDATE tasks SET status = 'claimed', worker_id = ?, claimed_at = ? WHERE id = ?").run(w.id, now, t.id);
      this.sql("UPDATE workers SET state = 'busy', last_heartbeat_at = ? WHERE id = ?").run(now, w.id);
      return { ...t, status: 'claimed', worker_id: w.id, claimed_at: now };
    })();
  }
  report(w: WorkerRow, r: { task_id: string; status: 'completed' | 'failed'; result?: unknown; error?: string | undefined }, now: number): { task: TaskRow } | { conflict: string } | undefined {
    const t = this.sql<[string, string], TaskRow>('SELECT * FROM tasks WHERE id = ? AND project = ?').get(r.task_id, w.project);
    if (!t || t.worker_id !== w.id) return undefined;
    if (t.status !== 'claimed') return { conflict: t.status };
    this.db.transaction(() => {
      this.sql('UPDATE tasks SET status = ?, completed_at = ?, result = ?, error = ? WHERE id = ?').run(r.status, now, r.result === undefined ? null : JSON.stringify(r.result), r.error ?? null, t.id);
      this.sql('UPDATE workers SET last_heartbeat_at = ? WHERE id = ?').run(now, w.id);
    })();
    this.sql('UPDATE workers SET state = ? WHERE id = ?').run(this.state(w.id), w.id);
    return { task: this.task(t.id) as TaskRow };
  }
  workerCounts(): Array<{ project: string; pool: string; state: string; n: number }> {
    return this.sql<[], { project: string; pool: string; state: string; n: number }>('SELECT project, pool, state, COUNT(*) AS n FROM workers GROUP BY project, pool, state').all();
  }
  taskCounts(): Array<{ project: string; pool: string; queued: number; claimed: number; completed: number; failed: number }> {
    return this.db
      .prepare<[], { project: string; pool: string; queued: number; claimed: number; completed: number; failed: number }>(
        "SELECT project, pool, COUNT(*) AS queued, COUNT(claimed_at) AS claimed, SUM(status = 'completed') AS completed, SUM(status = 'failed') AS failed FROM tasks GROUP BY project, pool UNION ALL SELECT DISTINCT project, pool, 0, 0, 0, 0 FROM workers WHERE (project, pool) NOT IN (SELECT project, pool FROM tasks)",
      )
      .all();
  }
}

export function workerJson(w: WorkerRow): z.infer<typeof res.worker> {
  return { worker_id: w.id, name: w.name, project: w.project, pool: w.pool, state: w.state as 'online', models: JSON.parse(w.models) as string[], labels: JSON.parse(w.labels) as Record<string, string>, max_concurrent: w.max_concurrent, last_heartbeat_at: iso(w.last_heartbeat_at) as string, registered_at: iso(w.registered_at) as string };
}
export function taskJson(t: TaskRow): z.infer<typeof res.task> {
  return { task_id: t.id, project: t.project, pool: t.pool, status: t.status as 'queued', payload: JSON.parse(t.payload) as unknown, model: t.model, worker_id: t.worker_id, created_at: iso(t.created_at) as string, claimed_at: iso(t.claimed_at), completed_at: iso(t.completed_at) };
}

type Waiter = { resolve: () => void };

export class Fleet {
  /** Long-polls waiting per (project, pool): a new task wakes one of them. In-process only. */
  private readonly claimWaiters = new Map<string, Set<Waiter>>();
  private closing = false;
  private lostTimer: NodeJS.Timeout | undefined;

  /**
   * claimPollMs: for a store shared by several processes, a waiting long-poll re-checks the store
   * this often (a task queued through another replica wakes no waiter in this one). Bounded: at
   * most one claim query per waiter per interval.
   */
  constructor(readonly store: FleetStore, private readonly workerLostAfterMs: number, private readonly claimPollMs?: number) {
    this.lostTimer = setInterval(() => void this.markLostWorkers().catch(() => undefined), Math.min(5000, Math.max(250, workerLostAfterMs / 4)));
    this.lostTimer.unref();
  }

  close(): void {
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.wakeAllWaiters();
  }

  wakeAllWaiters(): void {
    this.closing = true;
    for (const set of this.claimWaiters.values()) for (const w of [...set]) w.resolve();
  }

  private async markLostWorkers(): Promise<void> {
    for (const w of await this.store.markLost(Date.now() - this.workerLostAfterMs)) audit('fleet.worker.lost', w.project, w.id, { 'sagewai.fleet.worker.id': w.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
  }

  /** The worker named by X-Worker-Id / X-Worker-Secret, else 401. */
  async authWorker(ctx: Ctx): Promise<WorkerRow> {
    const id = headerValue(ctx.req, 'x-worker-id');
    const secret = headerValue(ctx.req, 'x-worker-secret');
    if (!id || !secret) throw new HttpError(401, 'unauthorized', 'worker credentials required: X-Worker-Id and X-Worker-Secret');
    const w = await this.store.worker(id);
    const given = Buffer.from(sha256(secret));
    if (!w || !crypto.timingSafeEqual(given, Buffer.from(w.secret_hash))) throw new HttpError(401, 'unauthorized', 'unknown worker or wrong secret');
    ctx.project = w.project;
    return w;
  }

  async createTask(project: string, t: { pool: string; payload?: unknown; model?: string | undefined }, by: string): Promise<TaskRow> {
    const row = await this.store.insertTask({ id: newId('tsk'), project, pool: t.pool, payload: JSON.stringify(t.payload ?? {}), model: t.model ?? null, created_at: Date.now() });
    audit('fleet.task.queued', project, by, { 'sagewai.fleet.task.id': row.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: t.pool });
    const waiters = this.claimWaiters.get(`${project}|${t.pool}`);
    const first = waiters?.values().next().value;
    if (first) {
      waiters?.delete(first);
      first.resolve();
    }
    return row;
  }

  /**
   * Long-poll: a task of the worker's own project and pool, or undefined after waitMs. `abort` is
   * asked for the client's abort signal only when the claim has to wait.
   */
  async claim(w: WorkerRow, waitMs: number, abort: () => AbortSignal): Promise<TaskRow | undefined> {
    const start = performance.now();
    const deadline = Date.now() + waitMs;
    let task = await this.store.claim(w, Date.now());
    let signal: AbortSignal | undefined;
    while (!task && Date.now() < deadline && !(signal ??= abort()).aborted && !this.closing) {
      await new Promise<void>((resolve) => {
        const key = `${w.project}|${w.pool}`;
        let set = this.claimWaiters.get(key);
        if (!set) this.claimWaiters.set(key, (set = new Set()));
        const waiter: Waiter = { resolve: () => done() };
        const wait = Math.max(0, deadline - Date.now());
        const timer = setTimeout(() => done(), this.claimPollMs === undefined ? wait : Math.min(wait, this.claimPollMs));
        const onAbort = (): void => done();
        const aborted = signal as AbortSignal;
        aborted.addEventListener('abort', onAbort, { once: true });
        function done(): void {
          clearTimeout(timer);
          aborted.removeEventListener('abort', onAbort);
          set?.delete(waiter);
          resolve();
        }
        set.add(waiter);
      });
      task = await this.store.claim(w, Date.now());
    }
    inst.recordFleetClaim((performance.now() - start) / 1000, w.project, w.pool, task ? 'task' : 'empty');
    if (!task) {
      await this.store.touchWorker(w.id, Date.now());
      return undefined;
    }
    audit('fleet.task.claimed', w.project, w.id, { 'sagewai.fleet.task.id': task.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
    return task;
  }

  /** sagewai.fleet.workers: every (project, pool) with all three states, 0 where none. */
  async workerGaugeRows(): Promise<Array<{ attrs: Attributes; value: number }>> {
    const out = new Map<string, { attrs: Attributes; value: number }>();
    const rows = await this.store.workerCounts();
    for (const r of rows) {
      for (const s of ['online', 'busy', 'lost']) {
        const k = `${r.project}|${r.pool}|${s}`;
        if (!out.has(k)) out.set(k, { attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: r.project, [sc.ATTR_SAGEWAI_FLEET_POOL]: r.pool, [sc.ATTR_SAGEWAI_FLEET_WORKER_STATE]: s }, value: 0 });
      }
      (out.get(`${r.project}|${r.pool}|${r.state}`) as { value: number }).value += r.n;
    }
    return [...out.values()];
  }

  /** sagewai.fleet.tasks: tasks ever queued, claimed, completed, failed per (project, pool). */
  async taskCounterRows(): Promise<Array<{ attrs: Attributes; value: number }>> {
    const tasks: Array<{ attrs: Attributes; value: number }> = [];
    for (const r of await this.store.taskCounts()) {
      for (const ev of ['queued', 'claimed', 'completed', 'failed'] as const) tasks.push({ attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: r.project, [sc.ATTR_SAGEWAI_FLEET_POOL]: r.pool, [sc.ATTR_SAGEWAI_FLEET_TASK_EVENT]: ev }, value: r[ev] ?? 0 });
    }
    return tasks;
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    const ops = operations;
    return [
      bind(ops.registerWorker, async (ctx) => {
        const project = await tenancy.required(ctx);
        const w = validate(ops.registerWorker.body, await ctx.body());
        const id = newId('wkr');
        const secret = newSecret();
        await this.store.insertWorker({ id, project, name: w.name, pool: w.pool, models: JSON.stringify(w.models), labels: JSON.stringify(w.labels), max_concurrent: w.max_concurrent, secret_hash: sha256(secret), registered_at: Date.now() });
        audit('fleet.worker.registered', project, actor(ctx), { 'sagewai.fleet.worker.id': id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
        return { status: 201, body: { worker_id: id, worker_secret: secret, status: 'online' as const, project, pool: w.pool } };
      }),
      bind(ops.heartbeat, async (ctx) => {
        const w = await this.authWorker(ctx);
        validate(ops.heartbeat.body, await ctx.body());
        return { status: 200, body: { ok: true as const, state: await this.store.touchWorker(w.id, Date.now()) } };
      }),
      bind(ops.claim, async (ctx) => {
        const w = await this.authWorker(ctx);
        const input = validate(ops.claim.body, await ctx.body());
        const task = await this.claim(w, input.wait_ms, () => ctx.abort);
        return task ? { status: 200, body: taskJson(task) } : { status: 204 };
      }),
      bind(ops.report, async (ctx) => {
        const w = await this.authWorker(ctx);
        const r = validate(ops.report.body, await ctx.body());
        const out = await this.store.report(w, r, Date.now());
        if (!out) throw notFound(`task ${r.task_id}`);
        if ('conflict' in out) throw new HttpError(409, 'task_already_reported', `task ${r.task_id} is already ${out.conflict}`);
        audit(r.status === 'completed' ? 'fleet.task.completed' : 'fleet.task.failed', w.project, w.id, { 'sagewai.fleet.task.id': out.task.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: out.task.pool });
        return { status: 200, body: { ok: true as const, task: taskJson(out.task) } };
      }),
      bind(ops.createTask, async (ctx) => {
        const project = await tenancy.required(ctx);
        return { status: 201, body: taskJson(await this.createTask(project, validate(ops.createTask.body, await ctx.body()), actor(ctx))) };
      }),
      bind(ops.listTasks, async (ctx) => ({ status: 200, body: { items: (await this.store.tasks({ project: await tenancy.optional(ctx), status: queryOf(ops.listTasks, ctx).status, limit: 500 })).map(taskJson) } })),
      bind(ops.listWorkers, async (ctx) => ({ status: 200, body: { items: (await this.store.workers(await tenancy.optional(ctx))).map(workerJson) } })),
    ];
  }
}
