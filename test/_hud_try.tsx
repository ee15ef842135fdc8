import { renderFrameToString } from '../src/tui/index.js';
import { assembleModel } from '../src/hud/assemble.js';
const now = new Date('2026-11-26T17:40:00Z');
const tenants = ['acme-support','globex-codereview','initech-sales'];
const metrics = {
  requestRate: 12.3, latencyP95Seconds: 0.042, errorRatio: 0.011, spendTotalUsd: 4.56, spendRateUsdPerHour: 1.23, budgetUtilizationMax: 0.61,
  workersByState: { online: 5, busy: 3, lost: 0 },
  costByProject: tenants.map((p,i)=>({project:p, costUsd: 1.5*(i+1)})),
  callsByAgent: tenants.flatMap(p=>['triager','drafter','escalator','summariser'].map((a,i)=>({project:p, agent:`${p}-${a}`, model:'claude-haiku-4-5', callsPerSec: 0.2*(i+1)}))),
  costRateByAgent: tenants.flatMap(p=>['triager','drafter','escalator','summariser'].map((a,i)=>({project:p, agent:`${p}-${a}`, usdPerHour: 0.1*(i+1)}))),
  workersByPoolState: [{project:'acme-support',pool:'default',state:'online',count:3},{project:'acme-support',pool:'default',state:'busy',count:1},{project:'globex-codereview',pool:'reviewers',state:'busy',count:2}],
  spendRateSeries: tenants.map(p=>({project:p, points:[1,2,3,2,4,5,3,6]})),
};
const live = { generated_at: now.toISOString(), agents: [], runs_in_flight: [{run_id:'r1', project:'acme-support', agent:'acme-support-triager', model:'claude-haiku-4-5', started_at: now.toISOString(), elapsed_ms: 1200, cost_usd: 0.0012}], tasks_in_flight: [{task_id:'t1', project:'globex-codereview', pool:'reviewers', worker_id:'w-1', state:'claimed', elapsed_ms: 65000}], workers: [] };
const m = assembleModel({ now, project: null, spendWindow: {from: new Date('2026-11-26T00:00:00Z'), to: now}, metrics: {ok:true, value: metrics}, live: {ok:true, value: live}, logs: {ok:false, reason:'connection refused 127.0.0.1:9428'}, previous: null });
for (const [c,r] of [[140,40],[80,24]]) {
  const t0 = performance.now();
  const s = renderFrameToString(m, {columns: c, rows: r});
  console.log(s); console.log('lines', s.split('\n').length, 'ms', (performance.now()-t0).toFixed(1));
}
