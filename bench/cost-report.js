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

const PROJECTS = 1000;
const MODELS = 20;
const DAYS = 30;
const STEP_MIN = Number(process.env.BENCH_COST_STEP_MINUTES ?? 60);
const REPEATS = 5;

await main('cost-report', async () => {
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const { vmForceFlush } = await dist('src/stack/health.js');
  const { request } = await import('undici');
  const stack = await startStack();
  const vm = stack.endpoints.vmUrl;

  const end = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
  const stepMs = STEP_MIN * 60_000;
  const points = Math.floor((DAYS * 86_400_000) / stepMs) + 1;
  const timestamps = Array.from({ length: points }, (_, i) => end - (points - 1 - i) * stepMs);
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
    return JSON.stringify(v);
  };
  function* lines() {
    for (let p = 0; p < PROJECTS; p++) {
      const project = `project-${String(p).padStart(4, '0')}`;
      for (let m = 0; m < MODELS; m++) {
        const labels = { ...base, sagewai_project_id: project, sagewai_agent_name: `agent-${m}`, gen_ai_provider_name: m % 2 ? 'openai' : 'anthropic', gen_ai_request_model: models[m] };
        const k = 1 + ((p * 31 + m * 7) % 97);
        yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_cost_usd_total', ...labels })},"values":${counter(k * 1000, 1e9)},"timestamps":${tsJson}}\n`;
        for (const [type, mult] of [['input', 400], ['cached_input', 50], ['output', 120]]) {
          yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_tokens_total', ...labels, gen_ai_token_type: type })},"values":${counter(k * mult)},"timestamps":${tsJson}}\n`;
        }
        yield `{"metric":${JSON.stringify({ __name__: 'sagewai_llm_calls_total', ...labels, sagewai_priced: 'true' })},"values":${counter(k)},"timestamps":${tsJson}}\n`;
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
  const samples = series * points;
  log(`imported ${series} series × ${points} points = ${(samples / 1e6).toFixed(1)} M samples in ${ingestSeconds} s`);

  // Sanity: VictoriaMetrics has every series.
  const count = await vmQuery(vm, 'count(sagewai_llm_cost_usd_total)');
  const have = Number(count.result[0]?.value?.[1]);
  if (have !== PROJECTS * MODELS) throw new Error(`VictoriaMetrics holds ${have} cost series, expected ${PROJECTS * MODELS}`);

  const e2e = [];
  for (let i = 0; i < REPEATS; i++) {
    const r = timeCommand(process.execPath, [BIN, 'cost', '--by', 'project', '--since', '30d', '--vm-url', vm, '--json'], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`cost failed (${r.code}): ${r.stderr.slice(-400)}`);
    const report = JSON.parse(r.stdout);
    if (report.rows.length !== PROJECTS) throw new Error(`cost --by project gave ${report.rows.length} rows, expected ${PROJECTS}`);
    e2e.push(round(r.ms / 1000, 3));
  }
  const expr = renderExpr(getEntry('cost.by_project'), { range: `${DAYS * 86_400}s` });
  const q = [];
  for (let i = 0; i < REPEATS; i++) {
    const { ms, result } = await vmQuery(vm, expr);
    if (result.length !== PROJECTS) throw new Error(`cost.by_project returned ${result.length} series`);
    q.push(round(ms, 1));
  }
  const how = `${PROJECTS} projects × ${MODELS} models, ${series} series (cost, 3 token types, calls) × ${points} points (every ${STEP_MIN} min over ${DAYS} d) = ${(samples / 1e6).toFixed(1)} M samples via VictoriaMetrics /api/v1/import in ${ingestSeconds} s; ${REPEATS} repeats each`;
  return [
    figure({ id: 'cost-e2e', title: '`cost --by project --since 30d`, 1,000 projects × 20 models, end to end', unit: 's', values: e2e, target: { op: '<=', value: 1 }, measured: 'CLI process spawn → JSON printed (3 catalog queries in parallel)', how, extra: { ingestSeconds, samples } }),
    figure({ id: 'cost-query', title: 'the catalog query cost.by_project alone (30 d, 20,000 series)', unit: 'ms', values: q, target: { op: '<=', value: 100 }, measured: `HTTP round trip to VictoriaMetrics /api/v1/query, nocache=1, median ${median(q)} ms`, how }),
  ];
});
