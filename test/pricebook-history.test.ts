import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Finance } from '../src/backend/areas/finance.js';
import { PriceHistory } from '../src/backend/price-history.js';
import { PriceBook, PriceBookError } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore, type OpenedStore } from '../src/backend/store.js';
import { BackendApiError, BackendClient } from '../src/clients/backend.js';
import CostClose from '../src/commands/cost/close.js';
import { runCommand, type CommandResult } from './helpers/in-process.js';
import PricesImport from '../src/commands/prices/import.js';
import PricesList from '../src/commands/prices/list.js';

/**
 * The price book with history: lookups by time, every refusal with the line of the file at fault,
 * and the backend pricing calls before and after an imported book takes effect; closed months.
 */

/** A book as file text, one entry per line, so each refusal's line is known independently of the parser. */
function bookText(o: { version?: string; effective_from?: string; currency?: string; entries: string[] }): string {
  return [
    '{',
    `  "version": "${o.version ?? 'v2'}",`,
    `  "effective_from": "${o.effective_from ?? '2026-01-01'}",`,
    `  "currency": "${o.currency ?? 'USD'}",`,
    '  "entries": [',
    o.entries.map((e) => `    ${e}`).join(',\n'),
    '  ]',
    '}',
  ].join('\n');
}
const entry = (model: string, input: string, from: string, extra = ''): string => `{ "provider": "openai", "model": "${model}", "input": ${input}, "cached_input": 0.5, "output": 8, "effective_from": "${from}"${extra}, "source": "test" }`;

function refusal(text: string): PriceBookError {
  try {
    PriceBook.parse(text);
  } catch (err) {
    if (err instanceof PriceBookError) return err;
    throw err;
  }
  throw new Error('the book was accepted');
}

describe('price book history', () => {
  it('prices a call at the entry in effect at its time', () => {
    const book = PriceBook.parse(bookText({ entries: [entry('m', '2', '2026-01-01'), entry('m', '1.5', '2026-03-01T12:00:00Z'), entry('n', '4', '2026-01-01')] }));
    expect(book.quote('m', Date.parse('2026-02-10T00:00:00Z')).inputNusd).toBe(2000);
    expect(book.quote('m', Date.parse('2026-03-01T11:59:59Z')).inputNusd).toBe(2000);
    expect(book.quote('m', Date.parse('2026-03-01T12:00:00Z')).inputNusd).toBe(1500);
    expect(book.quote('n', Date.parse('2027-01-01T00:00:00Z')).inputNusd).toBe(4000);
    // What the collector's pricing reads: one entry per model, the one in effect.
    expect(book.entries(Date.parse('2026-04-01T00:00:00Z')).map((e) => [e.model, e.input])).toEqual([['m', 1.5], ['n', 4]]);
  });
  it('an entry with an end leaves the model unpriced after it, never guessed', () => {
    const book = PriceBook.parse(bookText({ entries: [entry('m', '2', '2026-01-01', ', "effective_to": "2026-02-01"')] }));
    expect(book.quote('m', Date.parse('2026-01-15T00:00:00Z')).priced).toBe(true);
    expect(book.quote('m', Date.parse('2026-02-01T00:00:00Z')).priced).toBe(false);
  });
  it('a history of books: each prices from its own start on, the first also before it', () => {
    const v1 = PriceBook.parse(bookText({ version: 'v1', entries: [entry('m', '2', '2025-01-01')] }));
    const v2 = PriceBook.parse(bookText({ version: 'v2', effective_from: '2026-06-01', entries: [entry('m', '1', '2025-01-01')] }));
    const h = new PriceHistory([{ book: v2, from: v2.effectiveFromMs }, { book: v1, from: v1.effectiveFromMs }]);
    expect(h.quote('m', Date.parse('2025-06-01T00:00:00Z'))).toMatchObject({ inputNusd: 2000, version: 'v1' });
    expect(h.quote('m', Date.parse('2026-05-31T23:59:59Z'))).toMatchObject({ inputNusd: 2000, version: 'v1' });
    expect(h.quote('m', Date.parse('2026-06-01T00:00:00Z'))).toMatchObject({ inputNusd: 1000, version: 'v2' });
  });
  it('the bundled book without history prices as before', () => {
    const book = PriceBook.load();
    expect(book.quote('gpt-4o').inputNusd).toBe(2500);
    expect(book.entries().length).toBe(book.allEntries().length);
  });

  // Line numbers: 1 "{", 2 version, 3 effective_from, 4 currency, 5 "entries": [, 6.. entries.
  it('refuses a price with more than three decimals, on its line', () => {
    const e = refusal(bookText({ entries: [entry('a', '1', '2026-01-01'), entry('b', '1.2345', '2026-01-01')] }));
    expect(e.line).toBe(7);
    expect(e.reason).toMatch(/b input price 1.2345 has more than three decimals/);
  });
  it('refuses overlapping dates, on the line of the later entry', () => {
    const e = refusal(bookText({ entries: [entry('a', '1', '2026-01-01', ', "effective_to": "2026-03-01"'), entry('b', '1', '2026-01-01'), entry('a', '2', '2026-02-01')] }));
    expect(e.line).toBe(8);
    expect(e.reason).toMatch(/overlap.*line 6/);
  });
  it('refuses an unknown currency, on its line', () => {
    expect(refusal(bookText({ currency: 'EUR', entries: [entry('a', '1', '2026-01-01')] }))).toMatchObject({ line: 4, reason: expect.stringMatching(/unknown currency "EUR"/) });
    const perEntry = refusal(bookText({ entries: [entry('a', '1', '2026-01-01'), entry('b', '1', '2026-01-01', ', "currency": "XXX"')] }));
    expect(perEntry.line).toBe(7);
  });
  it('refuses a model priced twice for one date, on the second entry', () => {
    const e = refusal(bookText({ entries: [entry('a', '1', '2026-01-01'), entry('b', '1', '2026-01-01'), entry('a', '2', '2026-01-01')] }));
    expect(e.line).toBe(8);
    expect(e.reason).toMatch(/a is priced twice for 2026-01-01 \(again after the entry at line 6\)/);
  });
  it('refuses a JSON syntax error and a bad date with their lines', () => {
    expect(refusal(bookText({ entries: [entry('a', '1', '2026-01-01'), '{ "model": }'] })).line).toBe(7);
    expect(refusal(bookText({ effective_from: 'soon', entries: [entry('a', '1', '2026-01-01')] })).line).toBe(3);
  });
});

