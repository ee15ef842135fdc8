import fs from 'node:fs';
import { PriceBook, PriceBookError, type PriceQuote } from '../backend/pricebook.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { UserError } from '../errors.js';
import { getEntry, renderExpr } from '../queries/index.js';
import { rangeOf, requestedFromOf, type TimeWindow } from '../report/cost.js';

/**
 * What-if pricing and cache savings over recorded usage. Token counts come from the catalog
 * (`tokens.by_project_model`, VictoriaMetrics), actual spend from `cost.by_project`, so the
 * "actual" column is the same number `cost --by project` shows. Prices are whole nano-USD per
 * token, so every figure is an exact integer of nano-dollars until it is printed.
 */

export interface Usage {
  project: string;
  model: string;
  input: number;
  cached: number;
  output: number;
  reasoning: number;
}

async function usageOf(vm: VictoriaMetricsClient, window: TimeWindow, project: string | undefined): Promise<Usage[]> {
  const entry = getEntry('tokens.by_project_model');
  const samples = await vm.query(renderExpr(entry, { project, range: rangeOf(window) }), { time: window.to });
  const byKey = new Map<string, Usage>();
  for (const s of samples) {
    const p = s.metric.sagewai_project_id ?? '(none)';
    const m = s.metric.gen_ai_request_model ?? '(none)';
    const key = `${p}\u0000${m}`;
    const u = byKey.get(key) ?? { project: p, model: m, input: 0, cached: 0, output: 0, reasoning: 0 };
    const n = Math.round(s.value);
    if (s.metric.gen_ai_token_type === 'input') u.input += n;
    else if (s.metric.gen_ai_token_type === 'cached_input') u.cached += n;
    else if (s.metric.gen_ai_token_type === 'output') u.output += n;
    else if (s.metric.gen_ai_token_type === 'reasoning') u.reasoning += n;
    byKey.set(key, u);
  }
  return [...byKey.values()].filter((u) => u.input + u.cached + u.output + u.reasoning > 0);
}

async function actualByProject(vm: VictoriaMetricsClient, window: TimeWindow, project: string | undefined): Promise<Map<string, number>> {
  const samples = await vm.query(renderExpr(getEntry('cost.by_project'), { project, range: rangeOf(window) }), { time: window.to });
  return new Map(samples.map((s) => [s.metric.sagewai_project_id ?? '(none)', Math.round(s.value * 1e9)]));
}

/**
 * The usage at another price. Reasoning tokens are priced at the quote's reasoning rate (its output
 * rate when the book names none): a what-if model is assumed to spend the same tokens thinking.
 */
const priceOf = (q: PriceQuote, u: Pick<Usage, 'input' | 'cached' | 'output' | 'reasoning'>): number => PriceBook.costNusd(q, { input: u.input, cachedInput: u.cached, output: u.output, reasoning: u.reasoning });

