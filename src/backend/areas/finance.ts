import crypto from 'node:crypto';
import { operations } from '../../contract/operations.js';
import { audit } from '../audit.js';
import { HttpError, validate } from '../http.js';
import type { LedgerMetrics } from '../ledger-metrics.js';
import { PriceHistory } from '../price-history.js';
import { PriceBook, PriceBookError } from '../pricebook.js';
import { actor, bind, type RouteBinding } from '../routing.js';
import type { Awaitable, Db, Prepare } from '../store.js';
import type { Tenancy } from './projects.js';

/**
 * Money over time: the price-book history (which book priced which call) and closed months (a
 * month's ledger totals per project × model, frozen under a hash chain). The ledger refuses rows
 * dated inside a closed month (migration 3 in migrations.ts, on both engines), so a closed month can only change by
 * tampering with the database, and `verify` / `cost close --verify` find that.
 */
export interface StoredBook {
  version: string;
  effective_from: number;
  body: string;
  imported_at: number;
}

export interface MonthTotal {
  project: string;
  model: string;
  cost_nusd: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  /** Absent in months closed before reasoning was a token type (it was 0 for all of them). */
  reasoning_tokens?: number;
  calls: number;
}

export interface ClosedMonthRow {
  month: string;
  start_at: number;
  end_at: number;
  totals: string;
  prev_hash: string;
  hash: string;
  closed_at: number;
}

export interface FinanceStore {
  books(): Awaitable<StoredBook[]>;
  /** Adds a book; false when its version or effective time is already taken (another replica won). */
  addBook(b: StoredBook): Awaitable<boolean>;
  /** Ledger totals per project × model for created_at in [start, end). */
  monthTotals(start: number, end: number): Awaitable<MonthTotal[]>;
  closedMonths(): Awaitable<ClosedMonthRow[]>;
  /**
   * One transaction: the month's ledger totals are read and stored with the hash made by `seal`
   * from them and the latest closed month's hash. A PostgreSQL store must take the same lock the
   * ledger's writers take (or run SERIALIZABLE) so no row lands between the read and the insert.
   */
  closeMonth(month: string, start: number, end: number, now: number, seal: (totals: MonthTotal[], prevHash: string) => string): Awaitable<ClosedMonthRow>;
}

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The hash of a closed month: its name, its totals (sorted, canonical JSON) and the previous month's
 * hash. Reasoning tokens join a row only when there are some, so every month sealed before they
 * were counted (none then) keeps the hash it was sealed with.
 */
export function monthHash(month: string, totals: MonthTotal[], prevHash: string): string {
  const rows = [...totals]
    .sort((a, b) => a.project.localeCompare(b.project) || a.model.localeCompare(b.model))
    .map((t) => [t.project, t.model, t.cost_nusd, t.input_tokens, t.cached_input_tokens, t.output_tokens, t.calls, ...(t.reasoning_tokens ? [t.reasoning_tokens] : [])]);
  return crypto.createHash('sha256').update(`${prevHash}\n${month}\n${JSON.stringify(rows)}`).digest('hex');
}

export function monthRange(month: string): { start: number; end: number } | undefined {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]) - 1;
  return { start: Date.UTC(y, mo, 1), end: Date.UTC(y, mo + 1, 1) };
}

export class SqliteFinanceStore implements FinanceStore {
  constructor(private readonly db: Db, private readonly sql: Prepare) {}

  books(): StoredBook[] {
    return this.sql<[], StoredBook>('SELECT version, effective_from, body, imported_at FROM price_books ORDER BY effective_from').all();
  }

