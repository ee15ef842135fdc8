import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * `reconcile --invoice` against the real VictoriaMetrics. Three past days of counters are
 * imported the way the cost bench backfills history (a month of live load is not an option in a
 * test): every increment lands on the UTC day of the sample that carries it, as a scrape would.
 * The invoices are written from the same increments, so they match by construction, except for
 * the one day a test changes on purpose.
 */

const bin = path.join(import.meta.dirname, '..', 'bin', 'run.js');
const DAY_MS = 86_400_000;
const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
const DAYS = [today - 3 * DAY_MS, today - 2 * DAY_MS, today - DAY_MS];
const dayText = (t: number): string => new Date(t).toISOString().slice(0, 10);

/** Per day, per model: cost in nano-USD and tokens, as the provider would bill them. */
interface DayUsage { costNusd: number; input: number; cached: number; output: number; reasoning: number }
const truth = new Map<string, DayUsage>();
/** The same usage per project × model, for the what-if and savings checks. */
const byProjectModel = new Map<string, DayUsage & { project: string; model: string }>();

let stack: TestStack;
let tmp: string;

async function importCounters(): Promise<void> {
  // Two projects × openai models, plus an anthropic model the OpenAI invoice must ignore.
  const series = [
    { project: 'acme', model: 'gpt-4o', provider: 'openai', prices: { input: 2500, cached: 1250, output: 10_000 } },
    { project: 'globex', model: 'gpt-4o', provider: 'openai', prices: { input: 2500, cached: 1250, output: 10_000 } },
    // With reasoning tokens (synthetic for this model), billed at the output price as the bundled book does.
    { project: 'globex', model: 'gpt-4o-mini', provider: 'openai', prices: { input: 150, cached: 75, output: 600 }, thinks: true },
    { project: 'acme', model: 'claude-haiku-4-5', provider: 'anthropic', prices: { input: 1000, cached: 100, output: 5000 } },
  ];
  const lines: string[] = [];
  series.forEach((s, si) => {
    const ts: number[] = [];
    const cost: number[] = [];
    const tok = { input: [] as number[], cached_input: [] as number[], output: [] as number[], reasoning: [] as number[] };
    const calls: number[] = [];
    let c = 0, i = 0, k = 0, o = 0, rz = 0, n = 0;
    for (const day of DAYS) {
      // A sample every 4 minutes, 90 s past the slot, so none sits on a day boundary. The
      // spacing stays under VictoriaMetrics' 5-minute look-back for the sample before a window,
      // as real scrapes (seconds apart) do.
      for (let slot = 0; slot < 360; slot++) {
        const t = day + slot * 240_000 + 90_000;
        const di = (si * 7 + slot * 13 + DAYS.indexOf(day) * 5) % 17;
        const input = 100 + di * 11;
        const cached = di % 3 === 0 ? 40 : 0;
        const output = 20 + di * 3;
        const reasoning = s.thinks ? 15 + di * 4 : 0;
        const costNusd = input * s.prices.input + cached * s.prices.cached + output * s.prices.output + reasoning * s.prices.output;
        c += costNusd; i += input; k += cached; o += output; rz += reasoning; n += 1;
        ts.push(t); cost.push(c / 1e9); tok.input.push(i); tok.cached_input.push(k); tok.output.push(o); tok.reasoning.push(rz); calls.push(n);
        const key = `${dayText(day)}|${s.model}`;
        const u = truth.get(key) ?? { costNusd: 0, input: 0, cached: 0, output: 0, reasoning: 0 };
        u.costNusd += costNusd; u.input += input; u.cached += cached; u.output += output; u.reasoning += reasoning;
        truth.set(key, u);
        const pm = byProjectModel.get(`${s.project}|${s.model}`) ?? { project: s.project, model: s.model, costNusd: 0, input: 0, cached: 0, output: 0, reasoning: 0 };
        pm.costNusd += costNusd; pm.input += input; pm.cached += cached; pm.output += output; pm.reasoning += reasoning;
        byProjectModel.set(`${s.project}|${s.model}`, pm);
      }
    }
    const labels = { sagewai_project_id: s.project, sagewai_agent_name: `${s.project}-agent`, gen_ai_provider_name: s.provider, gen_ai_request_model: s.model, job: 'sagewai/sagewai-admin' };
    lines.push(JSON.stringify({ metric: { __name__: 'sagewai_llm_cost_usd_total', ...labels }, values: cost, timestamps: ts }));
    for (const [type, values] of Object.entries(tok)) lines.push(JSON.stringify({ metric: { __name__: 'sagewai_llm_tokens_total', ...labels, gen_ai_token_type: type }, values, timestamps: ts }));
    lines.push(JSON.stringify({ metric: { __name__: 'sagewai_llm_calls_total', ...labels, sagewai_priced: 'true' }, values: calls, timestamps: ts }));
  });
  const res = await fetch(`${stack.endpoints.vmUrl}/api/v1/import`, { method: 'POST', body: lines.join('\n') });
  expect(res.status).toBe(204);
  // Make the import searchable now rather than after the next flush.
  await fetch(`${stack.endpoints.vmUrl}/internal/force_flush`);
}