/** Reads a price book file for a what-if, as a UserError naming the file and the field at fault. */
export function loadPriceBookFile(file: string): PriceBook {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read the price book ${file}: ${code ?? (err as Error).message}`, 'pass a JSON price book shaped like the bundled one (sagewai-obs serve uses assets/pricebook.json)');
  }
  try {
    return PriceBook.parse(text);
  } catch (err) {
    if (err instanceof PriceBookError) throw new UserError(`the price book is not valid: ${file}:${err.line}: ${err.reason}`, 'fix that line; prices have at most 3 decimals per million tokens');
    throw err;
  }
}

export interface PredictRow {
  project: string;
  actual_usd: number;
  actual_nusd: number;
  predicted_usd: number | null;
  predicted_nusd: number | null;
  /** predicted − actual; null when any usage could not be priced under the what-if. */
  difference_usd: number | null;
  /** Tokens the what-if has no price for (models missing from the other book). */
  unpriced_tokens: number;
}

export interface PredictResult {
  scenario: { as_model: string | null; price_book: string | null; price_book_version: string | null };
  from: string;
  to: string;
  /** Only when `--since` was moved to the whole hour: the start it asked for (as `cost` reports it). */
  requested_from?: string;
  project: string | null;
  rows: PredictRow[];
  total: Omit<PredictRow, 'project'>;
  source: string;
}

export interface PredictOptions {
  window: TimeWindow;
  project?: string | undefined;
  /** Price every call as this model instead. */
  asModel?: string | undefined;
  /** Price with this book instead of the current one. */
  book: PriceBook;
  bookFile?: string | undefined;
}

export async function predictCost(vm: VictoriaMetricsClient, opts: PredictOptions): Promise<PredictResult> {
  let asQuote: PriceQuote | undefined;
  if (opts.asModel !== undefined) {
    asQuote = opts.book.quote(opts.asModel);
    if (!asQuote.priced) {
      const known = opts.book.entries().map((e) => e.model);
      const near = known.filter((m) => m.includes(opts.asModel as string) || (opts.asModel as string).includes(m.split('-')[0] as string)).slice(0, 3);
      throw new UserError(`--as-model ${opts.asModel} has no price in the price book ${opts.book.version}`, near.length > 0 ? near.map((m) => `sagewai-obs cost predict --as-model ${m}`) : [`one of: ${known.join(', ')}`]);
    }
  }
  const [usage, actual] = await Promise.all([usageOf(vm, opts.window, opts.project), actualByProject(vm, opts.window, opts.project)]);
  const rows = new Map<string, PredictRow>();
  const row = (project: string): PredictRow => {
    let r = rows.get(project);
    if (!r) {
      const a = actual.get(project) ?? 0;
      r = { project, actual_usd: a / 1e9, actual_nusd: a, predicted_usd: 0, predicted_nusd: 0, difference_usd: null, unpriced_tokens: 0 };
      rows.set(project, r);
    }
    return r;
  };
  for (const project of actual.keys()) if ((actual.get(project) ?? 0) !== 0) row(project);
  for (const u of usage) {
    const r = row(u.project);
    const q = asQuote ?? opts.book.quote(u.model);
    if (!q.priced) r.unpriced_tokens += u.input + u.cached + u.output + u.reasoning;
    else r.predicted_nusd = (r.predicted_nusd ?? 0) + priceOf(q, u);
  }
  const list = [...rows.values()].map((r) => {
    const predicted = r.unpriced_tokens > 0 && r.predicted_nusd === 0 ? null : r.predicted_nusd;
    return { ...r, predicted_nusd: predicted, predicted_usd: predicted === null ? null : predicted / 1e9, difference_usd: predicted === null || r.unpriced_tokens > 0 ? null : (predicted - r.actual_nusd) / 1e9 };
  });
  list.sort((a, b) => b.actual_nusd - a.actual_nusd || a.project.localeCompare(b.project));
  const actualTotal = list.reduce((n, r) => n + r.actual_nusd, 0);
  const predictedTotal = list.reduce((n, r) => n + (r.predicted_nusd ?? 0), 0);
  const unpriced = list.reduce((n, r) => n + r.unpriced_tokens, 0);
  return {
    scenario: { as_model: asQuote ? asQuote.model : null, price_book: opts.bookFile ?? null, price_book_version: opts.book.version },
    from: opts.window.from.toISOString(),
    to: opts.window.to.toISOString(),
    ...requestedFromOf(opts.window),
    project: opts.project ?? null,
    rows: list,
    total: { actual_usd: actualTotal / 1e9, actual_nusd: actualTotal, predicted_usd: predictedTotal / 1e9, predicted_nusd: predictedTotal, difference_usd: unpriced > 0 ? null : (predictedTotal - actualTotal) / 1e9, unpriced_tokens: unpriced },
    source: vm.baseUrl,
  };
}

export interface SavingsRow {
  project: string;
  cached_input_tokens: number;
  /** What the cached tokens cost at the cached price. */
  cached_cost_usd: number;
  /** What they would have cost at the uncached input price. */
  uncached_cost_usd: number;
  saved_usd: number;
  /** saved ÷ (spend + saved): the share of the would-be bill that caching removed. Null without spend. */
  saved_share: number | null;
  /** Cached tokens of models without a price: their saving is unknown. */
  unpriced_cached_tokens: number;
}

export interface SavingsResult {
  from: string;
  to: string;
  /** Only when `--since` was moved to the whole hour: the start it asked for (as `cost` reports it). */
  requested_from?: string;
  project: string | null;
  price_book_version: string;
  rows: SavingsRow[];
  total: Omit<SavingsRow, 'project'>;
  source: string;
}

/** Cache savings concern input only: output and reasoning tokens have no cached price, so they do not enter here. */
export async function cacheSavings(vm: VictoriaMetricsClient, opts: { window: TimeWindow; project?: string | undefined; book: PriceBook }): Promise<SavingsResult> {
  const [usage, actual] = await Promise.all([usageOf(vm, opts.window, opts.project), actualByProject(vm, opts.window, opts.project)]);
  const acc = new Map<string, { tokens: number; cachedNusd: number; uncachedNusd: number; unpriced: number }>();
  for (const u of usage) {
    if (u.cached === 0) continue;
    const a = acc.get(u.project) ?? { tokens: 0, cachedNusd: 0, uncachedNusd: 0, unpriced: 0 };
    const q = opts.book.quote(u.model);
    if (!q.priced) a.unpriced += u.cached;
    else {
      a.tokens += u.cached;
      a.cachedNusd += u.cached * q.cachedInputNusd;
      a.uncachedNusd += u.cached * q.inputNusd;
    }
    acc.set(u.project, a);
  }
  const rows: SavingsRow[] = [...acc.entries()].map(([project, a]) => {
    const saved = a.uncachedNusd - a.cachedNusd;
    const spend = actual.get(project) ?? 0;
    return { project, cached_input_tokens: a.tokens, cached_cost_usd: a.cachedNusd / 1e9, uncached_cost_usd: a.uncachedNusd / 1e9, saved_usd: saved / 1e9, saved_share: spend + saved > 0 ? saved / (spend + saved) : null, unpriced_cached_tokens: a.unpriced };
  });
  rows.sort((a, b) => b.saved_usd - a.saved_usd || a.project.localeCompare(b.project));
  const sumN = (f: (r: SavingsRow) => number): number => Math.round(rows.reduce((n, r) => n + Math.round(f(r) * 1e9), 0)) / 1e9;
  const savedTotal = sumN((r) => r.saved_usd);
  const spendTotal = [...actual.values()].reduce((n, v) => n + v, 0) / 1e9;
  return {
    from: opts.window.from.toISOString(),
    to: opts.window.to.toISOString(),
    ...requestedFromOf(opts.window),
    project: opts.project ?? null,
    price_book_version: opts.book.version,
    rows,
    total: { cached_input_tokens: rows.reduce((n, r) => n + r.cached_input_tokens, 0), cached_cost_usd: sumN((r) => r.cached_cost_usd), uncached_cost_usd: sumN((r) => r.uncached_cost_usd), saved_usd: savedTotal, saved_share: spendTotal + savedTotal > 0 ? savedTotal / (spendTotal + savedTotal) : null, unpriced_cached_tokens: rows.reduce((n, r) => n + r.unpriced_cached_tokens, 0) },
    source: vm.baseUrl,
  };
}
