/**
 * Figures: `cost --by project` over 30 days of data for 1,000 projects × 20 models — end to end
 * (a CLI process) and the catalog query alone.
 *
 * Data: for each of 1,000 projects × 20 models (one agent per pair) the ledger-backed counters the
 * report reads — sagewai_llm_cost_usd_total (20,000 series), sagewai_llm_tokens_total ×3 token
 * types (60,000), sagewai_llm_calls_total (20,000) — one sample every BENCH_COST_STEP_MINUTES
 * (default 60) over 30 days, ending a minute ago, with the labels the collector's exporter gives
 * them (job, instance, sagewai_*, gen_ai_*).
 *
 * Ingestion path: VictoriaMetrics' own /api/v1/import (JSON lines, one series per line with its
 * timestamps). The collector cannot carry history: its Prometheus exporter exposes only the
 * latest value of each series and VictoriaMetrics stamps scrapes with the scrape time, so 30 days
 * of past samples can only enter through the store's import API. (At the stack's real 2 s scrape
 * resolution this data would be 130 billion samples; an hourly resolution is what a month-long
 * report needs and what a downsampled store would hold.)
 *
 * Then, after a force-flush: 5 × `node bin/run.js cost --by project --since 30d --vm-url … --json`
 * (process spawn to exit; 3 queries: cost, tokens, calls), and 5 × the catalog's cost.by_project
 * alone over HTTP (nocache=1, as the CLI sends it).
 */
import { BIN, dist, figure, log, main, median, round, startStack, timeCommand, vmQuery } from './lib.js';

const PROJECTS = Number(process.env.BENCH_COST_PROJECTS ?? 1000);
const MODELS = 20;
const DAYS = 30;
const STEP_MIN = Number(process.env.BENCH_COST_STEP_MINUTES ?? 60);
const REPEATS = 5;
const HOUR_MS = 3_600_000;
const EDGE_MS = 3 * HOUR_MS;

