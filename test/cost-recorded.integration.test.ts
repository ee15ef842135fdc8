import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { HOURLY_EVALUATED } from '../src/queries/alerts.js';
import { rulesDir } from '../src/queries/rules.js';
import { recordedSeries, type ImportSeries } from '../src/report/cost-backfill.js';
import { buildCostReport, type CostReport } from '../src/report/cost.js';
import { resolveCacheDir, resolveInstalledBinary } from '../src/stack/binaries.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * `cost` over a long window reads whole hours from the hourly recording rules and the partial
 * hours from the raw counters. On the real VictoriaMetrics and the real vmalert (its -replay mode
 * evaluates the generated rules over past hours exactly as it would live), the fast path must
 * give the same numbers as the raw path, and both the numbers the counters were built from, to
 * the nano-dollar. History enters through VictoriaMetrics' /api/v1/import (as in the cost bench).
 */

const bin = path.join(import.meta.dirname, '..', 'bin', 'run.js');
const HOUR = 3_600_000;
const STEP = 60_000;
const thisHour = Math.floor(Date.now() / HOUR) * HOUR;
/** History: 8 hours before the current hour, a sample every minute, 17 s past it (none on an hour boundary). */
const start = thisHour - 8 * HOUR - 5 * STEP;
/** The last sample; the window under test ends after it. */
const last = thisHour - 2 * STEP;
const replayFrom = thisHour - 7 * HOUR;

/** Ground truth: per (project, model), the increments (nano-USD) by sample time. */
const increments: Array<{ project: string; model: string; t: number; nusd: number; input: number; calls: number }> = [];

/** The raw series as imported (the backfill the benches use is computed from them). */
const imported: ImportSeries[] = [];

let stack: TestStack;
let vm: VictoriaMetricsClient;

async function importHistory(): Promise<void> {
  // Two agents share acme/model-a, so a recorded series is a sum; globex's counter resets once (a restart).
  const series = [
    { project: 'acme', agent: 'a1', model: 'model-a', perCall: 1_234_567 },
    { project: 'acme', agent: 'a2', model: 'model-a', perCall: 987_654_321 },
    { project: 'acme', agent: 'a1', model: 'model-b', perCall: 3_333 },
    { project: 'globex', agent: 'g1', model: 'model-a', perCall: 42_000_017, reset: true },
  ];
  const lines: string[] = [];
  series.forEach((s, si) => {
    const ts: number[] = [];
    const cost: number[] = [];
    const input: number[] = [];
    const calls: number[] = [];
    let c = 0, i = 0, n = 0;
    let k = 0;
    for (let t = start + 17_000; t <= last; t += STEP, k++) {
      const n1 = 1 + ((k * 7 + si * 3) % 5);
      const nusd = n1 * s.perCall;
      const tokens = n1 * (100 + si);
      if (s.reset === true && t > thisHour - 4 * HOUR - 20 * STEP && t <= thisHour - 4 * HOUR - 19 * STEP) {
        // The backend restarted: its counters begin again from this call.
        c = 0; i = 0; n = 0;
      }
      c += nusd; i += tokens; n += n1;
      ts.push(t); cost.push(c / 1e9); input.push(i); calls.push(n);
      increments.push({ project: s.project, model: s.model, t, nusd, input: tokens, calls: n1 });
    }
    const labels = { job: 'sagewai/sagewai-admin', instance: 'test', sagewai_project_id: s.project, sagewai_agent_name: s.agent, gen_ai_provider_name: 'openai', gen_ai_request_model: s.model };
    imported.push(
      { metric: { __name__: 'sagewai_llm_cost_usd_total', ...labels }, values: cost, timestamps: ts },
      { metric: { __name__: 'sagewai_llm_tokens_total', ...labels, gen_ai_token_type: 'input' }, values: input, timestamps: ts },
      { metric: { __name__: 'sagewai_llm_calls_total', ...labels, sagewai_priced: 'true' }, values: calls, timestamps: ts },
    );
  });
  for (const x of imported) lines.push(JSON.stringify(x));
  const res = await fetch(`${stack.endpoints.vmUrl}/api/v1/import`, { method: 'POST', body: lines.join('\n') });
  expect(res.status).toBe(204);
  await fetch(`${stack.endpoints.vmUrl}/internal/force_flush`);
}

/** The real vmalert evaluates the generated hourly rules over past hours and writes them to VictoriaMetrics. */
async function replayRules(from: number, to: number): Promise<void> {
  const vmalert = await resolveInstalledBinary('vmalert', { cacheDir: resolveCacheDir() });
  const r = await execa(vmalert.path, [
    `-rule=${path.join(rulesDir(), 'recording.yml')}`,
    `-datasource.url=${stack.endpoints.vmUrl}`,
    `-remoteWrite.url=${stack.endpoints.vmUrl}`,
    `-replay.timeFrom=${new Date(from).toISOString()}`,
    `-replay.timeTo=${new Date(to).toISOString()}`,
    '-replay.disableProgressBar',
    '-replay.rulesDelay=0s',
    '-httpListenAddr=127.0.0.1:0',
    '-loggerOutput=stderr',
  ], { reject: false, all: true, timeout: 120_000 });
  expect(r.exitCode, r.all).toBe(0);
  await fetch(`${stack.endpoints.vmUrl}/internal/force_flush`);
}

