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
 * Then 5 × alternately `cost --by project --since 30d --json` (the window starts on the whole
 * hour: recorded hours + the newest partial hour raw), the same with `--raw`, and the exact 30 days
 * as --from/--to (a raw head edge too), each pair ending at one --to (process spawn to exit; fails
 * unless `cost` and `cost --raw` give the same rows to the nano-dollar), and 5 × the query
 * cost.by_project three ways alternating: as `cost --since 30d` asks it, over the exact 30 days,
 * and the raw catalog query.
 */
import { BIN, dist, figure, log, main, median, round, startStack, timeCommand, vmQuery } from './lib.js';
import { checkCostSeries, costData, importLines, sameRows } from './cost-data.js';

const PROJECTS = Number(process.env.BENCH_COST_PROJECTS ?? 1000);
const MODELS = 20;
const DAYS = 30;
const STEP_MIN = Number(process.env.BENCH_COST_STEP_MINUTES ?? 60);
const REPEATS = 5;
const HOUR_MS = 3_600_000;

await main('cost-report', async () => {
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { queryRecorded } = await dist('src/report/cost-recorded.js');
  const { rangeOf, resolveWindow } = await dist('src/report/cost.js');
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
  const cli = (args) => {
    const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--vm-url', vm, '--json', ...args], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`cost failed (${r.code}): ${r.stderr.slice(-400)}`);
    const report = JSON.parse(r.stdout);
    if (report.rows.length !== PROJECTS) throw new Error(`cost --by project gave ${report.rows.length} rows, expected ${PROJECTS}`);
    return { s: round(r.ms / 1000, 3), report };
  };
  // `cost --since 30d` (its window starts on the whole hour: recorded hours + the newest partial
  // hour raw), the same with --raw (raw counters only), and the exact 30 days as --from/--to (what
  // --since read before it was hour-aligned: a raw head edge too), alternating.
  const e2e = [];
  const e2eRaw = [];
  const e2eExact = [];
  let mismatch = null;
  for (let i = 0; i < REPEATS; i++) {
    const toDate = new Date();
    const to = toDate.toISOString();
    const fast = cli(['--since', '30d', '--to', to]);
    const raw = cli(['--since', '30d', '--to', to, '--raw']);
    const exact = cli(['--from', new Date(toDate.getTime() - DAYS * 86_400_000).toISOString(), '--to', to]);
    if (!fast.report.recorded || !exact.report.recorded) throw new Error('cost did not use the recorded hours');
    if (new Date(fast.report.from).getTime() % HOUR_MS !== 0) throw new Error(`cost --since 30d started at ${fast.report.from}, not on a whole hour`);
    e2e.push(fast.s);
    e2eRaw.push(raw.s);
    e2eExact.push(exact.s);
    // Exact: every project's cost, to the nano-dollar, and every count, as the raw path gives them
    if (!sameRows(fast.report, raw.report)) mismatch = `fast ${fast.report.total.cost_usd} vs raw ${raw.report.total.cost_usd}`;
  }
  if (mismatch) throw new Error(`recorded path differs from the raw counters: ${mismatch}`);

  // The query alone, three ways alternating: cost.by_project as `cost --since 30d` asks it (the
  // window starts on the whole hour: per-project recorded hours, the newest partial hour raw, the
  // coverage marker, one request), the same over the exact 30 days `--since` meant before it was
  // hour-aligned (a raw head edge too), and the raw catalog query over the aligned window.
  const client = new VictoriaMetricsClient(vm);
  const entry = getEntry('cost.by_project');
  const q = [];
  const qExact = [];
  const qRaw = [];
  const perProject = (samples) => {
    const m = new Map();
    for (const x of samples) m.set(x.metric.sagewai_project_id, (m.get(x.metric.sagewai_project_id) ?? 0) + x.value);
    return m;
  };
  // Does the raw query's answer differ from the recorded path's per-project sums, to the nano-dollar?
  const differs = (rawResult, recorded) => rawResult.some((r) => Math.round(Number(r.value[1]) * 1e9) !== Math.round(recorded.get(r.metric.sagewai_project_id) * 1e9));
  for (let i = 0; i < REPEATS; i++) {
    const to = new Date();
    const window = resolveWindow({ since: `${DAYS}d`, now: to, hourAligned: true });
    const exact = { from: new Date(to.getTime() - DAYS * 86_400_000), to };
    if (window.from.getTime() % HOUR_MS !== 0) throw new Error('the --since window did not start on a whole hour');
    let t = performance.now();
    const now = await queryRecorded(client, [entry], window, undefined);
    q.push(round(performance.now() - t, 1));
    t = performance.now();
    const before = await queryRecorded(client, [entry], exact, undefined);
    qExact.push(round(performance.now() - t, 1));
    if (!now || !before) throw new Error('the recorded cost.by_project did not cover the window');
    const a = perProject(now.results[0]);
    const { ms, result: rawResult } = await vmQuery(vm, renderExpr(entry, { range: rangeOf(window) }), to.getTime() / 1000);
    if (a.size !== PROJECTS || rawResult.length !== PROJECTS) throw new Error(`cost.by_project returned ${a.size} / ${rawResult.length} projects`);
    if (differs(rawResult, a)) throw new Error('cost.by_project differs between the recorded hours and the raw counters');
    qRaw.push(round(ms, 1));
    // The exact window is checked too: its recorded hours + both edges against its own raw query (not timed).
    const b = perProject(before.results[0]);
    const { result: rawExact } = await vmQuery(vm, renderExpr(entry, { range: rangeOf(exact) }), to.getTime() / 1000);
    if (differs(rawExact, b)) throw new Error('cost.by_project over the exact window differs between the recorded path and the raw counters');
  }
  const how = `${PROJECTS} projects × ${MODELS} models, ${series} series (cost, 3 token types, calls) × ${points} points (every ${STEP_MIN} min over ${DAYS} d, every 4 min in the first and last 3 h of the data) = ${(samples / 1e6).toFixed(1)} M samples via VictoriaMetrics /api/v1/import in ${ingestSeconds} s; with the hourly recording rules' series for the same hours (${data.stats.recordedSeries} series, ${(recordedSamples / 1e6).toFixed(1)} M samples, imported alongside with the values vmalert records: src/report/cost-backfill.ts); ${REPEATS} repeats each, alternating with the raw path`;
  return [
    figure({ id: 'cost-e2e', title: `\`cost --by project --since 30d\`, ${PROJECTS.toLocaleString('en-US')} projects × ${MODELS} models, end to end`, unit: 's', values: e2e, target: { op: '<=', value: 1 }, measured: `CLI process spawn → JSON printed (the window starts on the whole hour: recorded hours + the newest partial hour raw; same rows as --raw to the nano-dollar); in the same run, alternating: --raw (raw counters only) median ${median(e2eRaw)} s, the exact 30 days as --from/--to (a raw head edge too, what --since read before) median ${median(e2eExact)} s`, how, extra: { ingestSeconds, samples, recordedSamples, rawSeconds: e2eRaw, exactWindowSeconds: e2eExact } }),
    figure({ id: 'cost-query', title: `cost.by_project over 30 d as \`cost --since 30d\` asks it (per-project recorded hours + the newest partial hour raw; ${(PROJECTS * MODELS).toLocaleString('en-US')} raw series)`, unit: 'ms', values: q, target: { op: '<=', value: 100 }, measured: `one request (recorded hours, the raw tail and the coverage marker in one union, nocache=1); in the same run, alternating: the exact 30 days (a raw head edge too) median ${median(qExact)} ms, the raw catalog query over the aligned window median ${median(qRaw)} ms; recorded equals raw per project to the nano-dollar over both windows`, how, extra: { exactWindowMs: qExact, rawMs: qRaw } }),
  ];
});
