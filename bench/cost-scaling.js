/**
 * Scaling table of `cost --by project --since 30d`: at 100 / 1,000 / 10,000 projects × 20 models
 * × 30 days (BENCH_SCALING_PROJECTS), per size on a fresh stack: the cost query as `cost` asks it,
 * the raw catalog query, `cost` end to end, VictoriaMetrics' RSS (now and peak) and its data
 * directory on disk.
 *
 * What is loaded (bench/cost-data.js; hourly, every 4 minutes in the first and last 3 h): by
 * default (BENCH_SCALING_COUNTERS=cost) only sagewai_llm_cost_usd_total per (project, model) pair
 * over the month, with its per-project hourly recording rule and the evaluation marker as vmalert
 * records them (src/report/cost-backfill.ts). Tokens and calls are not loaded: the last full
 * bench run imported 1,000 projects' five counters with their per-model recorded series (200,000
 * series, 144 M samples) in 81 s on this 2-core machine, so 10,000 projects' would take ~13
 * minutes alone, over this bench's 10-minute budget. The
 * report's token and call parts then find nothing, so `cost` end to end here is the cost counter's
 * share (the cost-report bench has all five at 1,000). BENCH_SCALING_COUNTERS=all loads all five.
 * RSS and disk are those of the loaded data.
 *
 * Each size fails unless `cost` equals `cost --raw` row for row to the nano-dollar.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BIN, dist, figure, log, main, median, round, startStack, timeCommand, vmQuery } from './lib.js';
import { COUNTERS, checkCostSeries, costData, importLines, sameRows } from './cost-data.js';

const SIZES = (process.env.BENCH_SCALING_PROJECTS ?? '100,1000,10000').split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0);
const REPEATS = Number(process.env.BENCH_SCALING_REPEATS ?? 3);
const ALL = (process.env.BENCH_SCALING_COUNTERS ?? 'cost') === 'all';
const MODELS = 20;
const DAYS = 30;

/** Peak and current resident set of a PID in bytes (Linux /proc). */
function memory(pid) {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

function diskBytes(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += diskBytes(p);
    else if (e.isFile()) n += fs.statSync(p).size;
  }
  return n;
}

const MB = 1e6;

