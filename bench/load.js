/**
 * The load generator, run as its own process (bench/lib.js runLoad): reads a JSON config on
 * stdin, drives the backend through an undici keep-alive pool, prints `LOAD_RESULT <json>`.
 *
 * mode "mix": `concurrency` closed loops, each picking the next request by the example-43 weights
 *   below, for warmupMs + durationMs; only requests that *start* after the warm-up are counted.
 * mode "runs": exactly `runs` POST /playground/run with fixed simulate token counts, spread over
 *   the given agents, `concurrency` at a time; sums cost_nusd from each run_finished.
 */
import { Pool } from 'undici';

/**
 * Example 43's request mix by count (examples/ex43-observatory-live.ts at its default pace, per
 * second): 8 workers heartbeat (~38 %) and claim (~29 %), report claimed tasks (~10 %, here a
 * claim that got a task reports it at once), the enqueuer creates tasks (~10 %), three tenants'
 * agent runs (~4 %), the operator's list views (~8 %) and 401/404 probes (~1 %). Claims use
 * wait_ms 0 (the example long-polls for 1.5 s, which measures waiting, not throughput); the rare
 * failed-login probe (~0.1 %, a deliberate password hash) is left out.
 */
export const EX43_WEIGHTS = { heartbeat: 38, claim: 29, enqueue: 10, run: 4, list: 8, probe: 1 };

function readStdin() {
  return new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => (s += d));
    process.stdin.on('end', () => resolve(JSON.parse(s)));
  });
}

let seed = 43;
function rnd() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];

const cfg = await readStdin();
// cfg.urls: several replicas of one backend (one database); requests go to each in turn.
const origins = (cfg.urls ?? [cfg.url]).map((u) => new URL(u).origin);
const pools = origins.map((o) => new Pool(o, { connections: cfg.connections ?? cfg.concurrency, pipelining: 1, keepAliveTimeout: 30_000 }));
let nextPool = 0;
const auth = { authorization: `Bearer ${cfg.token}` };

