import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, type RunSink } from '../src/backend/app.js';
import { PriceBook } from '../src/backend/pricebook.js';
import { postgresReplicas } from './helpers/postgres.js';

// Finance (price-book history, per-token-type cost, closed months) on a real PostgreSQL shared by
// two in-process replicas, each with its own pool and instance id.
const pgr = postgresReplicas('pgfinance');
const replica = (id: string, failureRates?: { rate_limit: number; timeout: number; server_error: number }): ReturnType<typeof pgr.replica> => pgr.replica(id, { seed: 9, ...(failureRates ? { failureRates } : {}) });
const sink: RunSink = { started: () => {}, delta: () => {}, warning: () => {} };
const agent = { name: 'bot', model: 'gpt-4o', system_prompt: 'You help.', strategy: 'single', temperature: 0, tools: [], metadata: {}, max_output_tokens: 300 };

/** A ledger row written the way another writer (psql, an import) would, dated `at`. */
async function ledgerRow(client: pg.ClientBase, runId: string, at: number, cost = 1_000): Promise<void> {
  await client.query(
    "INSERT INTO ledger (run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at, writer) VALUES ($1, 'old', 'bot', NULL, NULL, 'openai', 'gpt-4o', 10, 0, 5, $2, $2, 0, 0, 'v0', 1, $3, 'psql')",
    [runId, cost, at],
  );
}

const JAN = Date.UTC(2025, 0, 1);
const FEB = Date.UTC(2025, 1, 1);

beforeAll(() => pgr.start(), 60_000);
afterAll(() => pgr.stop());