const truth = (from: number, to: number, key: (x: (typeof increments)[number]) => string): Map<string, number> => {
  const m = new Map<string, number>();
  for (const x of increments) if (x.t > from && x.t <= to) m.set(key(x), (m.get(key(x)) ?? 0) + x.nusd);
  return m;
};
const nusdByGroup = (r: CostReport): Map<string, number> => new Map(r.rows.map((row) => [row.group, Math.round(row.cost_usd * 1e9)]));

beforeAll(async () => {
  stack = await startTestStack();
  vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
  await importHistory();
  await replayRules(replayFrom, thisHour);
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});

describe('cost over recorded hours on the real VictoriaMetrics and vmalert', () => {
  it('vmalert recorded one evaluation marker per whole hour, each hour the raw increase over (H − 1h, H]', async () => {
    const marks = await vm.query(`count_over_time(${HOURLY_EVALUATED}[${(thisHour - replayFrom) / 1000}s])`, { time: new Date(thisHour) });
    expect(marks.map((s) => s.value)).toEqual([(thisHour - replayFrom) / HOUR]);
    const h = thisHour - 3 * HOUR;
    const rec = await vm.query('sum(project_model:sagewai_llm_cost_usd:increase1h{sagewai_project_id="acme"})', { time: new Date(h) });
    const want = truth(h - HOUR, h, (x) => x.project).get('acme') ?? 0;
    expect(Math.round((rec[0]?.value ?? 0) * 1e9)).toBe(want);
    const perProject = await vm.query('project:sagewai_llm_cost_usd:increase1h{sagewai_project_id="acme"}', { time: new Date(h) });
    expect(Math.round((perProject[0]?.value ?? 0) * 1e9)).toBe(want);
  });

  it('the benches\' backfill (src/report/cost-backfill.ts) writes exactly what vmalert recorded, series by series and hour by hour', async () => {
    const hours: number[] = [];
    for (let h = replayFrom + HOUR; h <= thisHour; h += HOUR) hours.push(h);
    const res = await fetch(`${stack.endpoints.vmUrl}/api/v1/export?${new URLSearchParams({ 'match[]': '{__name__=~".+:.+:1h|.+:.+:increase1h"}', start: String((replayFrom + 1) / 1000), end: String(thisHour / 1000) })}`);
    const fromVmalert = (await res.text()).trim().split('\n').map((l) => JSON.parse(l) as ImportSeries);
    const key = (m: Record<string, string>): string => JSON.stringify(Object.entries(m).sort());
    // Values to the nano (the sums' float order differs), timestamps exactly.
    const norm = (list: ImportSeries[]): Map<string, string> => new Map(list.map((x) => [key(x.metric), JSON.stringify(x.timestamps.map((t, i) => [t, Math.round(x.values[i]! * 1e9)]))]));
    const backfill = recordedSeries(imported, hours, { marker: true });
    // Every rule has series here, the per-project ones included.
    expect(new Set(backfill.map((x) => x.metric.__name__)).size).toBe(7);
    expect(norm(backfill)).toEqual(norm(fromVmalert));
  });

  it('gives the raw path\'s numbers to the nano-dollar, by project and by model (token type stays raw)', async () => {
    // Partial hours at both ends (the reset inside), whole seconds as the CLI's windows are.
    const from = replayFrom + 17 * STEP + 23_000;
    const to = last + 31_000;
    const window = { from: new Date(from), to: new Date(to) };
    for (const by of ['project', 'model', 'token-type'] as const) {
      const [fast, raw] = await Promise.all([buildCostReport(vm, { by, window }), buildCostReport(vm, { by, window, recorded: false })]);
      // Spend by token type reads the per-type cost counter, which has no hourly rule: raw counters.
      if (by === 'token-type') expect(fast.recorded, by).toBeNull();
      else expect(fast.recorded, by).not.toBeNull();
      expect(raw.recorded).toBeNull();
      expect(fast.rows, by).toEqual(raw.rows);
      expect(fast.total, by).toEqual(raw.total);
    }
    // By project from the per-project rules (one series per project), by model from the per-model ones.
    expect((await buildCostReport(vm, { by: 'project', window })).recorded?.rules).toEqual(['project:sagewai_llm_cost_usd:increase1h', 'project_type:sagewai_llm_tokens:increase1h', 'project:sagewai_llm_calls:increase1h', HOURLY_EVALUATED]);
    expect((await buildCostReport(vm, { by: 'model', window })).recorded?.rules).toEqual(['project_model:sagewai_llm_cost_usd:increase1h', 'project_model_type:sagewai_llm_tokens:increase1h', 'project_model:sagewai_llm_calls:increase1h', HOURLY_EVALUATED]);
    // One project: its own per-project series.
    const acme = { fast: await buildCostReport(vm, { by: 'project', window, project: 'acme' }), raw: await buildCostReport(vm, { by: 'project', window, project: 'acme', recorded: false }) };
    expect(acme.fast.recorded).not.toBeNull();
    expect(acme.fast.rows).toEqual(acme.raw.rows);
    expect(nusdByGroup(acme.fast)).toEqual(new Map([['acme', truth(from, to, (x) => x.project).get('acme')]]));
    const fast = await buildCostReport(vm, { by: 'project', window });
    // The recorded span is the whole hours inside the window.
    expect(fast.recorded?.from).toEqual(new Date(replayFrom + HOUR));
    expect(fast.recorded?.to).toEqual(new Date(thisHour - HOUR));
    expect(nusdByGroup(fast)).toEqual(truth(from, to, (x) => x.project));
    const byModel = await buildCostReport(vm, { by: 'model', window });
    expect(nusdByGroup(byModel)).toEqual(truth(from, to, (x) => x.model));
    const calls = increments.filter((x) => x.t > from && x.t <= to).reduce((n, x) => n + x.calls, 0);
    expect(fast.total.calls).toBe(calls);
  });

  it('reads one hour more from the raw counters when vmalert has not written the newest hour yet', async () => {
    // The window ends in the next hour: (thisHour, thisHour + 1h] has no evaluation yet.
    const from = replayFrom + 600_000;
    const window = { from: new Date(from), to: new Date(thisHour + HOUR + 7_000) };
    const [fast, raw] = await Promise.all([buildCostReport(vm, { by: 'project', window }), buildCostReport(vm, { by: 'project', window, recorded: false })]);
    expect(fast.recorded?.to).toEqual(new Date(thisHour));
    expect(fast.rows).toEqual(raw.rows);
    expect(nusdByGroup(fast)).toEqual(truth(from, window.to.getTime(), (x) => x.project));
  });

  it('reads the raw counters when the rules did not cover the hours (vmalert not yet running then)', async () => {
    const window = { from: new Date(start - HOUR), to: new Date(thisHour - 2 * HOUR + 5_000) };
    const r = await buildCostReport(vm, { by: 'project', window });
    expect(r.recorded).toBeNull();
    expect(nusdByGroup(r)).toEqual(truth(window.from.getTime(), window.to.getTime(), (x) => x.project));
  });

  it('cost --since from the command line uses the recorded hours and says so in --json', async () => {
    const r = await execa(process.execPath, [bin, 'cost', '--by', 'project', '--from', new Date(replayFrom + 600_000).toISOString(), '--to', new Date(last + 1000).toISOString(), '--vm-url', stack.endpoints.vmUrl, '--json'], { reject: false, env: { NO_COLOR: '1', SAGEWAI_OBS_STATE_DIR: stack.stateDir } });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as CostReport;
    expect(out.recorded?.rules).toContain('project:sagewai_llm_cost_usd:increase1h');
    const want = truth(replayFrom + 600_000, last + 1000, (x) => x.project);
    expect(new Map(out.rows.map((row) => [row.group, Math.round(row.cost_usd * 1e9)]))).toEqual(want);
    const raw = await execa(process.execPath, [bin, 'cost', '--by', 'project', '--raw', '--from', new Date(replayFrom + 600_000).toISOString(), '--to', new Date(last + 1000).toISOString(), '--vm-url', stack.endpoints.vmUrl, '--json'], { reject: false });
    expect(raw.exitCode).toBe(0);
    const rawOut = JSON.parse(raw.stdout) as CostReport;
    expect(rawOut.recorded).toBeNull();
    expect(rawOut.rows).toEqual(out.rows);
  });

  it('stays exact when vmalert evaluates the same hours again (a restart within the hour)', async () => {
    await replayRules(thisHour - 3 * HOUR, thisHour);
    const from = replayFrom + 600_000;
    const window = { from: new Date(from), to: new Date(thisHour + 1000) };
    const [fast, raw] = await Promise.all([buildCostReport(vm, { by: 'project', window }), buildCostReport(vm, { by: 'project', window, recorded: false })]);
    // VictoriaMetrics keeps one sample per series and millisecond (-dedup.minScrapeInterval=1ms),
    // so the re-written hours count once and the recorded hours stay usable.
    expect(fast.recorded?.to).toEqual(new Date(thisHour));
    expect(fast.rows).toEqual(raw.rows);
    expect(nusdByGroup(fast)).toEqual(truth(from, thisHour + 1000, (x) => x.project));
  });
});
