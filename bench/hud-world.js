/**
 * The HUD's bench world as plain data, shared by bench/hud-frame.js (which times frames of it)
 * and test/tui-frame-golden.test.tsx (which pins those frames cell by cell): `tenants` tenants
 * with `perTenant` agents each (two model edges per agent), `workers` workers in pools, 60 runs
 * and 40 tasks in flight. Audit events are each caller's own.
 */
const MODELS = ['claude-haiku-4-5', 'claude-sonnet-4-6', 'gpt-4o-mini', 'gpt-4.1'];

export function hudWorld({ tenants: tenantCount, perTenant, workers: workerCount, now }) {
  const tenants = Array.from({ length: tenantCount }, (_, i) => `tenant-${String(i).padStart(2, '0')}`);
  const t = (i) => tenants[i % tenantCount];
  const agents = tenants.flatMap((p, ti) => Array.from({ length: perTenant }, (_, a) => ({ project: p, name: `agent-${a}`, model: MODELS[(ti + a) % MODELS.length] })));
  const workers = Array.from({ length: workerCount }, (_, i) => ({ worker_id: `w-${i}`, name: `worker-${i}`, project: t(i), pool: `pool-${i % 3}`, state: i % 7 === 0 ? 'busy' : i % 23 === 0 ? 'lost' : 'online', last_heartbeat_at: now.toISOString() }));
  const pools = new Map();
  for (const w of workers) {
    const k = `${w.project}|${w.pool}|${w.state}`;
    pools.set(k, (pools.get(k) ?? 0) + 1);
  }
  const metrics = {
    requestRate: 1234.5,
    latencyP95Seconds: 0.042,
    errorRatio: 0.013,
    spendTotalUsd: 4321.09,
    spendRateUsdPerHour: 180.2,
    budgetUtilizationMax: 0.77,
    workersByState: { online: workers.filter((w) => w.state === 'online').length, busy: workers.filter((w) => w.state === 'busy').length, lost: workers.filter((w) => w.state === 'lost').length },
    costByProject: tenants.map((p, i) => ({ project: p, costUsd: 100 + i * 7.5 })),
    callsByAgent: agents.flatMap((a, i) => [
      { project: a.project, agent: a.name, model: a.model, callsPerSec: (i % 13) / 10 },
      { project: a.project, agent: a.name, model: MODELS[(i + 1) % MODELS.length], callsPerSec: (i % 5) / 20 },
    ]),
    costRateByAgent: agents.map((a, i) => ({ project: a.project, agent: a.name, usdPerHour: (i % 17) / 3 })),
    spendRateSeries: tenants.map((p, i) => ({ project: p, points: Array.from({ length: 30 }, (_, k) => 5 + Math.sin(k / 3 + i) * 4) })),
    workersByPoolState: [...pools.entries()].map(([k, count]) => {
      const [project, pool, state] = k.split('|');
      return { project, pool, state, count };
    }),
  };
  const live = {
    generated_at: now.toISOString(),
    agents,
    runs_in_flight: Array.from({ length: 60 }, (_, i) => ({ run_id: `run-${i}`, project: t(i), agent: `agent-${i}`, model: MODELS[i % 4], started_at: now.toISOString(), elapsed_ms: 500 + i * 137, cost_usd: 0.001 * i })),
    tasks_in_flight: Array.from({ length: 40 }, (_, i) => ({ task_id: `task-${i}`, project: t(i), pool: `pool-${i % 3}`, worker_id: `w-${i}`, state: 'claimed', elapsed_ms: 300 + i * 91 })),
    workers,
  };
  return { tenants, metrics, live };
}