await main('cost-report', async () => {
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { coveredHours, queryViaRecorded } = await dist('src/report/cost-recorded.js');
  const { VictoriaMetricsClient } = await dist('src/clients/victoria-metrics.js');
  const { vmForceFlush } = await dist('src/stack/health.js');
  const { request } = await import('undici');
  const stack = await startStack();
  const vm = stack.endpoints.vmUrl;

  const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const stepMs = STEP_MIN * 60_000;
  // The step grid over 30 days, plus a sample every 4 minutes around both ends of the window: the
  // window's partial hours at both ends are read from the raw counters, and VictoriaMetrics finds
  // the sample before such a short window only when it is minutes away (as real 2 s scrapes are).
  // The data starts an hour before the month; the window starts when the report runs, minutes
  // after `end` (the import takes that long), so the head's dense samples reach 2 h past it.
  const first = end - DAYS * 86_400_000 - HOUR_MS;
  const grid = new Set();
  for (let t = end; t >= first; t -= stepMs) grid.add(t);
  for (let t = end; t >= end - EDGE_MS; t -= 240_000) grid.add(t);
  for (let t = first; t <= first + EDGE_MS; t += 240_000) grid.add(t);
  const timestamps = [...grid].sort((a, b) => a - b);
  const points = timestamps.length;
  const tsJson = JSON.stringify(timestamps);
  const models = Array.from({ length: MODELS }, (_, m) => `model-${String(m).padStart(2, '0')}`);
  const base = { job: 'sagewai/sagewai-admin', instance: 'bench-instance' };
  // A counter per series: grows by a deterministic per-series amount each step.
  const counter = (perStep, scale) => {
    const v = new Array(points);
    let acc = 0;
    for (let i = 0; i < points; i++) {
      acc += perStep * (1 + (i % 5));
      v[i] = scale ? Math.round(acc) / scale : acc;
    }
    return v;
  };
  // The hourly recording rules' series. vmalert evaluates only going forward, so the month before
  // the bench is backfilled through the same /api/v1/import with what vmalert records: at each
  // whole hour H, per (project, model[, type | priced]), the counter's increase over (H − 1h, H]
  // (the last sample ≤ H minus the last sample ≤ H − 1h, as increase_pure computes it; one series
  // per group here, so the sum is that series). test/cost-recorded.integration.test.ts runs the
  // real vmalert (-replay) and checks that semantics; this bench checks the report equals --raw.
  // (vmalert -replay itself over 100,000 series × 720 h could not write its results back within
  // its shutdown flush on this 2-core machine: 28 M of 72 M samples dropped.)
  const hours = [];
  for (let h = Math.ceil(first / HOUR_MS) * HOUR_MS; h <= end; h += HOUR_MS) hours.push(h);
  const lastAtOrBefore = hours.map((h) => {
    let i = timestamps.length - 1;
    while (i >= 0 && timestamps[i] > h) i--;
    return i;
  });
  const hoursJson = JSON.stringify(hours.slice(1));
  const hourly = (v) => JSON.stringify(hours.slice(1).map((_, j) => {
    const a = lastAtOrBefore[j + 1];
    const b = lastAtOrBefore[j];
    return v[a] - (b >= 0 ? v[b] : 0);
  }));
  function* lines() {
    yield `{"metric":{"__name__":"sagewai_cost_hourly:evaluated:1h"},"values":${JSON.stringify(hours.slice(1).map(() => 1))},"timestamps":${hoursJson}}\n`;
    for (let p = 0; p < PROJECTS; p++) {
      const project = `project-${String(p).padStart(4, '0')}`;
      for (let m = 0; m < MODELS; m++) {
        const labels = { ...base, sagewai_project_id: project, sagewai_agent_name: `agent-${m}`, gen_ai_provider_name: m % 2 ? 'openai' : 'anthropic', gen_ai_request_model: models[m] };
        const k = 1 + ((p * 31 + m * 7) % 97);
        const rec = { sagewai_project_id: project, gen_ai_request_model: models[m] };
        const cost = counter(k * 1000, 1e9);
        yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_cost_usd_total', ...labels })},"values":${JSON.stringify(cost)},"timestamps":${tsJson}}\n`;
        yield `{"metric":${JSON.stringify({ __name__: 'project_model:sagewai_llm_cost_usd:increase1h', ...rec, sagewai_catalog: 'cost.by_project_model' })},"values":${hourly(cost)},"timestamps":${hoursJson}}\n`;
        for (const [type, mult] of [['input', 400], ['cached_input', 50], ['output', 120]]) {
          const tokens = counter(k * mult);
          yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_tokens_total', ...labels, gen_ai_token_type: type })},"values":${JSON.stringify(tokens)},"timestamps":${tsJson}}\n`;
          yield `{"metric":${JSON.stringify({ __name__: 'project_model_type:sagewai_llm_tokens:increase1h', ...rec, gen_ai_token_type: type, sagewai_catalog: 'tokens.by_project_model' })},"values":${hourly(tokens)},"timestamps":${hoursJson}}\n`;
        }
        const calls = counter(k);
        yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_calls_total', ...labels, sagewai_priced: 'true' })},"values":${JSON.stringify(calls)},"timestamps":${tsJson}}\n`;
        yield `{"metric":${JSON.stringify({ __name__: 'project_model:sagewai_llm_calls:increase1h', ...rec, sagewai_priced: 'true', sagewai_catalog: 'calls.by_project_model' })},"values":${hourly(calls)},"timestamps":${hoursJson}}\n`;
      }
    }
  }
  const t0 = performance.now();
  let series = 0;
  let batch = [];
  const inflight = new Set();
  const send = async (body) => {
    const res = await request(new URL('/api/v1/import', vm), { method: 'POST', body, headersTimeout: 300_000, bodyTimeout: 300_000 });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`import answered ${res.statusCode}: ${text.slice(0, 300)}`);
  };
  for (const line of lines()) {
    batch.push(line);
    series++;
    if (batch.length === 1000) {
      const p = send(batch.join(''));
      batch = [];
      inflight.add(p);
      void p.finally(() => inflight.delete(p)).catch(() => undefined);
      if (inflight.size >= 2) await Promise.race(inflight);
    }
  }
  if (batch.length) await send(batch.join(''));
  await Promise.all(inflight);
  await vmForceFlush(vm);
  const ingestSeconds = round((performance.now() - t0) / 1000, 1);
  // `series` counted every imported line: the raw counters plus as many recorded series and the marker.
  const recordedSamples = (series - PROJECTS * MODELS * 5) * (hours.length - 1);
  series = PROJECTS * MODELS * 5;
  const samples = series * points;
  log(`imported ${series} series × ${points} points = ${(samples / 1e6).toFixed(1)} M samples and ${(recordedSamples / 1e6).toFixed(1)} M recorded samples in ${ingestSeconds} s`);

  // Sanity: VictoriaMetrics has every series.
  // Over the last hour: on a busy machine the import can take longer than the 5-minute look-back.
  const count = await vmQuery(vm, 'count(last_over_time(sagewai_llm_cost_usd_total[1h]))');
  const have = Number(count.result[0]?.value?.[1]);
  if (have !== PROJECTS * MODELS) throw new Error(`VictoriaMetrics holds ${have} cost series, expected ${PROJECTS * MODELS}`);

  const cli = (extra) => {
    const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--since', '30d', '--vm-url', vm, '--json', ...extra], { timeoutMs: 120_000 });
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
    const fast = cli([]);
    const raw = cli(['--raw']);
    if (!fast.report.recorded) throw new Error('cost did not use the recorded hours');
    e2e.push(fast.s);
    e2eRaw.push(raw.s);
    // Exact: every project's cost, to the nano-dollar, and every count, as the raw path gives them
    // (the two runs' windows end a second or so apart; the data ended a minute before both).
    const key = (rep) => JSON.stringify(rep.rows.map((r) => [r.group, Math.round(r.cost_usd * 1e9), r.input_tokens, r.output_tokens, r.cached_input_tokens, r.calls]));
    if (key(fast.report) !== key(raw.report)) mismatch = `fast ${fast.report.total.cost_usd} vs raw ${raw.report.total.cost_usd}`;
  }
  if (mismatch) throw new Error(`recorded path differs from the raw counters: ${mismatch}`);

  // The query alone: cost.by_project as the report now asks it (marker check, then the recorded
  // hours and the two raw edges in parallel), and the raw catalog query it replaces.
  const client = new VictoriaMetricsClient(vm);
  const entry = getEntry('cost.by_project');
  const q = [];
  const qRaw = [];
  const expr = renderExpr(entry, { range: `${DAYS * 86_400}s` });
  for (let i = 0; i < REPEATS; i++) {
    const to = new Date();
    const window = { from: new Date(to.getTime() - DAYS * 86_400_000), to };
    const t = performance.now();
    const span = await coveredHours(client, window);
    const result = span ? await queryViaRecorded(client, entry, span, window, undefined) : null;
    q.push(round(performance.now() - t, 1));
    if (!result || new Set(result.map((r) => r.metric.sagewai_project_id)).size !== PROJECTS) throw new Error('the recorded cost.by_project did not cover every project');
    const { ms, result: rawResult } = await vmQuery(vm, expr);
    if (rawResult.length !== PROJECTS) throw new Error(`cost.by_project returned ${rawResult.length} series`);
    qRaw.push(round(ms, 1));
  }
  const how = `${PROJECTS} projects × ${MODELS} models, ${series} series (cost, 3 token types, calls) × ${points} points (every ${STEP_MIN} min over ${DAYS} d, every 4 min in the first and last 3 h of the data) = ${(samples / 1e6).toFixed(1)} M samples via VictoriaMetrics /api/v1/import in ${ingestSeconds} s; with the hourly recording rules' series for the same hours (imported alongside, as vmalert records them); ${REPEATS} repeats each, alternating with the raw path`;
  return [
    figure({ id: 'cost-e2e', title: `\`cost --by project --since 30d\`, ${PROJECTS.toLocaleString('en-US')} projects × ${MODELS} models, end to end`, unit: 's', values: e2e, target: { op: '<=', value: 1 }, measured: `CLI process spawn → JSON printed (recorded hours + raw edges; same rows as --raw to the nano-dollar); --raw (raw counters only) median ${median(e2eRaw)} s in the same run`, how, extra: { ingestSeconds, samples, recordedSamples, rawSeconds: e2eRaw } }),
    figure({ id: 'cost-query', title: `cost.by_project over 30 d as \`cost\` asks it (recorded hours + raw edges, ${(PROJECTS * MODELS).toLocaleString('en-US')} series)`, unit: 'ms', values: q, target: { op: '<=', value: 100 }, measured: `marker check, then the recorded hours and the two raw edges in parallel over HTTP, nocache=1; the raw catalog query alone median ${median(qRaw)} ms in the same run`, how, extra: { rawMs: qRaw } }),
  ];
});
