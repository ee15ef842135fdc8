import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { assetsDir } from '../paths.js';
import { JsonSyntaxError, parseJsonWithLines } from './json-lines.js';

/**
 * A price book (assets/pricebook.json, or a file given to `prices import` / `serve --price-book`).
 * Lookup is exact — a model id or an explicit alias — never a prefix match; `ollama/…` and
 * `lmstudio/…` are free because their provider is declared local. Anything else is unpriced
 * (cost 0, priced=false), never guessed.
 *
 * History inside a book: a model may be listed more than once, each entry with its own
 * `effective_from` (and optionally `effective_to`, exclusive); `quote(model, at)` picks the entry
 * in effect at `at`. A book with one entry per model (the bundled one) prices as it always did.
 * History across books is PriceHistory (price-history.ts): each book takes effect at its own
 * `effective_from`, never before.
 */

/** Costs are kept in integer nano-USD; other currencies would need a rate the ledger does not keep. */
export const CURRENCIES = ['USD'] as const;

const price = z.number().nonnegative();
const date = z.string().min(1);

const entrySchema = z.object({
  provider: z.string().min(1),
  model: z.string().min(1),
  input: price,
  cached_input: price,
  output: price,
  /**
   * Reasoning (thinking) tokens, USD per million. Absent: the output price, which is how OpenAI,
   * Google and Anthropic bill them today; so a book written before reasoning was a token type
   * prices the same.
   */
  reasoning: price.optional(),
  effective_from: date,
  effective_to: date.optional(),
  currency: z.string().optional(),
  source: z.string(),
});

const bookSchema = z.object({
  version: z.string().min(1),
  effective_from: date,
  currency: z.string().default('USD'),
  local_providers: z.array(z.string()).default([]),
  entries: z.array(entrySchema),
  aliases: z.record(z.string()).default({}),
});

export type PriceEntry = z.infer<typeof entrySchema>;

export interface PriceQuote {
  priced: boolean;
  provider: string;
  /** The canonical model id (alias resolved). */
  model: string;
  /** nano-USD per token. */
  inputNusd: number;
  cachedInputNusd: number;
  outputNusd: number;
  /** The entry's reasoning price, or its output price when the entry names none. */
  reasoningNusd: number;
  version: string;
}

/**
 * The four token types; disjoint, so they add up to the call's tokens: `input` is the prompt
 * without its cached part, `output` the visible answer without the reasoning tokens (OpenAI counts
 * reasoning inside completion_tokens; the ledger keeps them apart so they are priced once).
 */
export interface TokenCounts {
  input: number;
  cachedInput: number;
  output: number;
  reasoning: number;
}

/** A book that cannot be loaded; `line` is the line of the file at fault (1 when not from a file). */
export class PriceBookError extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'PriceBookError';
  }
}

/** `2026-12-01` (UTC midnight) or a full ISO time with a zone; anything else is refused. */
export function parseEffective(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) return undefined;
  const t = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
  return Number.isNaN(t) ? undefined : t;
}

/** More than three decimals per million tokens would not be a whole number of nano-USD per token. */
function decimalsOk(v: number): boolean {
  return Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-6;
}

interface Timed {
  entry: PriceEntry;
  from: number;
  to: number;
}

export class PriceBook {
  readonly version: string;
  /** The book's own effective time as written (ISO date or time). */
  readonly effectiveFrom: string;
  readonly effectiveFromMs: number;
  private readonly byModel = new Map<string, Timed[]>();
  private readonly aliases: Record<string, string>;
  private readonly local: Set<string>;
  /** The book as given, for storing it with the history. */
  readonly raw: unknown;
  /** Where each JSON path started in the file the book came from (1 when not from a file). */
  readonly lineOf: (path: ReadonlyArray<string | number>) => number;

