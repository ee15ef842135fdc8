import { renderFrameToString } from '../src/tui/index.js';
import { assembleModel } from '../src/hud/assemble.js';
const now = new Date('2026-11-26T17:40:00Z');
const tenants = Array.from({length: 20}, (_, i) => `tenant-${i}`);
const agents = Array.from({length: 1000}, (_, i) => ({ project: tenants[i % 20]!, agent: `agent-${i}`, model: `model-${i % 7}` }));
const metrics = {
  requestRate: 12.3, latencyP95Seconds: 0.042, errorRatio: 0.011, spendTotalUsd: 4.56, spendRateUsdPerHour: 1.23, budgetUtilizationMax: 0.61,
  workersByState: { online: 50, busy: 40, lost: 10 },
  costByProject: tenants.map((p,i)=>({project:p, costUsd: 1.5*(i+1)})),
  callsByAgent: agents.map((a, i) => ({ ...a, callsPerSec: (i % 13) / 10 })),
  costRateByAgent: agents.map((a, i) => ({ project: a.project, agent: a.agent, usdPerHour: (i % 11) / 10 })),
  workersByPoolState: Array.from({length: 100}, (_, i) => ({ project: tenants[i % 20]!, pool: `pool-${i % 3}`, state: ['online','busy','lost'][i % 3]!, count: 1 })),
  spendRateSeries: tenants.map(p=>({project:p, points: Array.from({length:30}, (_, i) => (i * 7) % 11)})),
};
const live = { generated_at: now.toISOString(), agents: [], runs_in_flight: Array.from({length: 200}, (_, i) => ({run_id:`r${i}`, project: tenants[i%20]!, agent:`agent-${i}`, model:'m', started_at: now.toISOString(), elapsed_ms: i*100, cost_usd: 0.001*i})), tasks_in_flight: [], workers: [] };
const logs = Array.from({length: 50}, (_, i) => ({ time: now.toISOString(), name: 'agent.run.completed', project: tenants[i%20]!, actor: 'u1', detail: null }));
const t0 = performance.now();
const m = assembleModel({ now, project: null, spendWindow: {from: new Date('2026-11-26T00:00:00Z'), to: now}, metrics: {ok:true, value: metrics}, live: {ok:true, value: live}, logs: {ok:true, value: logs}, previous: null });
console.log('assemble ms', (performance.now()-t0).toFixed(2));
for (const [c,r] of [[160,50],[80,24]] as const) {
  const times: number[] = [];
  for (let i = 0; i < 60; i++) { const t = performance.now(); renderFrameToString(m, {columns: c, rows: r}); times.push(performance.now() - t); }
  times.sort((a,b)=>a-b);
  console.log(c, r, 'first', times.at(-1)!.toFixed(1), 'median', times[30]!.toFixed(2), 'p90', times[54]!.toFixed(2));
}
console.log(renderFrameToString(m, {columns: 160, rows: 50}));