describe('the start-up book (serve --price-book)', () => {
  const NOW = Date.parse('2026-06-15T10:00:00Z');
  const v1 = PriceBook.parse(bookText({ version: 'v1', effective_from: '2026-01-01', entries: [entry('m', '2', '2025-01-01')] }));
  const stored = (b: PriceBook, from: number) => ({ version: b.version, effective_from: from, body: JSON.stringify(b.raw), imported_at: 0 });

  it('a fresh data dir takes it as the first book, covering all time before it', () => {
    const plan = Finance.planHistory([], v1, NOW);
    expect(plan.toStore?.effective_from).toBe(Date.parse('2026-01-01T00:00:00Z'));
    expect(plan.history.quote('m', Date.parse('2020-01-01T00:00:00Z')).version).toBe('v1');
  });
  it('a version new to the data dir whose date has passed takes effect at start, not before', () => {
    const v2 = PriceBook.parse(bookText({ version: 'v2', effective_from: '2026-03-01', entries: [entry('m', '1', '2025-01-01')] }));
    const plan = Finance.planHistory([stored(v1, v1.effectiveFromMs)], v2, NOW);
    expect(plan.toStore?.effective_from).toBe(NOW);
    expect(plan.history.quote('m', NOW - 1)).toMatchObject({ version: 'v1', inputNusd: 2000 });
    expect(plan.history.quote('m', NOW)).toMatchObject({ version: 'v2', inputNusd: 1000 });
  });
  it('a version already stored changes nothing', () => {
    expect(Finance.planHistory([stored(v1, v1.effectiveFromMs)], v1, NOW).toStore).toBeUndefined();
  });
  it('a start-up book that would begin before a book already scheduled is refused with its line', () => {
    const later = PriceBook.parse(bookText({ version: 'v9', effective_from: '2027-01-01', entries: [entry('m', '1', '2025-01-01')] }));
    const v2 = PriceBook.parse(bookText({ version: 'v2', effective_from: '2026-03-01', entries: [entry('m', '1', '2025-01-01')] }));
    let err: unknown;
    try {
      Finance.planHistory([stored(v1, v1.effectiveFromMs), stored(later, later.effectiveFromMs)], v2, NOW);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PriceBookError);
    expect(err).toMatchObject({ line: 3, reason: expect.stringMatching(/overlaps the dates of the loaded book v9/) });
  });
});

