import type { PriceBook } from '../backend/pricebook.js';
import { VictoriaMetricsClient, type InstantSample } from '../clients/victoria-metrics.js';
import { UserError } from '../errors.js';
import { COST_DIMENSIONS, getEntry, renderExpr, type CostDimension } from '../queries/index.js';
import { parseDuration } from '../settings.js';
import { queryRecorded, type RecordedSpan } from './cost-recorded.js';

/**
 * The finance report: spend, tokens and calls per group over a window, read from VictoriaMetrics
 * through the catalog's cost queries (exact counter increases evaluated at `to`, window = to − from).
 */

export interface CostRow {
  /** project slug, model id, `project/agent`, or token type. */
  group: string;
  labels: Record<string, string>;
  /** USD of the priced usage (rounded to the nano-dollar). Unpriced usage is counted apart, never as $0. */
  cost_usd: number;
  /** Share of the report's total cost, 0..1; null when the total is 0. */
  share: number | null;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
  /** Reasoning (thinking) tokens; not part of output_tokens. */
  reasoning_tokens: number;
  /** LLM calls; null for --by token-type (a call has every token type). */
  calls: number | null;
  /** Calls whose model had no price: their cost is unknown. Null for --by token-type. */
  unpriced_calls: number | null;
  /** --by token-type only: tokens of models without a price, not included in cost_usd. */
  unpriced_tokens?: number;
}

export interface CostReport {
  by: CostDimension;
  from: string;
  to: string;
  project: string | null;
  currency: 'USD';
  source: string;
  /** Catalog ids of the queries the numbers came from. */
  queries: string[];
  /** The whole hours summed from the hourly recording rules (the rest from the raw counters), or null when every number came from the raw counters. */
  recorded: RecordedSpan | null;
  /** Only when `--since` was moved to the whole hour (a day or more): the start it asked for; `from` is the whole hour at or before it. */
  requested_from?: string;
  rows: CostRow[];
  total: Omit<CostRow, 'group' | 'labels' | 'share'>;
}

export interface TimeWindow {
  from: Date;
  to: Date;
  /** Set when `from` was moved back to the whole hour (resolveWindow's `hourAligned`): the start `--since` asked for. */
  requestedFrom?: Date;
}

/** A report's `requested_from`: the start `--since` asked for, only when the window moved it to the whole hour. */
export function requestedFromOf(window: TimeWindow): { requested_from?: string } {
  return window.requestedFrom ? { requested_from: window.requestedFrom.toISOString() } : {};
}

export const COST_BY = Object.keys(COST_DIMENSIONS) as CostDimension[];

const HOUR_MS = 3_600_000;
/** A `--since` window this long or longer starts on a whole hour when the caller asks for it (the cost reports). */
const HOUR_ALIGNED_SINCE_MS = 86_400_000;

/**
 * --since or --from/--to → a checked window. With `hourAligned` (the cost reports), a `--since` of
 * a day or more starts on the whole UTC hour at or before `to − since`: such a window is read from
 * the hourly recording rules with no raw edge at its start (an edge there has to decode every raw
 * series' old blocks, most of a long report's time), and it still covers at least what was asked.
 * `--from` is always taken as given.
 */
export function resolveWindow(
  opts: { since?: string | undefined; from?: string | undefined; to?: string | undefined; now?: Date; hourAligned?: boolean },
  defaultSince = '24h',
): TimeWindow {
  const now = opts.now ?? new Date();
  const parseTime = (flag: string, raw: string): Date => {
    const d = /^\d+$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
    if (Number.isNaN(d.getTime())) throw new UserError(`cannot parse --${flag} ${JSON.stringify(raw)}`, 'use an ISO time such as 2026-11-26T17:00:00Z, or unix seconds');
    return d;
  };
  if (opts.since !== undefined && opts.from !== undefined) throw new UserError('--since and --from cannot be combined', 'use either --since 24h or --from … [--to …]');
  const to = opts.to !== undefined ? parseTime('to', opts.to) : now;
  const from = opts.from !== undefined ? parseTime('from', opts.from) : new Date(to.getTime() - parseDuration(opts.since ?? defaultSince));
  if (from.getTime() >= to.getTime()) {
    throw new UserError(`the time range is empty or inverted: from ${from.toISOString()} is not before to ${to.toISOString()}`, 'put --from before --to, or use --since with a positive duration');
  }
  if (opts.from === undefined && opts.hourAligned === true && to.getTime() - from.getTime() >= HOUR_ALIGNED_SINCE_MS && from.getTime() % HOUR_MS !== 0) {
    return { from: new Date(Math.floor(from.getTime() / HOUR_MS) * HOUR_MS), to, requestedFrom: from };
  }
  return { from, to };
}

/** The window as a MetricsQL duration: whole seconds when it is, else milliseconds (MetricsQL takes both), so the range starts exactly at `from`. */
export function rangeOf(w: TimeWindow): string {
  const ms = w.to.getTime() - w.from.getTime();
  return ms > 0 && ms % 1000 !== 0 ? `${ms}ms` : `${Math.max(1, ms / 1000)}s`;
}

const nano = (v: number): number => Math.round(v * 1e9) / 1e9;

function groupKey(labels: readonly string[], metric: Record<string, string>): string {
  return labels.map((l) => metric[l] ?? '(none)').join('/');
}