  addBook(b: StoredBook): boolean {
    return this.sql('INSERT INTO price_books (version, effective_from, body, imported_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(b.version, b.effective_from, b.body, b.imported_at).changes === 1;
  }

  monthTotals(start: number, end: number): MonthTotal[] {
    return this.sql<[number, number], MonthTotal>(
      'SELECT project, model, SUM(cost_nusd) AS cost_nusd, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens, SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens, COUNT(*) AS calls FROM ledger WHERE created_at >= ? AND created_at < ? GROUP BY project, model ORDER BY project, model',
    ).all(start, end);
  }

  closedMonths(): ClosedMonthRow[] {
    return this.sql<[], ClosedMonthRow>('SELECT * FROM closed_months ORDER BY start_at').all();
  }

  closeMonth(month: string, start: number, end: number, now: number, seal: (totals: MonthTotal[], prevHash: string) => string): ClosedMonthRow {
    return this.db.transaction(() => {
      const last = this.sql<[], { hash: string }>('SELECT hash FROM closed_months ORDER BY start_at DESC LIMIT 1').get();
      const prev = last?.hash ?? GENESIS_HASH;
      const totals = this.monthTotals(start, end);
      const row: ClosedMonthRow = { month, start_at: start, end_at: end, totals: JSON.stringify(totals), prev_hash: prev, hash: seal(totals, prev), closed_at: now };
      this.sql('INSERT INTO closed_months (month, start_at, end_at, totals, prev_hash, hash, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(row.month, row.start_at, row.end_at, row.totals, row.prev_hash, row.hash, row.closed_at);
      return row;
    }).immediate();
  }
}

const usd = (nusd: number): number => nusd / 1e9;
const iso = (ms: number): string => new Date(ms).toISOString();

export interface MonthCheck {
  month: string;
  hash: string;
  /** The stored totals still hash to the stored hash, and prev_hash is the previous month's hash. */
  chain_ok: boolean;
  /** The ledger's totals for the month today equal the stored ones. */
  ledger_ok: boolean;
  differences: Array<{ project: string; model: string; closed_nusd: number; ledger_nusd: number; closed_calls: number; ledger_calls: number }>;
}

export class Finance {
  constructor(
    readonly store: FinanceStore,
    readonly history: PriceHistory,
    private readonly metrics: LedgerMetrics,
  ) {}

  /**
   * The history to open with: the stored books, plus the start-up book when its version is new (the
   * first book of a data dir covers all time before it; a later one takes effect from now, or
   * from its own effective_from when that is later).
   */
  static planHistory(stored: StoredBook[], startup: PriceBook, now: number): { history: PriceHistory; toStore?: StoredBook } {
    const row = (from: number): StoredBook => ({ version: startup.version, effective_from: from, body: JSON.stringify(startup.raw), imported_at: now });
    if (stored.length === 0) return { history: new PriceHistory([{ book: startup, from: startup.effectiveFromMs }]), toStore: row(startup.effectiveFromMs) };
    const history = new PriceHistory(stored.map((b) => ({ book: new PriceBook(JSON.parse(b.body)), from: b.effective_from })));
    if (history.has(startup.version)) return { history };
    const from = Math.max(now, startup.effectiveFromMs);
    const refusal = history.refusal(startup, from, now, startup.lineOf);
    if (refusal) throw refusal;
    history.add({ book: startup, from });
    return { history, toStore: row(from) };
  }

  /**
   * planHistory against a store shared by several replicas, into `into`: when two replicas start
   * with the same new book at once, one stores it and the other re-reads the stored books.
   */
  static async openHistory(store: FinanceStore, stored: StoredBook[], startup: PriceBook, into: PriceHistory): Promise<void> {
    let plan = Finance.planHistory(stored, startup, Date.now());
    if (plan.toStore && !(await store.addBook(plan.toStore))) {
      plan = Finance.planHistory(await store.books(), startup, Date.now());
      if (plan.toStore && !(await store.addBook(plan.toStore))) throw new Error(`the price book ${startup.version} could not be stored: another replica stored a conflicting book at the same time; start again`);
    }
    into.replaceWith(plan.history.list());
  }

  /**
   * Books another replica imported since this one last looked (a store shared by several
   * replicas): added to this replica's history, their series born at 0. Returns how many.
   */
  async refresh(): Promise<number> {
    let n = 0;
    for (const b of await this.store.books()) {
      if (this.history.has(b.version)) continue;
      const book = new PriceBook(JSON.parse(b.body));
      this.history.add({ book, from: b.effective_from });
      this.metrics.newBook(book, b.effective_from);
      n += 1;
    }
    return n;
  }

  versions(): Array<{ version: string; effective_from: string; active: boolean; models: number }> {
    const now = Date.now();
    const current = this.history.bookAt(now);
    return this.history.list().map((b) => ({ version: b.book.version, effective_from: iso(b.from), active: b.book === current, models: b.book.entries(Math.max(now, b.from)).length }));
  }

  /** Import a book from its file text; it takes effect at its own effective_from, which must be now or later. */
  async importBook(text: string, by: string): Promise<{ version: string; effective_from: string }> {
    const now = Date.now();
    let book: PriceBook;
    try {
      book = PriceBook.parse(text);
    } catch (err) {
      if (err instanceof PriceBookError) throw new HttpError(422, 'invalid_price_book', err.message, { line: err.line });
      throw err;
    }
    await this.refresh(); // a book another replica imported meanwhile
    const from = book.effectiveFromMs;
    const refusal = this.history.refusal(book, from, now, book.lineOf);
    if (refusal) throw new HttpError(409, 'price_book_conflict', refusal.message, { line: refusal.line });
    for (const m of await this.store.closedMonths()) {
      if (from < m.end_at) throw new HttpError(409, 'month_closed', `line ${book.lineOf(['effective_from'])}: effective_from ${book.effectiveFrom} falls in or before the closed month ${m.month}`, { line: book.lineOf(['effective_from']) });
    }
    if (!(await this.store.addBook({ version: book.version, effective_from: from, body: JSON.stringify(book.raw), imported_at: now }))) {
      throw new HttpError(409, 'price_book_conflict', `a book with version ${book.version} or the same effective time was imported meanwhile`, { line: book.lineOf(['version']) });
    }
    // The periodic refresh (shared stores) may have picked the stored book up already.
    if (!this.history.has(book.version)) {
      this.history.add({ book, from });
      this.metrics.newBook(book, from);
    }
    audit('pricing.book.imported', undefined, by, { 'sagewai.pricebook.version': book.version, 'sagewai.pricebook.effective_from': iso(from) });
    return { version: book.version, effective_from: iso(from) };
  }

  async closeMonth(month: string, by: string): Promise<{ month: string; hash: string; prev_hash: string; rows: Array<MonthTotal & { cost_usd: number }> }> {
    const range = monthRange(month);
    if (!range) throw new HttpError(422, 'invalid_month', `month ${JSON.stringify(month)} is not YYYY-MM`);
    const now = Date.now();
    if (range.end > now) throw new HttpError(409, 'month_open', `${month} is not over yet (it ends ${iso(range.end)})`);
    const closed = await this.store.closedMonths();
    if (closed.some((m) => m.month === month)) throw new HttpError(409, 'month_closed', `${month} is already closed`);
    const last = closed[closed.length - 1];
    if (last && range.start < last.end_at) throw new HttpError(409, 'month_order', `${month} is before the last closed month ${last.month}; months close in order so each hash covers the one before`);
    const row = await this.store.closeMonth(month, range.start, range.end, now, (totals, prev) => monthHash(month, totals, prev));
    audit('finance.month.closed', undefined, by, { 'sagewai.finance.month': month, 'sagewai.finance.hash': row.hash });
    const rows = (JSON.parse(row.totals) as MonthTotal[]).map((t) => ({ ...t, cost_usd: usd(t.cost_nusd) }));
    return { month, hash: row.hash, prev_hash: row.prev_hash, rows };
  }

  async listClosed(): Promise<Array<{ month: string; hash: string; prev_hash: string; closed_at: string; cost_usd: number; cost_nusd: number; rows: MonthTotal[] }>> {
    return (await this.store.closedMonths()).map((m) => {
      const rows = JSON.parse(m.totals) as MonthTotal[];
      const nusd = rows.reduce((n, r) => n + r.cost_nusd, 0);
      return { month: m.month, hash: m.hash, prev_hash: m.prev_hash, closed_at: iso(m.closed_at), cost_usd: usd(nusd), cost_nusd: nusd, rows };
    });
  }

  /** Every closed month against its own hash, the chain, and the ledger as it is now. */
  async verifyClosed(): Promise<MonthCheck[]> {
    const out: MonthCheck[] = [];
    let prev = GENESIS_HASH;
    for (const m of await this.store.closedMonths()) {
      const stored = JSON.parse(m.totals) as MonthTotal[];
      const chainOk = m.prev_hash === prev && monthHash(m.month, stored, m.prev_hash) === m.hash;
      const now = await this.store.monthTotals(m.start_at, m.end_at);
      const key = (t: MonthTotal): string => `${t.project}\u0000${t.model}`;
      const a = new Map(stored.map((t) => [key(t), t]));
      const b = new Map(now.map((t) => [key(t), t]));
      const differences: MonthCheck['differences'] = [];
      for (const k of new Set([...a.keys(), ...b.keys()])) {
        const x = a.get(k);
        const y = b.get(k);
        const same = x && y && x.cost_nusd === y.cost_nusd && x.calls === y.calls && x.input_tokens === y.input_tokens && x.cached_input_tokens === y.cached_input_tokens && x.output_tokens === y.output_tokens && (x.reasoning_tokens ?? 0) === (y.reasoning_tokens ?? 0);
        if (!same) differences.push({ project: (x ?? y)!.project, model: (x ?? y)!.model, closed_nusd: x?.cost_nusd ?? 0, ledger_nusd: y?.cost_nusd ?? 0, closed_calls: x?.calls ?? 0, ledger_calls: y?.calls ?? 0 });
      }
      out.push({ month: m.month, hash: m.hash, chain_ok: chainOk, ledger_ok: differences.length === 0, differences });
      prev = m.hash;
    }
    return out;
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    const ops = operations;
    return [
      bind(ops.listPriceBooks, () => ({ status: 200, body: { items: this.versions() } })),
      bind(ops.importPriceBook, async (ctx) => {
        tenancy.requireUnscoped(ctx);
        const input = validate(ops.importPriceBook.body, await ctx.body());
        return { status: 201, body: await this.importBook(input.text, actor(ctx)) };
      }),
      bind(ops.listClosedMonths, async (ctx) => {
        tenancy.requireUnscoped(ctx);
        return { status: 200, body: { items: await this.listClosed() } };
      }),
      bind(ops.closeMonth, async (ctx) => {
        tenancy.requireUnscoped(ctx);
        const input = validate(ops.closeMonth.body, await ctx.body());
        return { status: 201, body: await this.closeMonth(input.month, actor(ctx)) };
      }),
      bind(ops.verifyClosedMonths, async (ctx) => {
        tenancy.requireUnscoped(ctx);
        return { status: 200, body: { items: await this.verifyClosed() } };
      }),
    ];
  }
}