async function req(method, path, { body, headers = {} } = {}) {
  const h = { ...headers };
  if (body !== undefined) h['content-type'] = 'application/json';
  const pool = pools[nextPool++ % pools.length];
  const res = await pool.request({ method, path, headers: h, body: body === undefined ? undefined : JSON.stringify(body), headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

function runFinished(text) {
  const i = text.lastIndexOf('event: run_finished\ndata: ');
  if (i < 0) return null;
  const start = i + 'event: run_finished\ndata: '.length;
  const end = text.indexOf('\n', start);
  return JSON.parse(text.slice(start, end < 0 ? undefined : end));
}

const stats = { requests: 0, byClass: { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, transport: 0, unexpected: [], byOp: {} };
const latencies = [];
let counting = false;

async function timed(op, fn, expect) {
  const t0 = performance.now();
  const count = counting;
  let status;
  try {
    const r = await fn();
    status = r.status;
    return r;
  } catch (err) {
    if (count) {
      stats.transport++;
      if (stats.unexpected.length < 10) stats.unexpected.push(`${op}: ${err.message}`);
    }
    return null;
  } finally {
    if (count && status !== undefined) {
      latencies.push(performance.now() - t0);
      stats.requests++;
      stats.byOp[op] = (stats.byOp[op] ?? 0) + 1;
      stats.byClass[`${Math.floor(status / 100)}xx`]++;
      if (expect && !expect.includes(status) && stats.unexpected.length < 10) stats.unexpected.push(`${op} → ${status}`);
    }
  }
}

const w = cfg.workers ?? [];
const wh = (x) => ({ 'x-worker-id': x.worker_id, 'x-worker-secret': x.worker_secret });
let n = 0;
const ops = {
  heartbeat: () => {
    const x = pick(w);
    return timed('heartbeat', () => req('POST', '/api/v1/fleet/heartbeat', { body: { status: 'online', active_tasks: 0 }, headers: wh(x) }), [200]);
  },
  claim: async () => {
    const x = pick(w);
    const r = await timed('claim', () => req('POST', '/api/v1/fleet/claim', { body: { wait_ms: 0 }, headers: wh(x) }), [200, 204]);
    if (r && r.status === 200) {
      const task = JSON.parse(r.text);
      const failed = rnd() < 0.04;
      await timed('report', () => req('POST', '/api/v1/fleet/report', { body: failed ? { task_id: task.task_id, status: 'failed', error: 'simulated worker failure' } : { task_id: task.task_id, status: 'completed', result: { ok: true } }, headers: wh(x) }), [200]);
    }
  },
  enqueue: () => {
    const t = pick(cfg.tenants);
    return timed('enqueue', () => req('POST', '/api/v1/fleet/tasks', { body: { pool: t.pool, model: t.model, payload: { kind: 'batch-item', n: n++ } }, headers: { ...auth, 'x-project-id': t.slug } }), [201]);
  },
  run: () => {
    const t = pick(cfg.tenants);
    const agent = pick(t.agents);
    return timed('run', () => req('POST', '/playground/run', { body: { agent_name: agent, message: 'Summarise the ticket thread and propose a reply.' }, headers: { ...auth, 'x-project-id': t.slug, accept: 'text/event-stream' } }), [200]);
  },
  list: () => {
    const t = pick(cfg.tenants);
    const which = Math.floor(rnd() * 7);
    const [path, project] = [
      ['/api/v1/projects', null],
      ['/playground/agents', t.slug],
      ['/api/v1/fleet/workers', null],
      ['/api/v1/health/summary', null],
      ['/admin/runs?limit=20', t.slug],
      ['/api/v1/live', null],
      ['/api/v1/budget/status', t.slug],
    ][which];
    return timed('list', () => req('GET', path, { headers: project ? { ...auth, 'x-project-id': project } : auth }), [200]);
  },
  probe: () =>
    rnd() < 0.5
      ? timed('probe', () => req('GET', '/api/v1/auth/me'), [401])
      : timed('probe', () => req('GET', `/api/v1/projects/no-such-project-${n++}`, { headers: auth }), [404]),
};

async function mix() {
  const weights = Object.entries(cfg.weights ?? EX43_WEIGHTS);
  const total = weights.reduce((a, [, v]) => a + v, 0);
  const choose = () => {
    let x = rnd() * total;
    for (const [k, v] of weights) if ((x -= v) < 0) return k;
    return weights[0][0];
  };
  const start = performance.now();
  const warmEnd = start + (cfg.warmupMs ?? 2000);
  const end = warmEnd + cfg.durationMs;
  let countStart = 0;
  let lastStart = 0;
  const loop = async () => {
    for (;;) {
      const now = performance.now();
      if (now >= end) return;
      if (!counting && now >= warmEnd) {
        counting = true;
        countStart = now;
      }
      lastStart = now;
      await ops[choose()]();
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, loop));
  const elapsed = (Math.max(lastStart, end) - countStart) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((q / 100) * latencies.length) - 1))];
  return {
    mode: 'mix',
    concurrency: cfg.concurrency,
    seconds: elapsed,
    requests: stats.requests,
    rps: stats.requests / elapsed,
    p50ms: p(50),
    p99ms: p(99),
    maxms: latencies[latencies.length - 1],
    byClass: stats.byClass,
    byOp: stats.byOp,
    transportErrors: stats.transport,
    unexpected: stats.unexpected,
  };
}

async function runs() {
  counting = true;
  const simulate = cfg.simulate;
  const agents = cfg.tenants.flatMap((t) => t.agents.map((a) => ({ project: t.slug, agent: a })));
  let next = 0;
  let costNusd = 0;
  let completed = 0;
  let failed = 0;
  const t0 = performance.now();
  const loop = async () => {
    for (;;) {
      const i = next++;
      if (i >= cfg.runs) return;
      const a = agents[i % agents.length];
      const r = await timed('run', () => req('POST', '/playground/run', { body: { agent_name: a.agent, message: 'fixed workload', simulate }, headers: { ...auth, 'x-project-id': a.project, accept: 'text/event-stream' } }), [200]);
      const fin = r && r.status === 200 ? runFinished(r.text) : null;
      if (fin && fin.status === 'completed' && fin.usage) {
        completed++;
        costNusd += fin.usage.cost_nusd;
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: cfg.concurrency }, loop));
  const seconds = (performance.now() - t0) / 1000;
  return { mode: 'runs', runs: cfg.runs, completed, failed, costNusd, seconds, rps: cfg.runs / seconds, byClass: stats.byClass, transportErrors: stats.transport, unexpected: stats.unexpected };
}

const cpu0 = process.cpuUsage();
const w0 = performance.now();
const result = cfg.mode === 'runs' ? await runs() : await mix();
const cpu = process.cpuUsage(cpu0);
/** Cores the load generator itself used (it shares the machine with the server). */
result.generatorCores = Math.round(((cpu.user + cpu.system) / 1e6 / ((performance.now() - w0) / 1000)) * 100) / 100;
await Promise.all(pools.map((p) => p.close()));
process.stdout.write(`LOAD_RESULT ${JSON.stringify(result)}\n`);