function openAiCosts(alter?: { day: string; model: string; deltaNusd: number }): string {
  const data = DAYS.map((day) => ({
    object: 'bucket',
    start_time: day / 1000,
    end_time: (day + DAY_MS) / 1000,
    results: ['gpt-4o', 'gpt-4o-mini'].map((model) => {
      let nusd = truth.get(`${dayText(day)}|${model}`)?.costNusd ?? 0;
      if (alter && alter.day === dayText(day) && alter.model === model) nusd += alter.deltaNusd;
      // The provider names dated models; the price book's aliases map them back.
      return { object: 'organization.costs.result', amount: { value: (nusd / 1e9).toFixed(9), currency: 'usd' }, line_item: `${model === 'gpt-4o' ? 'gpt-4o-2024-08-06' : 'gpt-4o-mini-2024-07-18'}, input`, project_id: null };
    }),
  }));
  return JSON.stringify({ object: 'page', data, has_more: false, next_page: null });
}

async function cli(args: string[]) {
  return execa(process.execPath, [bin, ...args, '--vm-url', stack.endpoints.vmUrl], { reject: false, env: { NO_COLOR: '1', SAGEWAI_OBS_STATE_DIR: stack.stateDir } });
}
const reconcile = (file: string, extra: string[] = []) => cli(['reconcile', '--invoice', file, ...extra]);
/** The whole imported history, as --from/--to. */
const HISTORY = ['--from', new Date(DAYS[0] as number).toISOString(), '--to', new Date(today).toISOString()];

