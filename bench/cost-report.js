/**
 * Figures: `cost --by project` over 30 days of data for 1,000 projects × 20 models — end to end
 * (a CLI process) and the catalog query alone.
 *
 * Data (bench/cost-data.js): for each of 1,000 projects × 20 models the ledger-backed counters the
 * report reads — cost (20,000 series), tokens × 3 types (60,000), calls (20,000) — one sample every
 * BENCH_COST_STEP_MINUTES (default 60) over 30 days, every 4 minutes in the first and last 3 hours,
 * plus every hourly recording rule's series with the values vmalert records for them
 * (src/report/cost-backfill.ts), all through VictoriaMetrics' /api/v1/import.
 *
 * Then 5 × alternately `cost --by project --since 30d --json` (recorded hours + raw edges) and the
 * same with `--raw` (process spawn to exit; fails unless both give the same rows to the
 * nano-dollar), and 5 × the query cost.by_project three ways alternating: as `cost` asks it now,
 * as it asked it before the per-project rules and the single query, and the raw catalog query.
 */
import { BIN, dist, figure, log, main, median, round, startStack, timeCommand, vmQuery } from './lib.js';
import { checkCostSeries, costData, importLines } from './cost-data.js';

const PROJECTS = Number(process.env.BENCH_COST_PROJECTS ?? 1000);
const MODELS = 20;
const DAYS = 30;
const STEP_MIN = Number(process.env.BENCH_COST_STEP_MINUTES ?? 60);
const REPEATS = 5;
const HOUR_MS = 3_600_000;