  /**
   * @param lineOf where each JSON path starts in the file (parseJsonWithLines), for line-precise errors.
   */
  constructor(raw: unknown, lineOf: (path: ReadonlyArray<string | number>) => number = () => 1) {
    const parsed = bookSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new PriceBookError(lineOf(issue.path), `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    }
    const book = parsed.data;
    this.raw = raw;
    this.lineOf = lineOf;
    this.version = book.version;
    this.effectiveFrom = book.effective_from;
    const bookFrom = parseEffective(book.effective_from);
    if (bookFrom === undefined) throw new PriceBookError(lineOf(['effective_from']), `effective_from ${JSON.stringify(book.effective_from)} is not a date (YYYY-MM-DD) or an ISO time with a zone`);
    this.effectiveFromMs = bookFrom;
    if (!(CURRENCIES as readonly string[]).includes(book.currency)) throw new PriceBookError(lineOf(['currency']), `unknown currency ${JSON.stringify(book.currency)}: prices are in ${CURRENCIES.join(', ')}`);
    book.entries.forEach((e, n) => {
      const at = (field: string): number => lineOf(['entries', n, field]);
      if (e.currency !== undefined && e.currency !== book.currency) throw new PriceBookError(at('currency'), `unknown currency ${JSON.stringify(e.currency)} for ${e.model}: prices are in ${book.currency}`);
      for (const field of ['input', 'cached_input', 'output', 'reasoning'] as const) {
        const v = e[field];
        if (v !== undefined && !decimalsOk(v)) throw new PriceBookError(at(field), `${e.model} ${field} price ${e[field]} has more than three decimals (USD per million tokens)`);
      }
      const from = parseEffective(e.effective_from);
      if (from === undefined) throw new PriceBookError(at('effective_from'), `${e.model} effective_from ${JSON.stringify(e.effective_from)} is not a date (YYYY-MM-DD) or an ISO time with a zone`);
      const to = e.effective_to === undefined ? Number.POSITIVE_INFINITY : parseEffective(e.effective_to);
      if (to === undefined) throw new PriceBookError(at('effective_to'), `${e.model} effective_to ${JSON.stringify(e.effective_to)} is not a date (YYYY-MM-DD) or an ISO time with a zone`);
      if (to <= from) throw new PriceBookError(at('effective_to'), `${e.model} effective_to ${e.effective_to} is not after its effective_from ${e.effective_from}`);
      const list = this.byModel.get(e.model) ?? [];
      for (const other of list) {
        if (other.from === from) throw new PriceBookError(lineOf(['entries', n]), `${e.model} is priced twice for ${e.effective_from} (again after the entry at line ${lineOf(['entries', book.entries.indexOf(other.entry)])})`);
      }
      list.push({ entry: e, from, to });
      list.sort((a, b) => a.from - b.from);
      this.byModel.set(e.model, list);
      // An entry without effective_to ends where the next one starts; an explicit end must not run into the next.
      for (let k = 0; k + 1 < list.length; k++) {
        const a = list[k]!;
        const b = list[k + 1]!;
        if (Number.isFinite(a.to) && a.to > b.from) {
          const other = a.entry === e ? b.entry : a.entry;
          throw new PriceBookError(lineOf(['entries', n]), `${e.model}: the dates of this entry (${e.effective_from}..${e.effective_to ?? ''}) overlap those of the entry at line ${lineOf(['entries', book.entries.indexOf(other)])} (${other.effective_from}..${other.effective_to ?? ''})`);
        }
      }
    });
    this.aliases = book.aliases;
    for (const [alias, target] of Object.entries(this.aliases)) {
      if (!this.byModel.has(target)) throw new PriceBookError(lineOf(['aliases', alias]), `price book alias ${alias} points at unknown model ${target}`);
    }
    this.local = new Set(book.local_providers);
  }

  static load(file = path.join(assetsDir(), 'pricebook.json')): PriceBook {
    return PriceBook.parse(fs.readFileSync(file, 'utf8'));
  }

  /** A book from the text of a file: a syntax or content error is a PriceBookError with its line. */
  static parse(text: string): PriceBook {
    let doc;
    try {
      doc = parseJsonWithLines(text);
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw new PriceBookError(err.line, `not JSON: ${err.message.replace(/^line \d+, /, '')}`);
      throw err;
    }
    return new PriceBook(doc.value, doc.lineOf);
  }

  /** The entries in effect at `at` (default: now), one per model — the shape a book without history has. */
  entries(at = Date.now()): PriceEntry[] {
    const out: PriceEntry[] = [];
    for (const list of this.byModel.values()) {
      const t = pick(list, at);
      if (t) out.push(t.entry);
    }
    return out;
  }

  /**
   * Per model, when each of its entries is in effect, as `quote(model, at)` decides: an entry runs
   * from its effective_from until its effective_to or the next entry's start, whichever is first;
   * before the first entry, only an open-ended first entry applies. Bounds in epoch ms, null = open.
   * Generated pricing elsewhere (the collector's, docs/genai.md) follows the same windows.
   */
  priceWindows(): Array<{ model: string; entry: PriceEntry; fromMs: number | null; toMs: number | null }> {
    const out: Array<{ model: string; entry: PriceEntry; fromMs: number | null; toMs: number | null }> = [];
    for (const [model, list] of this.byModel) {
      list.forEach((t, k) => {
        const next = list[k + 1];
        const end = Math.min(t.to, next ? next.from : Number.POSITIVE_INFINITY);
        out.push({ model, entry: t.entry, fromMs: k === 0 && !Number.isFinite(t.to) ? null : t.from, toMs: Number.isFinite(end) ? end : null });
      });
    }
    return out;
  }

  /** Every entry, history included. */
  allEntries(): PriceEntry[] {
    return [...this.byModel.values()].flat().map((t) => t.entry);
  }

  /** The price of a model in effect at `at` (epoch ms; default now). */
  quote(modelId: string, at = Date.now()): PriceQuote {
    const slash = modelId.indexOf('/');
    const ns = slash > 0 ? modelId.slice(0, slash) : undefined;
    if (ns !== undefined && this.local.has(ns)) {
      return { priced: true, provider: ns, model: modelId, inputNusd: 0, cachedInputNusd: 0, outputNusd: 0, reasoningNusd: 0, version: this.version };
    }
    const canonical = this.byModel.has(modelId) ? modelId : this.aliases[modelId];
    const list = canonical !== undefined ? this.byModel.get(canonical) : undefined;
    const e = list ? pick(list, at)?.entry : undefined;
    if (!e) {
      const known = list?.[0]?.entry;
      return { priced: false, provider: known?.provider ?? ns ?? 'unknown', model: known?.model ?? modelId, inputNusd: 0, cachedInputNusd: 0, outputNusd: 0, reasoningNusd: 0, version: this.version };
    }
    return {
      priced: true,
      provider: e.provider,
      model: e.model,
      inputNusd: Math.round(e.input * 1000),
      cachedInputNusd: Math.round(e.cached_input * 1000),
      outputNusd: Math.round(e.output * 1000),
      reasoningNusd: Math.round((e.reasoning ?? e.output) * 1000),
      version: this.version,
    };
  }

  /** Integer nano-USD for a call. */
  static costNusd(q: PriceQuote, t: TokenCounts): number {
    return t.input * q.inputNusd + t.cachedInput * q.cachedInputNusd + t.output * q.outputNusd + t.reasoning * q.reasoningNusd;
  }

  /**
   * The most a call of `completion` tokens can cost: a provider's completion budget (max tokens)
   * bounds output and reasoning together, so every one of them is priced at the dearer rate.
   */
  static worstCaseNusd(q: PriceQuote, t: Omit<TokenCounts, 'output' | 'reasoning'> & { completion: number }): number {
    return t.input * q.inputNusd + t.cachedInput * q.cachedInputNusd + t.completion * Math.max(q.outputNusd, q.reasoningNusd);
  }
}

/**
 * The entry in effect at `at`: the latest that started at or before it and has not ended. Before
 * a model's first entry a bundled book still prices it at that entry (the list price as first
 * published), so a book without history prices every time the same.
 */
function pick(list: Timed[], at: number): Timed | undefined {
  let found: Timed | undefined;
  for (const t of list) if (t.from <= at) found = t;
  if (!found) {
    const first = list[0];
    return first && !Number.isFinite(first.to) ? first : undefined;
  }
  return at < found.to ? found : undefined;
}
