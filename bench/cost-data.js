/**
 * The cost benches' data: for P projects × M models (one agent per pair) the ledger-backed counters
 * `cost --by project` reads — sagewai_llm_cost_usd_total, sagewai_llm_tokens_total × 3 token types,
 * sagewai_llm_calls_total — with the collector's label set, one sample every `stepMin` minutes over
 * `days` days ending at `end`, plus a sample every 4 minutes in the first and last 3 hours (the
 * window's partial hours at both ends are read from the raw counters, and VictoriaMetrics finds
 * the sample before such a short window only when it is minutes away, as real 2 s scrapes are).
 *
 * With them, the hourly recording rules' series as vmalert records them (src/report/cost-backfill.ts,
 * checked against vmalert -replay in test/cost-recorded.integration.test.ts): vmalert evaluates
 * only going forward, so a month before the bench is backfilled through the same import.
 *
 * Ingestion is VictoriaMetrics' own /api/v1/import (JSON lines): the collector cannot carry
 * history (its Prometheus exporter exposes each series' latest value, scrapes are stamped now).
 */
import { dist, vmQuery } from './lib.js';

const HOUR_MS = 3_600_000;
const EDGE_MS = 3 * HOUR_MS;

export const COUNTERS = ['sagewai_llm_cost_usd_total', 'sagewai_llm_tokens_total', 'sagewai_llm_calls_total'];

/**
 * The import lines, one project at a time. `counters`: which raw counters to generate (default all
 * three; their recorded series follow them). `records`: which recorded series to import.
 */
export async function costData({ projects, models = 20, days = 30, stepMin = 60, end, counters = COUNTERS, records = () => true }) {
  const { recordedSeries } = await dist('src/report/cost-backfill.js');
  const stepMs = stepMin * 60_000;
  const first = end - days * 86_400_000 - HOUR_MS;
  const grid = new Set();
  for (let t = end; t >= first; t -= stepMs) grid.add(t);
  for (let t = end; t >= end - EDGE_MS; t -= 240_000) grid.add(t);
  for (let t = first; t <= first + EDGE_MS; t += 240_000) grid.add(t);
  const timestamps = [...grid].sort((a, b) => a - b);
  const points = timestamps.length;
  // Whole hours after the first hour of data (vmalert was "running" from then on).
  const hours = [];
  for (let h = Math.ceil(first / HOUR_MS) * HOUR_MS + HOUR_MS; h <= end; h += HOUR_MS) hours.push(h);
  const modelNames = Array.from({ length: models }, (_, m) => `model-${String(m).padStart(2, '0')}`);
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
  const stats = { rawSeries: 0, rawSamples: 0, recordedSeries: 0, recordedSamples: 0 };
  function* lines() {
    for (let p = 0; p < projects; p++) {
      const project = `project-${String(p).padStart(5, '0')}`;
      const raw = [];
      for (let m = 0; m < models; m++) {
        const labels = { ...base, sagewai_project_id: project, sagewai_agent_name: `agent-${m}`, gen_ai_provider_name: m % 2 ? 'openai' : 'anthropic', gen_ai_request_model: modelNames[m] };
        const k = 1 + ((p * 31 + m * 7) % 97);
        if (counters.includes('sagewai_llm_cost_usd_total')) raw.push({ metric: { __name__: 'sagewai_llm_cost_usd_total', ...labels }, values: counter(k * 1000, 1e9), timestamps });
        if (counters.includes('sagewai_llm_tokens_total')) {
          for (const [type, mult] of [['input', 400], ['cached_input', 50], ['output', 120]]) raw.push({ metric: { __name__: 'sagewai_llm_tokens_total', ...labels, gen_ai_token_type: type }, values: counter(k * mult), timestamps });
        }
        if (counters.includes('sagewai_llm_calls_total')) raw.push({ metric: { __name__: 'sagewai_llm_calls_total', ...labels, sagewai_priced: 'true' }, values: counter(k), timestamps });
      }
      for (const s of raw) {
        stats.rawSeries++;
        stats.rawSamples += points;
        yield JSON.stringify(s);
      }
      for (const r of recordedSeries(raw, hours, { marker: p === 0 })) {
        if (!records(r.metric.__name__)) continue;
        stats.recordedSeries++;
        stats.recordedSamples += r.values.length;
        yield JSON.stringify(r);
      }
    }
  }
  return { lines, stats, points, hours, first };
}

/** Streams lines into /api/v1/import in batches of 1,000 lines, two requests in flight; then a force-flush. */
export async function importLines(vm, lines) {
  const { request } = await import('undici');
  const { vmForceFlush } = await dist('src/stack/health.js');
  let batch = [];
  const inflight = new Set();
  const send = async (body) => {
    const res = await request(new URL('/api/v1/import', vm), { method: 'POST', body, headersTimeout: 300_000, bodyTimeout: 300_000 });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`import answered ${res.statusCode}: ${text.slice(0, 300)}`);
  };
  for (const line of lines) {
    batch.push(line);
    if (batch.length === 1000) {
      const p = send(batch.join('\n'));
      batch = [];
      inflight.add(p);
      void p.finally(() => inflight.delete(p)).catch(() => undefined);
      if (inflight.size >= 2) await Promise.race(inflight);
    }
  }
  if (batch.length) await send(batch.join('\n'));
  await Promise.all(inflight);
  await vmForceFlush(vm);
}

/** Sanity: VictoriaMetrics holds every cost series (over the last hour: the import can outlast the 5-minute look-back). */
export async function checkCostSeries(vm, want) {
  const count = await vmQuery(vm, 'count(last_over_time(sagewai_llm_cost_usd_total[1h]))');
  const have = Number(count.result[0]?.value?.[1]);
  if (have !== want) throw new Error(`VictoriaMetrics holds ${have} cost series, expected ${want}`);
}

/** Two `cost --json` reports give the same rows: every group's cost to the nano-dollar and every count. */
export function sameRows(a, b) {
  const key = (rep) => JSON.stringify(rep.rows.map((r) => [r.group, Math.round(r.cost_usd * 1e9), r.input_tokens, r.output_tokens, r.cached_input_tokens, r.calls]));
  return key(a) === key(b);
}