await main('cost-report', async () => {
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { queryRecorded, recordedExpr } = await dist('src/report/cost-recorded.js');
  const { RECORDING_RULES } = await dist('src/queries/alerts.js');
  const { VictoriaMetricsClient } = await dist('src/clients/victoria-metrics.js');
  const stack = await startStack();
  const vm = stack.endpoints.vmUrl;

  const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const data = await costData({ projects: PROJECTS, models: MODELS, days: DAYS, stepMin: STEP_MIN, end });
  const t0 = performance.now();
  await importLines(vm, data.lines());
  const ingestSeconds = round((performance.now() - t0) / 1000, 1);
  const { rawSeries: series, rawSamples: samples, recordedSamples } = data.stats;
  const points = data.points;
  log(`imported ${series} series × ${points} points = ${(samples / 1e6).toFixed(1)} M samples and ${data.stats.recordedSeries} recorded series (${(recordedSamples / 1e6).toFixed(1)} M samples) in ${ingestSeconds} s`);
  await checkCostSeries(vm, PROJECTS * MODELS);

  // Each pair of runs reads one window: `--since 30d` ending at the same `--to`. Two runs each
  // ending at their own "now" read windows a second or so apart, and a head sample (every 4 min)
  // falling between their starts made them differ by its increment (one full run's $1.959582 was
  // exactly that), which is the bench's doing, not a difference between the two paths.
  const cli = (extra, to) => {
    const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--since', '30d', '--to', to, '--vm-url', vm, '--json', ...extra], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`cost failed (${r.code}): ${r.stderr.slice(-400)}`);
    const report = JSON.parse(r.stdout);
    if (report.rows.length !== PROJECTS) throw new Error(`cost --by project gave ${report.rows.length} rows, expected ${PROJECTS}`);
    return { s: round(r.ms / 1000, 3), report };
  };
  // Before (raw counters only, --raw) and after (recorded hours + raw edges), alternating.
  const e2e = [];
  const e2eRaw = [];
  let mismatch = null;
  for (let i = 0; i < REPEATS; i++) {
    const to = new Date().toISOString();
    const fast = cli([], to);
    const raw = cli(['--raw'], to);
    if (!fast.report.recorded) throw new Error('cost did not use the recorded hours');
    e2e.push(fast.s);
    e2eRaw.push(raw.s);
    // Exact: every project's cost, to the nano-dollar, and every count, as the raw path gives them
    const key = (rep) => JSON.stringify(rep.rows.map((r) => [r.group, Math.round(r.cost_usd * 1e9), r.input_tokens, r.output_tokens, r.cached_input_tokens, r.calls]));
    if (key(fast.report) !== key(raw.report)) mismatch = `fast ${fast.report.total.cost_usd} vs raw ${raw.report.total.cost_usd}`;
  }
  if (mismatch) throw new Error(`recorded path differs from the raw counters: ${mismatch}`);

  // The query alone, three ways alternating: cost.by_project as `cost` now asks it (one query:
  // per-project recorded hours, both raw edges and the coverage marker), as it asked it before
  // this change (a marker check, then the per-model recorded hours and the two raw edges as three
  // parallel requests), and the raw catalog query.
  const client = new VictoriaMetricsClient(vm);
  const entry = getEntry('cost.by_project');
  const perModel = RECORDING_RULES.find((r) => r.record === 'project_model:sagewai_llm_cost_usd:increase1h');
  const previous = async (window) => {
    const h1 = Math.ceil(window.from.getTime() / HOUR_MS) * HOUR_MS;
    const h2 = Math.floor(window.to.getTime() / HOUR_MS) * HOUR_MS;
    const ends = [h2, h2 - HOUR_MS];
    const counts = await Promise.all(ends.map(async (e) => (await client.query(`count_over_time(sagewai_cost_hourly:evaluated:1h[${(e - h1) / 1000}s])`, { time: new Date(e) })).reduce((n, x) => n + x.value, 0)));
    const end = ends.find((e, i) => counts[i] === (e - h1) / HOUR_MS);
    if (end === undefined) return null;
    const head = h1 - window.from.getTime();
    const tail = window.to.getTime() - end;
    return (await Promise.all([
      client.query(recordedExpr(entry, perModel, undefined, `${(end - h1) / 1000}s`), { time: new Date(end) }),
      client.query(renderExpr(entry, { range: `${head}ms` }), { time: new Date(h1) }),
      client.query(renderExpr(entry, { range: `${tail}ms` }), { time: window.to }),
    ])).flat();
  };
  const q = [];
  const qPrev = [];
  const qRaw = [];
  const expr = renderExpr(entry, { range: `${DAYS * 86_400}s` });
  const perProject = (samples) => {
    const m = new Map();
    for (const x of samples) m.set(x.metric.sagewai_project_id, (m.get(x.metric.sagewai_project_id) ?? 0) + x.value);
    return m;
  };
  for (let i = 0; i < REPEATS; i++) {
    const to = new Date();
    const window = { from: new Date(to.getTime() - DAYS * 86_400_000), to };
    let t = performance.now();
    const now = await queryRecorded(client, [entry], window, undefined);
    q.push(round(performance.now() - t, 1));
    t = performance.now();
    const before = await previous(window);
    qPrev.push(round(performance.now() - t, 1));
    if (!now || !before) throw new Error('the recorded cost.by_project did not cover the window');
    const a = perProject(now.results[0]);
    const b = perProject(before);
    if (a.size !== PROJECTS || [...a].some(([k, v]) => Math.round(v * 1e9) !== Math.round(b.get(k) * 1e9))) throw new Error('cost.by_project differs between the per-project and the per-model recorded hours');
    const { ms, result: rawResult } = await vmQuery(vm, expr, to.getTime() / 1000);
    if (rawResult.length !== PROJECTS) throw new Error(`cost.by_project returned ${rawResult.length} series`);
    if (rawResult.some((r) => Math.round(Number(r.value[1]) * 1e9) !== Math.round(a.get(r.metric.sagewai_project_id) * 1e9))) throw new Error('cost.by_project differs between the recorded hours and the raw counters');
    qRaw.push(round(ms, 1));
  }
  const how = `${PROJECTS} projects × ${MODELS} models, ${series} series (cost, 3 token types, calls) × ${points} points (every ${STEP_MIN} min over ${DAYS} d, every 4 min in the first and last 3 h of the data) = ${(samples / 1e6).toFixed(1)} M samples via VictoriaMetrics /api/v1/import in ${ingestSeconds} s; with the hourly recording rules' series for the same hours (${data.stats.recordedSeries} series, ${(recordedSamples / 1e6).toFixed(1)} M samples, imported alongside with the values vmalert records: src/report/cost-backfill.ts); ${REPEATS} repeats each, alternating with the raw path`;
  return [
    figure({ id: 'cost-e2e', title: `\`cost --by project --since 30d\`, ${PROJECTS.toLocaleString('en-US')} projects × ${MODELS} models, end to end`, unit: 's', values: e2e, target: { op: '<=', value: 1 }, measured: `CLI process spawn → JSON printed (recorded hours + raw edges; same rows as --raw to the nano-dollar); --raw (raw counters only) median ${median(e2eRaw)} s in the same run`, how, extra: { ingestSeconds, samples, recordedSamples, rawSeconds: e2eRaw } }),
    figure({ id: 'cost-query', title: `cost.by_project over 30 d as \`cost\` asks it (per-project recorded hours + raw edges; ${(PROJECTS * MODELS).toLocaleString('en-US')} raw series)`, unit: 'ms', values: q, target: { op: '<=', value: 100 }, measured: `one request (per-project recorded hours, both raw edges and the coverage marker in one union, nocache=1); before this change (marker check, then per-model recorded hours and two raw edges as three parallel requests) median ${median(qPrev)} ms, the raw catalog query alone median ${median(qRaw)} ms, alternating in the same run; all three equal per project to the nano-dollar`, how, extra: { previousMs: qPrev, rawMs: qRaw } }),
  ];
});