// ── the backend ─────────────────────────────────────────────────────────────────────────────
let dir: string;
let store: OpenedStore;
let backend: RunningBackend;
let client: BackendClient;

const runCmd = (cmd: Parameters<typeof runCommand>[0], argv: string[]): Promise<CommandResult> => runCommand(cmd, argv, { url: backend.url, token: store.operatorToken, dir });

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-prices-'));
  store = openStore(path.join(dir, 'data'));
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 1, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
  client = new BackendClient({ baseUrl: backend.url, token: store.operatorToken });
  await client.createProject({ slug: 'acme', name: 'Acme' });
  await client.createAgent('acme', { name: 'a', model: 'gpt-4o' });
});

afterAll(async () => {
  await client.close();
  await backend.close();
  store.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const call = async (): Promise<number> => (await client.run('acme', { agent_name: 'a', message: 'x', simulate: { input_tokens: 1000, output_tokens: 100 } })).usage?.cost_nusd as number;

describe('backend price history', () => {
  it('a book imported mid-run prices the calls after its start and none before', async () => {
    const bundled = PriceBook.load().version;
    const before = await call();
    // gpt-4o bundled: 1000 × 2500 + 100 × 10000 nano-USD.
    expect(before).toBe(3_500_000);
    const start = new Date(Date.now() + 1500);
    const file = path.join(dir, 'cheaper.json');
    fs.writeFileSync(file, JSON.stringify({ version: 'cheaper-1', effective_from: start.toISOString(), entries: [{ provider: 'openai', model: 'gpt-4o', input: 1.25, cached_input: 0.5, output: 5, effective_from: '2024-10-01', source: 'test' }] }, null, 2));
    const imported = await runCmd(PricesImport, [file, '--json']);
    expect(imported.exitCode).toBe(0);
    expect(JSON.parse(imported.stdout)).toEqual({ version: 'cheaper-1', effective_from: start.toISOString(), file });
    expect(await call()).toBe(3_500_000); // not in effect yet
    await new Promise((r) => setTimeout(r, start.getTime() - Date.now() + 50));
    expect(await call()).toBe(1_250_000 + 500_000);
    const rows = store.db.prepare('SELECT pricebook_version AS v, cost_nusd AS c, created_at AS t FROM ledger ORDER BY id').all() as Array<{ v: string; c: number; t: number }>;
    expect(rows.map((r) => [r.v, r.c])).toEqual([[bundled, 3_500_000], [bundled, 3_500_000], ['cheaper-1', 1_750_000]]);
    expect(rows.every((r) => (r.v === 'cheaper-1') === r.t >= start.getTime())).toBe(true);
    const list = JSON.parse((await runCmd(PricesList, ['--json'])).stdout) as { items: Array<{ version: string; active: boolean }> };
    expect(list.items.map((b) => [b.version, b.active])).toEqual([[bundled, false], ['cheaper-1', true]]);
  });

  it('refuses a book that would re-price the past, with its line, and changes nothing', async () => {
    const file = path.join(dir, 'past.json');
    fs.writeFileSync(file, bookText({ version: 'past-1', effective_from: '2020-01-01', entries: [entry('gpt-4o', '9', '2020-01-01')] }));
    const r = await runCmd(PricesImport, [file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${file}:3: effective_from 2020-01-01 overlaps the dates of the loaded book cheaper-1`);
    expect(r.stderr).toContain('Try this:');
    fs.writeFileSync(file, bookText({ version: 'bad-1', effective_from: '2099-01-01', entries: [entry('gpt-4o', '9.0001', '2020-01-01')] }));
    const bad = await runCmd(PricesImport, [file]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`${file}:6: gpt-4o input price 9.0001 has more than three decimals`);
    // The backend says the same line when it is sent the text directly.
    const err = await client.importPriceBook(fs.readFileSync(file, 'utf8')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendApiError);
    expect((err as BackendApiError).status).toBe(422);
    expect(((err as BackendApiError).body as { error: { line: number } }).error.line).toBe(6);
    expect((await client.listPriceBooks()).map((b) => b.version)).toEqual([PriceBook.load().version, 'cheaper-1']);
  });

  it('a restart keeps the history: the bundled book does not take over again', async () => {
    await client.close();
    await backend.close();
    store.db.close();
    store = openStore(path.join(dir, 'data'));
    backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 1, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
    client = new BackendClient({ baseUrl: backend.url, token: store.operatorToken });
    expect(await call()).toBe(1_750_000);
    expect((await client.listPriceBooks()).map((b) => b.version)).toEqual([PriceBook.load().version, 'cheaper-1']);
  });
});

describe('closed months', () => {
  const ins = (month: string, day: number, cost: number): void => {
    store.db.prepare("INSERT INTO ledger (run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at) VALUES (?, 'acme', 'a', NULL, NULL, 'openai', 'gpt-4o', 10, 0, 1, ?, ?, 0, 0, 'old', 1, ?)").run(`r-${month}-${day}`, cost, cost, Date.parse(`${month}-${String(day).padStart(2, '0')}T12:00:00Z`));
  };

  it('close freezes totals under a hash chain; the ledger refuses changes dated in the month', async () => {
    ins('2020-01', 3, 1000);
    ins('2020-01', 31, 2000);
    ins('2020-02', 1, 4000);
    const jan = JSON.parse((await runCmd(CostClose, ['--month', '2020-01', '--json'])).stdout) as { hash: string; prev_hash: string; rows: Array<{ cost_nusd: number; calls: number }> };
    expect(jan.prev_hash).toBe('0'.repeat(64));
    expect(jan.rows).toEqual([expect.objectContaining({ project: 'acme', model: 'gpt-4o', cost_nusd: 3000, calls: 2 })]);
    const feb = JSON.parse((await runCmd(CostClose, ['--month', '2020-02', '--json'])).stdout) as { prev_hash: string };
    expect(feb.prev_hash).toBe(jan.hash);
    // Later edits or imports dated in a closed month are refused by the store itself.
    expect(() => ins('2020-01', 15, 5)).toThrow(/closed month/);
    expect(() => store.db.prepare("UPDATE ledger SET cost_nusd = 1 WHERE run_id = 'r-2020-01-3'").run()).toThrow(/closed month/);
    expect(() => store.db.prepare("DELETE FROM ledger WHERE run_id = 'r-2020-02-1'").run()).toThrow(/closed month/);
    // Out of order, twice, or not over yet: refused with a hint.
    const again = await runCmd(CostClose, ['--month', '2020-01']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/already closed/);
    const open = await runCmd(CostClose, ['--month', new Date(Date.now() + 40 * 86_400_000).toISOString().slice(0, 7)]);
    expect(open.exitCode).toBe(2);
    expect(open.stderr).toMatch(/not over yet/);
    const bad = await runCmd(CostClose, ['--month', '2020-13']);
    expect(bad.exitCode).toBe(2);
    const checks = await client.verifyClosedMonths();
    expect(checks.map((c) => [c.month, c.chain_ok, c.ledger_ok])).toEqual([['2020-01', true, true], ['2020-02', true, true]]);
  });

  it('verify finds a closed month changed behind the store’s back', async () => {
    store.db.exec('DROP TRIGGER ledger_closed_month_update');
    store.db.prepare("UPDATE ledger SET cost_nusd = 999 WHERE run_id = 'r-2020-01-3'").run();
    const checks = await client.verifyClosedMonths();
    expect(checks[0]).toMatchObject({ month: '2020-01', chain_ok: true, ledger_ok: false, differences: [{ project: 'acme', model: 'gpt-4o', closed_nusd: 3000, ledger_nusd: 2999 }] });
    expect(checks[1]).toMatchObject({ month: '2020-02', ledger_ok: true });
    // Rewriting the stored totals to match breaks the hash chain instead.
    store.db.prepare("UPDATE closed_months SET totals = replace(totals, '3000', '2999') WHERE month = '2020-01'").run();
    const after = await client.verifyClosedMonths();
    expect(after[0]).toMatchObject({ chain_ok: false, ledger_ok: true });
  });
});