await main('cost-scaling', async () => {
  if (SIZES.length === 0) throw new Error('BENCH_SCALING_PROJECTS lists no size (e.g. 100,1000,10000)');
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { queryRecorded } = await dist('src/report/cost-recorded.js');
  const { rangeOf, resolveWindow } = await dist('src/report/cost.js');
  const { VictoriaMetricsClient } = await dist('src/clients/victoria-metrics.js');
  const entry = getEntry('cost.by_project');
  const rows = [];
  const figures = [];
  for (const projects of SIZES) {
    const stack = await startStack();
    const vm = stack.endpoints.vmUrl;
    const vmPid = stack.pids['victoria-metrics'];
    const dataDir = stack.record.components['victoria-metrics'].dataDir;
    const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    const data = await costData({
      projects,
      models: MODELS,
      days: DAYS,
      end,
      counters: ALL ? COUNTERS : ['sagewai_llm_cost_usd_total'],
      // The per-model series are not what `--by project` reads; they would only add import time.
      records: (name) => !name.startsWith('project_model'),
    });
    const t0 = performance.now();
    await importLines(vm, data.lines());
    const ingestSeconds = round((performance.now() - t0) / 1000, 1);
    await checkCostSeries(vm, projects * MODELS);
    log(`${projects} projects: ${data.stats.rawSeries} raw series (${(data.stats.rawSamples / 1e6).toFixed(1)} M samples), ${data.stats.recordedSeries} recorded (${(data.stats.recordedSamples / 1e6).toFixed(1)} M) in ${ingestSeconds} s`);

    const client = new VictoriaMetricsClient(vm, { timeoutMs: 300_000 });
    const q = [];
    const qRaw = [];
    const e2e = [];
    for (let i = 0; i < REPEATS; i++) {
      const to = new Date();
      // As `cost --since 30d` asks it: the window starts on the whole hour.
      const window = resolveWindow({ since: `${DAYS}d`, now: to, hourAligned: true });
      const t = performance.now();
      const fast = await queryRecorded(client, [entry], window, undefined);
      q.push(round(performance.now() - t, 1));
      if (!fast) throw new Error(`${projects} projects: the recorded hours did not cover the window`);
      const { ms } = await vmQuery(vm, renderExpr(entry, { range: rangeOf(window) }), to.getTime() / 1000);
      qRaw.push(round(ms, 1));
      const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--since', '30d', '--vm-url', vm, '--json'], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`cost failed (${r.code}): ${r.stderr.slice(-400)}`);
      e2e.push(round(r.ms / 1000, 3));
    }
    // Exact at every size: `cost` row for row as `cost --raw`, over one window (the same `--to`:
    // windows ending at each run's own "now" can differ by a head sample, see cost-report.js).
    const to = new Date().toISOString();
    const run = (extra) => {
      const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--since', '30d', '--to', to, '--vm-url', vm, '--json', ...extra], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`cost ${extra.join(' ')} failed (${r.code}): ${r.stderr.slice(-400)}`);
      return { s: round(r.ms / 1000, 3), report: JSON.parse(r.stdout) };
    };
    const fast = run([]);
    const raw = run(['--raw']);
    if (!fast.report.recorded) throw new Error(`${projects} projects: cost did not use the recorded hours`);
    if (fast.report.rows.length !== projects) throw new Error(`${projects} projects: cost gave ${fast.report.rows.length} rows`);
    if (!sameRows(fast.report, raw.report)) throw new Error(`${projects} projects: cost differs from cost --raw (${fast.report.total.cost_usd} vs ${raw.report.total.cost_usd})`);

    const mem = memory(vmPid);
    const disk = diskBytes(dataDir);
    const row = {
      projects,
      rawSeries: data.stats.rawSeries,
      rawSamples: data.stats.rawSamples,
      recordedSeries: data.stats.recordedSeries,
      recordedSamples: data.stats.recordedSamples,
      ingestSeconds,
      queryMs: median(q),
      rawQueryMs: median(qRaw),
      e2eS: median(e2e),
      rawE2eS: raw.s,
      rssMB: round(mem.rss / MB, 0),
      peakRssMB: round(mem.peak / MB, 0),
      diskMB: round(disk / MB, 0),
      loadavg1m: round((await import('node:os')).loadavg()[0], 2),
    };
    rows.push(row);
    log(JSON.stringify(row));
    const how = `${projects} projects × ${MODELS} models × ${DAYS} d: ${ALL ? 'cost, tokens (3 types) and calls counters' : 'the cost counter only (no tokens, no calls)'} hourly over the month, every 4 min in the first and last 3 h, their per-project recorded series + marker (${(data.stats.rawSamples / 1e6).toFixed(1)} M raw + ${(data.stats.recordedSamples / 1e6).toFixed(1)} M recorded samples, imported in ${ingestSeconds} s); fresh stack per size; ${REPEATS} repeats; equal to cost --raw`;
    figures.push(
      figure({ id: `scaling-query-${projects}`, title: `scaling: cost.by_project as \`cost\` asks it, ${projects.toLocaleString('en-US')} projects × ${MODELS} models`, unit: 'ms', values: q, target: { op: '<=', value: 100 }, measured: `one request (the window starts on the whole hour: recorded hours + the newest partial hour raw + marker); raw catalog query over the same window median ${median(qRaw)} ms in the same run; VictoriaMetrics RSS ${row.rssMB} MB (peak ${row.peakRssMB} MB), disk ${row.diskMB} MB`, how, extra: { ...row, rawMs: qRaw } }),
      figure({ id: `scaling-e2e-${projects}`, title: `scaling: \`cost --by project --since 30d\` end to end, ${projects.toLocaleString('en-US')} projects × ${MODELS} models`, unit: 's', values: e2e, target: { op: '<=', value: 1 }, measured: `CLI process spawn → JSON printed; one \`cost --raw\` ${raw.s} s`, how }),
    );
    await stack.stop();
  }
  const header = '| projects × 20 models | raw series / samples | recorded series / samples | import | cost query (`cost`) | raw query | `cost` end to end | `cost --raw` (1 run) | VM RSS (peak) | VM disk | load 1 m |';
  const table = [header, '|---|---|---|---|---|---|---|---|---|---|---|', ...rows.map((r) => `| ${r.projects.toLocaleString('en-US')} | ${(r.rawSeries / 1000).toFixed(0)} k / ${(r.rawSamples / 1e6).toFixed(1)} M | ${(r.recordedSeries / 1000).toFixed(1)} k / ${(r.recordedSamples / 1e6).toFixed(1)} M | ${r.ingestSeconds} s | ${r.queryMs} ms | ${r.rawQueryMs} ms | ${r.e2eS} s | ${r.rawE2eS} s | ${r.rssMB} MB (${r.peakRssMB} MB) | ${r.diskMB} MB | ${r.loadavg1m} |`)].join('\n');
  log(`\n${table}`);
  return { figures, table };
});
