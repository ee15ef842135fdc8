import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import type { CostReport } from '../src/report/cost.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * A price change in the middle of a run of calls, on the real collector, VictoriaMetrics and
 * backend: the ledger, the metrics and `cost` price the calls before and after the change at the
 * price in effect at their time. Then a closed month: closed, refused to change, verified.
 * Expected prices are the list prices written below (bundled gpt-4o: $2.50 / $1.25 cached / $10
 * per million, reasoning at the output price; the imported book: $1.25 / $0.625 / $5 and its own
 * reasoning price $4), never the output of the code under test.
 */
const bin = path.join(import.meta.dirname, '..', 'bin', 'run.js');
const nano = (usd: number): number => Math.round(usd * 1e9);
const CALL = { input_tokens: 1200, cached_input_tokens: 300, output_tokens: 150, reasoning_tokens: 90 };
const OLD = { input: 2500, cached: 1250, output: 10_000, reasoning: 10_000 };
const NEW = { input: 1250, cached: 625, output: 5000, reasoning: 4000 };
const costOf = (p: typeof OLD): number => CALL.input_tokens * p.input + CALL.cached_input_tokens * p.cached + CALL.output_tokens * p.output + CALL.reasoning_tokens * p.reasoning;

let stack: TestStack;
let backend: TestBackend;
let api: BackendClient;
let tmp: string;
let db: Database.Database;
let bundled: string;

async function cli(args: string[]) {
  return execa(process.execPath, [bin, ...args], {
    reject: false,
    env: { SAGEWAI_OBS_VM_URL: stack.endpoints.vmUrl, SAGEWAI_OBS_BACKEND_URL: backend.url, SAGEWAI_OBS_TOKEN: backend.operatorToken, SAGEWAI_OBS_STATE_DIR: stack.stateDir, NO_COLOR: '1' },
  });
}

/** Polls `cost` until `done` holds for its report (metrics trail the ledger by export + scrape). */
async function costUntil(args: string[], done: (r: CostReport) => boolean): Promise<CostReport> {
  let last: CostReport | undefined;
  for (let i = 0; i < 60; i++) {
    const r = await cli(['cost', ...args, '--since', '30m', '--json']);
    expect(r.stderr).toBe('');
    last = JSON.parse(r.stdout) as CostReport;
    if (done(last)) return last;
    await new Promise((res) => setTimeout(res, 1000));
  }
  return last!;
}

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-prices-'));
  api = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
  db = new Database(path.join(backend.dataDir, 'sagewai.db'));
  bundled = (await api.listPriceBooks())[0]!.version;
  await api.createProject({ slug: 'acme', name: 'Acme' });
  await api.createAgent('acme', { name: 'bot', model: 'gpt-4o' });
}, 120_000);

afterAll(async () => {
  db?.close();
  await api?.close();
  await backend?.stop();
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a price change during a run of calls', () => {
  let effective: number;

  it('prices calls before the new book at the old price and after it at the new one, in the ledger', async () => {
    for (let i = 0; i < 3; i++) expect((await api.run('acme', { agent_name: 'bot', message: 'x', simulate: CALL })).usage?.cost_nusd).toBe(costOf(OLD));
    effective = Date.now() + 8000;
    const file = path.join(tmp, 'book.json');
    fs.writeFileSync(file, JSON.stringify({ version: 'half-price', effective_from: new Date(effective).toISOString(), entries: [{ provider: 'openai', model: 'gpt-4o', input: 1.25, cached_input: 0.625, output: 5, reasoning: 4, effective_from: '2024-10-01', source: 'test' }] }, null, 2));
    const imported = await cli(['prices', 'import', file]);
    expect(imported.stderr).toBe('');
    expect(imported.exitCode).toBe(0);
    // Calls keep the old price until the effective time, then take the new one.
    const before = await api.run('acme', { agent_name: 'bot', message: 'x', simulate: CALL });
    expect(Date.now()).toBeLessThan(effective);
    expect(before.usage?.cost_nusd).toBe(costOf(OLD));
    await new Promise((r) => setTimeout(r, effective - Date.now() + 100));
    for (let i = 0; i < 2; i++) expect((await api.run('acme', { agent_name: 'bot', message: 'x', simulate: CALL })).usage?.cost_nusd).toBe(costOf(NEW));
    const rows = db.prepare('SELECT pricebook_version AS v, cost_nusd AS c, input_cost_nusd AS i, cached_cost_nusd AS k, output_cost_nusd AS o, reasoning_cost_nusd AS r, created_at AS t FROM ledger ORDER BY id').all() as Array<{ v: string; c: number; i: number; k: number; o: number; r: number; t: number }>;
    expect(rows.map((r) => r.v)).toEqual([bundled, bundled, bundled, bundled, 'half-price', 'half-price']);
    for (const r of rows) {
      const p = r.t >= effective ? NEW : OLD;
      expect([r.c, r.i, r.k, r.o, r.r]).toEqual([costOf(p), CALL.input_tokens * p.input, CALL.cached_input_tokens * p.cached, CALL.output_tokens * p.output, CALL.reasoning_tokens * p.reasoning]);
    }
  });

  it('cost --by price-book equals the ledger per book version, to the nano-dollar', async () => {
    const want = { [bundled]: 4 * costOf(OLD), 'half-price': 2 * costOf(NEW) };
    const report = await costUntil(['--by', 'price-book'], (r) => r.rows.length === 2 && r.rows.every((x) => nano(x.cost_usd) === want[x.group]));
    expect(Object.fromEntries(report.rows.map((r) => [r.group, nano(r.cost_usd)]))).toEqual(want);
    expect(Object.fromEntries(report.rows.map((r) => [r.group, r.calls]))).toEqual({ [bundled]: 4, 'half-price': 2 });
  });

  it('cost --by token-type equals the ledger per type, not the tokens re-priced with the current book', async () => {
    const ledger = db.prepare('SELECT SUM(input_cost_nusd) AS input, SUM(cached_cost_nusd) AS cached_input, SUM(output_cost_nusd) AS output, SUM(reasoning_cost_nusd) AS reasoning FROM ledger').get() as Record<string, number>;
    const want = {
      input: 4 * CALL.input_tokens * OLD.input + 2 * CALL.input_tokens * NEW.input,
      cached_input: 4 * CALL.cached_input_tokens * OLD.cached + 2 * CALL.cached_input_tokens * NEW.cached,
      output: 4 * CALL.output_tokens * OLD.output + 2 * CALL.output_tokens * NEW.output,
      reasoning: 4 * CALL.reasoning_tokens * OLD.reasoning + 2 * CALL.reasoning_tokens * NEW.reasoning,
    };
    expect(ledger).toEqual(want);
    const report = await costUntil(['--by', 'token-type'], (r) => r.rows.length === 4 && r.rows.every((x) => nano(x.cost_usd) === want[x.group as keyof typeof want]));
    expect(Object.fromEntries(report.rows.map((r) => [r.group, nano(r.cost_usd)]))).toEqual(want);
    // Re-pricing the 6 calls' tokens at today's (new) price would say less.
    expect(nano(report.total.cost_usd)).toBeGreaterThan(6 * costOf(NEW));
    expect(nano(report.total.cost_usd)).toBe(4 * costOf(OLD) + 2 * costOf(NEW));
    expect(report.total.unpriced_tokens).toBe(0);
    // And --by project still equals the ledger's total.
    const byProject = await costUntil(['--by', 'project'], () => true);
    expect(nano(byProject.total.cost_usd)).toBe(4 * costOf(OLD) + 2 * costOf(NEW));
  });
});