beforeAll(async () => {
  stack = await startTestStack();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-invoice-'));
  await importCounters();
});
afterAll(async () => {
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('reconcile --invoice on the real VictoriaMetrics', () => {
  it('agrees with an invoice that matches, to the nano-dollar, ignoring the other provider', async () => {
    const file = path.join(tmp, 'openai-costs.json');
    // The amounts are read as text, so the JSON carries them as strings of 9 decimals.
    fs.writeFileSync(file, openAiCosts().replace(/"value":"([0-9.]+)"/g, '"value":$1'));
    let r = await reconcile(file, ['--json', '--tolerance', '0']);
    for (let i = 0; i < 10 && r.exitCode !== 0; i++) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await reconcile(file, ['--json', '--tolerance', '0']);
    }
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const out = JSON.parse(r.stdout) as { cells: Array<{ day: string; model: string; status: string }>; differing: number; provider: string };
    expect(out.provider).toBe('openai');
    expect(out.differing).toBe(0);
    // 3 days × 2 OpenAI models; the anthropic model is not on an OpenAI invoice.
    expect(out.cells).toHaveLength(6);
    expect(out.cells.every((c) => c.status === 'match')).toBe(true);
    expect(new Set(out.cells.map((c) => c.model))).toEqual(new Set(['gpt-4o', 'gpt-4o-mini']));
  });

  it('finds exactly the one wrong day × model, and exits 3', async () => {
    const file = path.join(tmp, 'openai-costs-wrong.json');
    const wrongDay = dayText(DAYS[1] as number);
    fs.writeFileSync(file, openAiCosts({ day: wrongDay, model: 'gpt-4o-mini', deltaNusd: 250_000_000 }));
    const r = await reconcile(file, ['--json']);
    expect(r.exitCode).toBe(3);
    const out = JSON.parse(r.stdout) as { error: { kind: string }; result: { cells: Array<{ day: string; model: string; status: string; diff: { cost_nusd: number } }> } };
    expect(out.error.kind).toBe('check-failed');
    const differing = out.result.cells.filter((c) => c.status === 'differs');
    expect(differing.map((c) => [c.day, c.model, c.diff.cost_nusd])).toEqual([[wrongDay, 'gpt-4o-mini', -250_000_000]]);
    // The table names it too, for a person.
    const t = await reconcile(file);
    expect(t.exitCode).toBe(3);
    expect(t.stdout).toContain(wrongDay);
    expect(t.stdout).toContain('DIFFERS');
    expect(t.stdout).toContain('1 of 6 day × model cells differ');
    // Within a tolerance larger than the difference it passes.
    expect((await reconcile(file, ['--tolerance', '0.3'])).exitCode).toBe(0);
  });

  it('reconciles an Anthropic usage report by tokens', async () => {
    const file = path.join(tmp, 'anthropic-usage.json');
    const data = DAYS.map((day) => {
      const u = truth.get(`${dayText(day)}|claude-haiku-4-5`)!;
      return { starting_at: new Date(day).toISOString(), ending_at: new Date(day + DAY_MS).toISOString(), results: [{ model: 'claude-haiku-4-5-20251001', uncached_input_tokens: u.input, cache_read_input_tokens: u.cached, cache_creation: { ephemeral_5m_input_tokens: 0 }, output_tokens: day === DAYS[2] ? u.output + 1 : u.output }] };
    });
    fs.writeFileSync(file, JSON.stringify({ data, has_more: false }));
    const r = await reconcile(file, ['--json']);
    expect(r.exitCode).toBe(3);
    const out = JSON.parse(r.stdout) as { result: { kind: string; cells: Array<{ day: string; status: string; diff: { output_tokens: number } }> } };
    expect(out.result.kind).toBe('usage');
    expect(out.result.cells.filter((c) => c.status === 'differs').map((c) => [c.day, c.diff.output_tokens])).toEqual([[dayText(DAYS[2] as number), -1]]);
    expect((await reconcile(file, ['--tolerance-tokens', '1'])).exitCode).toBe(0);
  });

  it('reconciles an OpenAI usage export by tokens: its output_tokens count reasoning, ours are added back', async () => {
    const file = path.join(tmp, 'openai-usage.json');
    const data = DAYS.map((day) => ({
      object: 'bucket',
      start_time: day / 1000,
      end_time: (day + DAY_MS) / 1000,
      results: ['gpt-4o', 'gpt-4o-mini'].map((model) => {
        const u = truth.get(`${dayText(day)}|${model}`)!;
        return { object: 'organization.usage.completions.result', model, input_tokens: u.input + u.cached, input_cached_tokens: u.cached, output_tokens: u.output + u.reasoning, num_model_requests: 1 };
      }),
    }));
    expect(DAYS.some((day) => (truth.get(`${dayText(day)}|gpt-4o-mini`)?.reasoning ?? 0) > 0)).toBe(true);
    fs.writeFileSync(file, JSON.stringify({ object: 'page', data, has_more: false, next_page: null }));
    const r = await reconcile(file, ['--json', '--tolerance-tokens', '0']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { kind: string; differing: number; cells: Array<{ model: string; status: string }> };
    expect(out.kind).toBe('usage');
    expect(out.cells).toHaveLength(6);
    expect(out.differing).toBe(0);
    expect(r.exitCode).toBe(0);
  });

  it('exits 2 with the row and column for a malformed file, and for a missing one', async () => {
    const file = path.join(tmp, 'bad.csv');
    fs.writeFileSync(file, `date,model,cost_usd\n${dayText(DAYS[0] as number)},gpt-4o,1.5\n${dayText(DAYS[1] as number)},gpt-4o,1.5.2\n`);
    const r = await reconcile(file);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('row 3, column 3 (cost_usd)');
    expect(r.stderr).toContain('Try this:');
    const missing = await reconcile(path.join(tmp, 'nope.json'));
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('ENOENT');
  });
});

describe('cost predict and cost savings on the real VictoriaMetrics', () => {
  const perProject = (f: (u: DayUsage & { model: string }) => number): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const u of byProjectModel.values()) out[u.project] = (out[u.project] ?? 0) + f(u);
    return out;
  };

  it('prices the same usage with the same book to exactly the actual cost', async () => {
    const r = await cli(['cost', 'predict', '--price-book', path.join(import.meta.dirname, '..', 'assets', 'pricebook.json'), ...HISTORY, '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { rows: Array<{ project: string; actual_nusd: number; predicted_nusd: number; difference_usd: number }> };
    const expected = perProject((u) => u.costNusd);
    expect(Object.fromEntries(out.rows.map((x) => [x.project, x.actual_nusd]))).toEqual(expected);
    for (const x of out.rows) {
      expect(x.predicted_nusd).toBe(x.actual_nusd);
      expect(x.difference_usd).toBe(0);
    }
  });

  it('prices every call as another model', async () => {
    const r = await cli(['cost', 'predict', '--as-model', 'gpt-4o-mini-2024-07-18', ...HISTORY, '--json']);
    const out = JSON.parse(r.stdout) as { scenario: { as_model: string }; rows: Array<{ project: string; predicted_nusd: number }>; total: { predicted_nusd: number } };
    expect(out.scenario.as_model).toBe('gpt-4o-mini');
    // gpt-4o-mini: 0.15 / 0.075 / 0.6 USD per million tokens = 150 / 75 / 600 nano-USD per token.
    // Reasoning tokens too, at gpt-4o-mini's reasoning price (its output price).
    const expected = perProject((u) => u.input * 150 + u.cached * 75 + u.output * 600 + u.reasoning * 600);
    expect(Object.fromEntries(out.rows.map((x) => [x.project, x.predicted_nusd]))).toEqual(expected);
    const table = await cli(['cost', 'predict', '--as-model', 'gpt-4o-mini', ...HISTORY]);
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toContain('every call as gpt-4o-mini');
    const unknown = await cli(['cost', 'predict', '--as-model', 'gpt-9-ultra', ...HISTORY]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('has no price');
    const none = await cli(['cost', 'predict', ...HISTORY]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('Try this:');
  });

  it('states what cached input saved per project', async () => {
    const r = await cli(['cost', 'savings', ...HISTORY, '--json']);
    const out = JSON.parse(r.stdout) as { rows: Array<{ project: string; cached_input_tokens: number; saved_usd: number }> };
    const prices: Record<string, [number, number]> = { 'gpt-4o': [2500, 1250], 'gpt-4o-mini': [150, 75], 'claude-haiku-4-5': [1000, 100] };
    const saved = perProject((u) => u.cached * ((prices[u.model]?.[0] ?? 0) - (prices[u.model]?.[1] ?? 0)));
    const cached = perProject((u) => u.cached);
    expect(Object.fromEntries(out.rows.map((x) => [x.project, Math.round(x.saved_usd * 1e9)]))).toEqual(saved);
    expect(Object.fromEntries(out.rows.map((x) => [x.project, x.cached_input_tokens]))).toEqual(cached);
    // An exact --from keeps its start; --since of a day or more starts on the whole hour, and both
    // finance commands say which start was asked for, as `cost` does.
    expect(out).not.toHaveProperty('requested_from');
    for (const cmd of [['savings'], ['predict', '--as-model', 'gpt-4o-mini']]) {
      const since = JSON.parse((await cli(['cost', ...cmd, '--since', '2d', '--json'])).stdout) as { from: string; requested_from?: string };
      const name = cmd.join(' ');
      expect(since.requested_from, name).toBeDefined();
      const asked = Date.parse(since.requested_from as string);
      expect(Date.parse(since.from) % 3_600_000, name).toBe(0);
      expect(asked - Date.parse(since.from), name).toBeGreaterThanOrEqual(0);
      expect(asked - Date.parse(since.from), name).toBeLessThan(3_600_000);
    }
  });
});
