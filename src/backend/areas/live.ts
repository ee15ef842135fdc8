import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { bind, type RouteBinding } from '../routing.js';
import type { Awaitable, Prepare } from '../store.js';
import type { AgentStore } from './agents.js';
import type { FleetStore } from './fleet.js';
import type { Tenancy } from './projects.js';
import type { Runs } from './runs.js';

/** What is happening now: the HUD's live view and the public health summary. */
type OpenTask = { id: string; project: string; pool: string; worker_id: string | null; status: string; claimed_at: number | null; created_at: number };

export interface LiveStore {
  /** Every claimed task, and up to `queuedLimit` queued ones. */
  tasksInFlight(project: string | undefined, queuedLimit: number): Awaitable<{ claimed: OpenTask[]; queued: OpenTask[] }>;
  counts(): Awaitable<{ projects: number; agents: number; runs: number; workers_online: number; tasks_queued: number }>;
  /** The database answers (readiness). */
  ping(): Awaitable<void>;
}

export class SqliteLiveStore implements LiveStore {
  constructor(private readonly sql: Prepare) {}
  tasksInFlight(project: string | undefined, queuedLimit: number): { claimed: OpenTask[]; queued: OpenTask[] } {
    type T = OpenTask;
    const claimed = project ? this.sql<[string], T>("SELECT * FROM tasks WHERE status = 'claimed' AND project = ?").all(project) : this.sql<[], T>("SELECT * FROM tasks WHERE status = 'claimed'").all();
    const queued = project ? this.sql<[string, number], T>("SELECT * FROM tasks WHERE status = 'queued' AND project = ? LIMIT ?").all(project, queuedLimit) : this.sql<[number], T>("SELECT * FROM tasks WHERE status = 'queued' LIMIT ?").all(queuedLimit);
    return { claimed, queued };
  }
  counts(): { projects: number; agents: number; runs: number; workers_online: number; tasks_queued: number } {
    const n = (sql: string): number => (this.sql(sql).get() as { n: number }).n;
    return { projects: n('SELECT COUNT(*) AS n FROM projects'), agents: n('SELECT COUNT(*) AS n FROM agents'), runs: n('SELECT COALESCE(SUM(n), 0) AS n FROM run_counts'), workers_online: n("SELECT COUNT(*) AS n FROM workers WHERE state != 'lost'"), tasks_queued: n("SELECT COUNT(*) AS n FROM tasks WHERE status = 'queued'") };
  }
  ping(): void {
    this.sql('SELECT 1').get();
  }
}

export class Live {
  readonly startedAt = Date.now();

  constructor(
    readonly store: LiveStore,
    private readonly agents: AgentStore,
    private readonly fleet: FleetStore,
    private readonly runs: Runs,
    private readonly info: { version: string; instanceId: string; telemetryEnabled: boolean },
  ) {}

  async live(project?: string): Promise<z.infer<typeof res.liveState>> {
    const now = Date.now();
    const runs = this.runs.live(project);
    const t = await this.store.tasksInFlight(project, 200);
    const tasks = [
      ...t.claimed.map((x) => ({ task_id: x.id, project: x.project, pool: x.pool, worker_id: x.worker_id, state: x.status, elapsed_ms: now - (x.claimed_at ?? x.created_at) })),
      ...t.queued.map((x) => ({ task_id: x.id, project: x.project, pool: x.pool, worker_id: null, state: x.status, elapsed_ms: now - x.created_at })),
    ];
    const workers = (await this.fleet.workers(project)).map((w) => ({ worker_id: w.id, name: w.name, project: w.project, pool: w.pool, state: w.state, last_heartbeat_at: new Date(w.last_heartbeat_at).toISOString() }));
    const agents = (await this.agents.list(project)).map((a) => ({ project: a.project, name: a.name, model: a.model }));
    return { generated_at: new Date(now).toISOString(), agents, runs_in_flight: runs, tasks_in_flight: tasks, workers };
  }

  async health(): Promise<z.infer<typeof res.health>> {
    const c = await this.store.counts();
    return {
      status: 'ok',
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      version: this.info.version,
      instance_id: this.info.instanceId,
      counts: { projects: c.projects, agents: c.agents, runs: c.runs, runs_in_flight: this.runs.inFlight.size, workers_online: c.workers_online, tasks_queued: c.tasks_queued },
      telemetry: { enabled: this.info.telemetryEnabled },
    };
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    return [
      bind(operations.live, async (ctx) => ({ status: 200, body: await this.live(await tenancy.optional(ctx)) })),
      bind(operations.health, async () => ({ status: 200, body: await this.health() })),
      bind(operations.readyz, async () => {
        await this.store.ping();
        return { status: 200, body: { status: 'ready' as const } };
      }),
    ];
  }
}