describe('a closed month on the real stack', () => {
  // The last month that is over, with samples in its last days (inside VictoriaMetrics' retention).
  const now = new Date();
  const start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1);
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
  const month = new Date(start).toISOString().slice(0, 7);
  const times = [end - 3 * 3_600_000, end - 2 * 3_600_000, end - 3_600_000];
  const costs = [1_000_000, 2_500_000, 4_000_000];

  it('closes, refuses a change, and verifies against the ledger and VictoriaMetrics', async () => {
    // History as an earlier backend would have left it: ledger rows in the month and the counter samples scraped then.
    const ins = db.prepare("INSERT INTO ledger (run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at) VALUES (?, 'past', 'bot', NULL, NULL, 'openai', 'gpt-4o', 1, 0, 0, ?, ?, 0, 0, 'old', 1, ?)");
    times.forEach((t, i) => ins.run(`past-${i}`, costs[i], costs[i], t));
    let total = 0;
    const values = [0, ...costs.map((c) => (total += c) / 1e9)];
    const line = JSON.stringify({ metric: { __name__: 'sagewai_llm_cost_usd_total', job: 'sagewai/sagewai-admin', instance: 'earlier', sagewai_project_id: 'past', sagewai_agent_name: 'bot', gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', sagewai_pricebook_version: 'old' }, values, timestamps: [times[0]! - 60_000, ...times] });
    expect((await fetch(`${stack.endpoints.vmUrl}/api/v1/import`, { method: 'POST', body: line })).status).toBe(204);
    await fetch(`${stack.endpoints.vmUrl}/internal/force_flush`);

    const closed = await cli(['cost', 'close', '--month', month, '--json']);
    expect(closed.stderr).toBe('');
    const c = JSON.parse(closed.stdout) as { rows: Array<{ project: string; model: string; cost_nusd: number; calls: number }>; hash: string };
    expect(c.rows).toEqual([expect.objectContaining({ project: 'past', model: 'gpt-4o', cost_nusd: 7_500_000, calls: 3 })]);
    // A later edit or import dated in the month is refused by the store.
    expect(() => db.prepare("UPDATE ledger SET cost_nusd = 1 WHERE run_id = 'past-0'").run()).toThrow(/closed month/);
    expect(() => ins.run('past-late', 5, 5, times[0]!)).toThrow(/closed month/);

    let v = await cli(['cost', 'close', '--verify', '--json']);
    for (let i = 0; i < 10 && v.exitCode !== 0; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      v = await cli(['cost', 'close', '--verify', '--json']);
    }
    expect(v.exitCode, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, months: [{ month, chain_ok: true, ledger_ok: true, metrics_ok: true }] });

    // Changed behind the store's back: verify names the month, the pair and both numbers, and exits 3.
    db.exec('DROP TRIGGER ledger_closed_month_update');
    db.prepare("UPDATE ledger SET cost_nusd = 1 WHERE run_id = 'past-0'").run();
    const bad = await cli(['cost', 'close', '--verify']);
    expect(bad.exitCode).toBe(3);
    expect(bad.stdout).toContain(`${month} past/gpt-4o: closed $0.007500000 (3 calls), ledger now $0.006500001 (3 calls)`);
  });
});
