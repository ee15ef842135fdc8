/**
 * Figure (no target; read side by side): backend CPU per request under example 43's mix with
 * 1,000 / 100,000 / 1,000,000 rows in the cost ledger (and as many runs), telemetry on; plus
 * `serve`'s start-up (it loads the metric totals from the ledger) and the latency of the list
 * views that read the ledger or the runs table.
 *
 * Per size: a fresh data dir; `serve` once to create the schema, example 43's organisation and one
 * real run per agent (the rows to copy: real prices, real price book version); `serve` stopped;
 * the ledger and runs tables filled to the size through better-sqlite3 (copies of those rows with
 * new ids, spread over the last 30 days, in one transaction: the ledger's triggers keep the
 * per-day budget totals as in production); `serve` started again on the same data dir (timed),
 * then 2 rounds of bench/load.js (2 s warm-up + BENCH_LEDGER_SECONDS counted). A real stack runs
 * throughout. Sizes: BENCH_LEDGER_ROWS (comma-separated, default 1000,100000,1000000).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, cpuSeconds, dist, figure, log, main, median, round, runLoad, startStack, trackPid, untrackPid, onCleanup } from './lib.js';
import { setupTenants } from './setup-tenants.js';

const SIZES = (process.env.BENCH_LEDGER_ROWS ?? '1000,100000,1000000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_LEDGER_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_LEDGER_ROUNDS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const VIEWS = ['/api/v1/health/summary', '/admin/runs?limit=20', '/api/v1/budget/status', '/api/v1/live', '/api/v1/analytics/costs'];

async function serve(stack, stateDir, dataDir) {
  const { spawnBackend } = await dist('src/backend/spawn.js');
  const t0 = performance.now();
  const b = await spawnBackend({ stateDir, dataDir, env: { SAGEWAI_OBS_LATENCY_SCALE: '0', OTEL_EXPORTER_OTLP_ENDPOINT: stack.endpoints.otlpHttp, OTEL_SDK_DISABLED: 'false' }, timeoutMs: 300_000 });
  const startMs = performance.now() - t0;
  trackPid(b.pid);
  return { url: b.url, pid: b.pid, token: b.operatorToken, startMs, stop: async () => (await b.stop().catch(() => undefined), untrackPid(b.pid)) };
}

/** Copies the real rows (one run per agent) until the ledger and runs hold `rows` each. */
async function fill(dataDir, rows) {
  const { default: Database } = await import('better-sqlite3');
  const file = path.join(dataDir, 'sagewai.db');
  const db = new Database(file);
  try {
    const runs = db.prepare('SELECT * FROM runs').all();
    const ledger = db.prepare('SELECT * FROM ledger').all();
    const byRun = new Map(ledger.map((l) => [l.run_id, l]));
    const templates = runs.filter((r) => byRun.has(r.id));
    const need = rows - ledger.length;
    if (templates.length === 0) throw new Error('no ledger rows to copy');
    const runCols = Object.keys(templates[0]);
    const ledgerCols = Object.keys(ledger[0]).filter((c) => c !== 'id');
    const insRun = db.prepare(`INSERT INTO runs (${runCols.join(',')}) VALUES (${runCols.map((c) => `@${c}`).join(',')})`);
    const insLedger = db.prepare(`INSERT INTO ledger (${ledgerCols.join(',')}) VALUES (${ledgerCols.map((c) => `@${c}`).join(',')})`);
    const now = Date.now();
    const span = 30 * 86_400_000;
    db.transaction(() => {
      for (let i = 0; i < need; i++) {
        const r = templates[i % templates.length];
        const id = `bench-${i}`;
        const t = now - span + Math.floor((i / need) * span);
        insRun.run({ ...r, id, started_at: t, completed_at: t + 1 });
        insLedger.run({ ...byRun.get(r.id), run_id: id, created_at: t + 1 });
      }
    })();
    return { ledger: db.prepare('SELECT count(*) AS n FROM ledger').get().n, dbBytes: ['', '-wal'].reduce((n, x) => n + (fs.existsSync(file + x) ? fs.statSync(file + x).size : 0), 0) };
  } finally {
    db.close();
  }
}

await main('ledger-scale', async () => {
  const stack = await startStack();
  const figures = [];
  const table = [];
  for (const rows of SIZES) {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-bench-ledger-'));
    onCleanup(() => fs.rmSync(stateDir, { recursive: true, force: true }));
    const dataDir = path.join(stateDir, 'backend');
    let b = await serve(stack, stateDir, dataDir);
    const org = await setupTenants(b);
    for (const t of org.tenants) for (const a of t.agents) await api(b.url, b.token, 'POST', '/playground/run', { project: t.slug, body: { agent_name: a, message: 'seed row' }, headers: { accept: 'text/event-stream' } }).catch(() => undefined);
    await b.stop();
    const f0 = performance.now();
    const filled = await fill(dataDir, rows);
    const fillS = round((performance.now() - f0) / 1000, 1);
    b = await serve(stack, stateDir, dataDir);
    try {
      const views = {};
      for (const v of VIEWS) {
        const ms = [];
        for (let i = 0; i < 15; i++) {
          const t0 = performance.now();
          await api(b.url, b.token, 'GET', v, { project: org.tenants[0].slug });
          ms.push(performance.now() - t0);
        }
        views[v] = round(median(ms), 2);
      }
      const cpu = [];
      const rps = [];
      for (let i = 0; i < ROUNDS; i++) {
        const c0 = cpuSeconds(b.pid);
        const r = await runLoad({ mode: 'mix', url: b.url, token: b.token, ...org, concurrency: CONCURRENCY, warmupMs: 2000, durationMs: SECONDS * 1000 });
        cpu.push(round(((cpuSeconds(b.pid) - c0) * 1000) / (r.requests * (1 + 2 / SECONDS)), 3));
        rps.push(round(r.rps, 0));
      }
      const row = { rows: filled.ledger, dbMB: round(filled.dbBytes / 1e6, 1), fillSeconds: fillS, serveStartMs: round(b.startMs, 0), cpuMsPerRequest: cpu, rps, viewMs: views, loadavg1m: round(os.loadavg()[0], 2) };
      log(`ledger ${rows}: ${JSON.stringify(row)}`);
      table.push(row);
      figures.push(
        figure({
          id: `ledger-${rows}`,
          title: `backend CPU per request, example-43 mix, ${rows.toLocaleString('en-US')} ledger rows`,
          unit: 'ms',
          values: cpu,
          // No target of its own: the sizes are read next to each other (docs/bench.md).
          target: null,
          measured: `CPU ms/request per round ${cpu.join(', ')} (${rps.join(', ')} req/s); serve start ${row.serveStartMs} ms; list views (median ms) ${Object.entries(views).map(([k, v]) => `${k} ${v}`).join(', ')}; database ${row.dbMB} MB; load average ${row.loadavg1m}`,
          how: `fresh data dir, ledger and runs filled to ${rows} rows, serve restarted, ${ROUNDS} rounds × (2 s warm-up + ${SECONDS} s) of example 43's mix, telemetry on, ${CONCURRENCY} closed loops`,
          extra: row,
        }),
      );
    } finally {
      await b.stop();
    }
  }
  return figures;
});