export interface CostReportOptions {
  by: CostDimension;
  window: TimeWindow;
  project?: string | undefined;
  /** Unused since spend by token type has its own counter; kept so callers that pass a book still compile. */
  priceBook?: PriceBook;
  /** Read whole hours from the hourly recording rules when they cover them (default true); false = raw counters only. */
  recorded?: boolean;
}

export async function buildCostReport(vm: VictoriaMetricsClient, opts: CostReportOptions): Promise<CostReport> {
  const labels = COST_DIMENSIONS[opts.by];
  const render = { project: opts.project, range: rangeOf(opts.window) };
  const at = { time: opts.window.to };
  const rows = new Map<string, CostRow>();
  const row = (metric: Record<string, string>): CostRow => {
    const key = groupKey(labels, metric);
    let r = rows.get(key);
    if (!r) {
      const l: Record<string, string> = {};
      for (const name of labels) l[name] = metric[name] ?? '';
      r = { group: key, labels: l, cost_usd: 0, share: null, input_tokens: 0, output_tokens: 0, cached_input_tokens: 0, reasoning_tokens: 0, calls: 0, unpriced_calls: 0 };
      rows.set(key, r);
    }
    return r;
  };
  const addTokens = (r: CostRow, type: string | undefined, n: number): void => {
    if (type === 'input') r.input_tokens += n;
    else if (type === 'output') r.output_tokens += n;
    else if (type === 'cached_input') r.cached_input_tokens += n;
    else if (type === 'reasoning') r.reasoning_tokens += n;
  };

  const key = opts.by.replace('-', '_');
  const entries = opts.by === 'token-type' ? [getEntry('cost.by_token_type'), getEntry('tokens.by_token_type'), getEntry('tokens.unpriced_by_token_type')] : [getEntry(`cost.by_${key}`), getEntry(`tokens.by_${key}`), getEntry(`calls.by_${key}`)];
  // The raw queries read exactly the window (rangeOf); the recorded path splits the same one.
  const fast = opts.recorded !== false ? await queryRecorded(vm, entries, opts.window, opts.project) : null;
  const results = fast?.results ?? (await Promise.all(entries.map((e) => vm.query(renderExpr(e, render), at))));
  const recorded: RecordedSpan | null = fast?.span ?? null;

  let queries: string[];
  if (opts.by === 'token-type') {
    // Spend per type from the ledger-backed per-type counter: each call at the price it was charged.
    queries = entries.map((e) => e.id);
    const [c, t, u] = results as [InstantSample[], InstantSample[], InstantSample[]];
    const typed = (metric: Record<string, string>): CostRow => {
      const r = row(metric);
      r.calls = null;
      r.unpriced_calls = null;
      r.unpriced_tokens ??= 0;
      return r;
    };
    for (const s of c) typed(s.metric).cost_usd += s.value;
    for (const s of t) addTokens(typed(s.metric), s.metric.gen_ai_token_type, Math.round(s.value));
    for (const s of u) typed(s.metric).unpriced_tokens! += Math.round(s.value);
  } else {
    queries = entries.map((e) => e.id);
    const [c, t, k] = results as [InstantSample[], InstantSample[], InstantSample[]];
    for (const s of c) row(s.metric).cost_usd += s.value;
    for (const s of t) addTokens(row(s.metric), s.metric.gen_ai_token_type, Math.round(s.value));
    for (const s of k) {
      const r = row(s.metric);
      const n = Math.round(s.value);
      r.calls = (r.calls ?? 0) + n;
      if (s.metric.sagewai_priced === 'false') r.unpriced_calls = (r.unpriced_calls ?? 0) + n;
    }
  }

  // A series that did not move in the window (an agent created but idle) is not usage.
  const list = [...rows.values()]
    .map((r) => ({ ...r, cost_usd: nano(r.cost_usd) }))
    .filter((r) => r.cost_usd !== 0 || (r.calls ?? 0) > 0 || r.input_tokens + r.output_tokens + r.cached_input_tokens + r.reasoning_tokens > 0);
  const totalCost = nano(list.reduce((n, r) => n + r.cost_usd, 0));
  for (const r of list) r.share = totalCost > 0 ? r.cost_usd / totalCost : null;
  list.sort((a, b) => b.cost_usd - a.cost_usd || a.group.localeCompare(b.group));
  const sum = (f: (r: CostRow) => number | null | undefined): number => list.reduce((n, r) => n + (f(r) ?? 0), 0);
  const tokenType = opts.by === 'token-type';
  const total: CostReport['total'] = {
    cost_usd: totalCost,
    input_tokens: sum((r) => r.input_tokens),
    output_tokens: sum((r) => r.output_tokens),
    cached_input_tokens: sum((r) => r.cached_input_tokens),
    reasoning_tokens: sum((r) => r.reasoning_tokens),
    calls: tokenType ? null : sum((r) => r.calls),
    unpriced_calls: tokenType ? null : sum((r) => r.unpriced_calls),
    ...(tokenType ? { unpriced_tokens: sum((r) => r.unpriced_tokens) } : {}),
  };
  return {
    by: opts.by,
    from: opts.window.from.toISOString(),
    to: opts.window.to.toISOString(),
    project: opts.project ?? null,
    currency: 'USD',
    source: vm.baseUrl,
    queries,
    recorded,
    ...requestedFromOf(opts.window),
    rows: list,
    total,
  };
}