describe('finance on PostgreSQL', () => {
  it('stores the start-up book once, shares an imported book across replicas, and prices and totals by book and token type', async () => {
    const a = await replica('fin-a');
    const b = await replica('fin-b');
    const bundled = PriceBook.load();
    expect((await pgr.db.query('SELECT version FROM price_books')).rows).toEqual([{ version: bundled.version }]);

    await a.app.createProject({ slug: 'acme', name: 'Acme', environment: 'dev' }, 'op');
    await a.app.createAgent('acme', agent, 'op');
    const call = (app: App, k: number) => app.run('acme', { agent_name: 'bot', message: `call ${k}`, simulate: { input_tokens: 1000, output_tokens: 200, reasoning_tokens: 300 } }, 'op', sink);
    const before = { usage: (await call(a.app, 1)).usage as { cost_nusd: number } };
    expect(before.usage.cost_nusd).toBeGreaterThan(0);

    // Half price from 1.5 s from now, imported through replica a; replica b learns it from the database.
    const effective = Date.now() + 1500;
    const raw = bundled.raw as { entries: Array<{ model: string; input: number; cached_input: number; output: number }> };
    const half = { ...raw, version: 'half', effective_from: new Date(effective).toISOString(), entries: raw.entries.map((e) => (e.model === 'gpt-4o' ? { ...e, input: e.input / 2, cached_input: e.cached_input / 2, output: e.output / 2 } : e)) };
    await a.app.finance.importBook(JSON.stringify(half, null, 2), 'op');
    expect(b.app.finance.versions().map((v) => v.version)).toEqual([bundled.version]);
    expect(await b.app.finance.refresh()).toBe(1);
    expect(b.app.finance.versions().map((v) => v.version)).toEqual([bundled.version, 'half']);
    // The same version again is refused on either replica (409 with the line).
    await expect(b.app.finance.importBook(JSON.stringify(half, null, 2), 'op')).rejects.toMatchObject({ status: 409 });

    await new Promise((r) => setTimeout(r, effective - Date.now() + 50));
    const after = { usage: (await call(b.app, 2)).usage as { cost_nusd: number } };
    expect(after.usage.cost_nusd * 2).toBe(before.usage.cost_nusd);
    expect((await pgr.db.query('SELECT pricebook_version AS v, writer FROM ledger ORDER BY id')).rows).toEqual([
      { v: bundled.version, writer: 'fin-a' },
      { v: 'half', writer: 'fin-b' },
    ]);

    // Each replica's start-up totals: its own rows, per book, with the cost split by token type.
    const totalsA = await a.o.stores.runs.totals();
    const totalsB = await b.o.stores.runs.totals();
    expect(totalsA.ledger.map((t) => t.version)).toEqual([bundled.version]);
    expect(totalsB.ledger.map((t) => t.version)).toEqual(['half']);
    for (const t of [...totalsA.ledger, ...totalsB.ledger]) {
      expect(t.costInput).toBeGreaterThan(0);
      expect(t.costOutput).toBeGreaterThan(0);
      expect(t.reasoning).toBe(300);
      // Reasoning at gpt-4o's output price (the book names none): 300 of them cost 1.5 × the 200 output tokens.
      expect(t.costReasoning * 2).toBe(t.costOutput * 3);
      expect(t.costInput + t.costCached + t.costOutput + t.costReasoning).toBe(t.cost);
    }
    // The ledger columns and the analytics by token type on this engine carry the same split.
    expect((await pgr.db.query('SELECT SUM(reasoning_tokens)::int AS r, SUM(input_cost_nusd + cached_cost_nusd + output_cost_nusd + reasoning_cost_nusd - cost_nusd)::int AS gap FROM ledger')).rows).toEqual([{ r: 600, gap: 0 }]);
    const [all] = await a.o.stores.analytics.costRows({ from: 0, to: Date.now() + 1, keys: [] });
    expect(all).toMatchObject({ reasoning: 600, output: 400, c_reason: totalsA.ledger[0]!.costReasoning + totalsB.ledger[0]!.costReasoning });
    expect(totalsA.ledger[0]?.cost).toBe(before.usage.cost_nusd);
    expect(totalsB.ledger[0]?.cost).toBe(after.usage.cost_nusd);

    // A restarted replica opens with both books (and no third row for the start-up book).
    const c = await replica('fin-c');
    expect(c.app.finance.versions().map((v) => v.version)).toEqual([bundled.version, 'half']);
    expect(Number((await pgr.db.query('SELECT COUNT(*) AS n FROM price_books')).rows[0].n)).toBe(2);
  });

  it('closes a month under its hash, then refuses every ledger write dated in it', async () => {
    const [a, b] = [pgr.apps[0] as App, pgr.apps[1] as App];
    await ledgerRow(pgr.db, 'jan-1', JAN + 1000, 3_000);
    await ledgerRow(pgr.db, 'jan-2', FEB - 1, 4_000);
    await ledgerRow(pgr.db, 'feb-1', FEB, 5_000);
    const closed = await a.finance.closeMonth('2025-01', 'op');
    expect(closed.rows).toEqual([expect.objectContaining({ project: 'old', model: 'gpt-4o', cost_nusd: 7_000, calls: 2, input_tokens: 20, output_tokens: 10 })]);

    const refused = /ledger row dated in a closed month/;
    await expect(ledgerRow(pgr.db, 'jan-late', JAN + 5)).rejects.toThrow(refused);
    await expect(pgr.db.query("UPDATE ledger SET cost_nusd = 1 WHERE run_id = 'jan-1'")).rejects.toThrow(refused);
    await expect(pgr.db.query("UPDATE ledger SET created_at = $1 WHERE run_id = 'feb-1'", [JAN + 7])).rejects.toThrow(refused);
    await expect(pgr.db.query("DELETE FROM ledger WHERE run_id = 'jan-2'")).rejects.toThrow(refused);
    await ledgerRow(pgr.db, 'feb-2', FEB + 10); // the next month is still open

    // Closing again, or an earlier month, through the other replica: 409.
    await expect(b.finance.closeMonth('2025-01', 'op')).rejects.toMatchObject({ status: 409, code: 'month_closed' });
    await expect(b.finance.closeMonth('2024-12', 'op')).rejects.toMatchObject({ status: 409, code: 'month_order' });

    const checks = await b.finance.verifyClosed();
    expect(checks).toEqual([expect.objectContaining({ month: '2025-01', hash: closed.hash, chain_ok: true, ledger_ok: true })]);
    const listed = await b.finance.listClosed();
    expect(listed[0]).toMatchObject({ month: '2025-01', cost_nusd: 7_000 });
  });

  it('waits for a ledger write in flight, so the sealed totals include it and a later write is refused', async () => {
    const a = pgr.apps[0] as App;
    const writer = new pg.Client({ connectionString: pgr.server.url });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      await ledgerRow(writer, 'feb-inflight', FEB + 20, 11_000);
      let done = false;
      const closing = a.finance.closeMonth('2025-02', 'op').finally(() => (done = true));
      await new Promise((r) => setTimeout(r, 500));
      expect(done).toBe(false); // held by the uncommitted ledger write
      await writer.query('COMMIT');
      const closed = await closing;
      expect(closed.prev_hash).toBe((await a.finance.listClosed())[0]?.hash);
      // feb-1 (5,000) + feb-2 (1,000) + the write that was in flight (11,000)
      expect(closed.rows).toEqual([expect.objectContaining({ project: 'old', model: 'gpt-4o', cost_nusd: 17_000, calls: 3 })]);
      await expect(ledgerRow(writer, 'feb-after', FEB + 30)).rejects.toThrow(/ledger row dated in a closed month/);
    } finally {
      await writer.end();
    }
    expect((await a.finance.verifyClosed()).every((m) => m.chain_ok && m.ledger_ok)).toBe(true);
  });

  it('a closed month shows tampering (a row slipped in with the guard dropped) in verify', async () => {
    const a = pgr.apps[0] as App;
    await pgr.db.query('ALTER TABLE ledger DISABLE TRIGGER ledger_closed_month_guard');
    try {
      await ledgerRow(pgr.db, 'jan-tamper', JAN + 99, 500);
    } finally {
      await pgr.db.query('ALTER TABLE ledger ENABLE TRIGGER ledger_closed_month_guard');
    }
    const jan = (await a.finance.verifyClosed()).find((m) => m.month === '2025-01');
    expect(jan).toMatchObject({ chain_ok: true, ledger_ok: false });
    expect(jan?.differences).toEqual([expect.objectContaining({ closed_nusd: 7_000, ledger_nusd: 7_500, closed_calls: 2, ledger_calls: 3 })]);
  });
});
