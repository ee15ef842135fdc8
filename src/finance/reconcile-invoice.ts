import type { PriceBook } from '../backend/pricebook.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { buildCostReport } from '../report/cost.js';
import type { Invoice, InvoiceLine } from './invoice.js';

/**
 * Provider invoice ↔ sagewai-obs, day × model. Our side is the `cost --by model` report (the
 * catalog's queries on VictoriaMetrics) over each UTC day of the invoice. Model ids are compared
 * by their price-book canonical id, so a dated id on the invoice (gpt-4o-2024-08-06) meets the
 * model our telemetry names (gpt-4o).
 */

export interface ReconcileCell {
  day: string;
  model: string;
  /** Provider's numbers (null: the invoice has no line for this day × model). */
  invoice: Measures | null;
  /** sagewai-obs' numbers (null: nothing recorded for this day × model). */
  ours: Measures | null;
  /** ours − invoice, per measure compared. */
  diff: Measures;
  status: 'match' | 'within-tolerance' | 'differs';
}

export interface Measures {
  cost_usd?: number;
  cost_nusd?: number;
  input_tokens?: number;
  cached_input_tokens?: number;
  output_tokens?: number;
}

export interface ReconcileResult {
  format: string;
  provider: string | null;
  kind: Invoice['kind'];
  from: string;
  to: string;
  project: string | null;
  tolerance: { usd: number; tokens: number };
  cells: ReconcileCell[];
  /** Cells whose difference exceeds the tolerance. */
  differing: number;
  total: { invoice_usd: number; ours_usd: number; diff_usd: number } | { invoice_tokens: number; ours_tokens: number; diff_tokens: number };
  source: string;
}

export interface ReconcileOptions {
  invoice: Invoice;
  priceBook: PriceBook;
  /** Largest |difference| per day × model still accepted, USD (cost reports). */
  toleranceUsd: number;
  /** Largest |difference| per day × model and token type still accepted (usage reports). */
  toleranceTokens: number;
  project?: string | undefined;
}

const DAY_MS = 86_400_000;

function addMeasures(into: Measures, m: Measures): void {
  for (const k of ['cost_nusd', 'input_tokens', 'cached_input_tokens', 'output_tokens'] as const) {
    if (m[k] !== undefined) into[k] = (into[k] ?? 0) + (m[k] as number);
  }
}

function fromLine(l: InvoiceLine): Measures {
  const m: Measures = {};
  if (l.costNusd !== undefined) m.cost_nusd = l.costNusd;
  if (l.inputTokens !== undefined) m.input_tokens = l.inputTokens;
  if (l.cachedInputTokens !== undefined) m.cached_input_tokens = l.cachedInputTokens;
  if (l.outputTokens !== undefined) m.output_tokens = l.outputTokens;
  return m;
}

export async function reconcileInvoice(vm: VictoriaMetricsClient, opts: ReconcileOptions): Promise<ReconcileResult> {
  const { invoice, priceBook } = opts;
  const canonical = (model: string): string => {
    const q = priceBook.quote(model);
    return q.priced ? q.model : model;
  };
  const providerOf = (model: string): string | undefined => {
    const q = priceBook.quote(model);
    return q.priced ? q.provider : undefined;
  };

  const theirs = new Map<string, Measures>();
  for (const l of invoice.lines) {
    const key = `${l.day}\u0000${canonical(l.model)}`;
    const m = theirs.get(key) ?? {};
    addMeasures(m, fromLine(l));
    theirs.set(key, m);
  }
  const days = [...new Set(invoice.lines.map((l) => l.day))].sort();
  const invoiceModels = new Set(invoice.lines.map((l) => canonical(l.model)));

  const ours = new Map<string, Measures>();
  for (const day of days) {
    const from = new Date(`${day}T00:00:00Z`);
    const report = await buildCostReport(vm, { by: 'model', window: { from, to: new Date(from.getTime() + DAY_MS) }, project: opts.project, priceBook });
    for (const r of report.rows) {
      const model = canonical(r.labels.gen_ai_request_model ?? r.group);
      // Another provider's models are not on this invoice; an unknown model is, if the invoice names it.
      const p = providerOf(model);
      if (!invoiceModels.has(model) && (invoice.provider === undefined || p !== invoice.provider)) continue;
      const key = `${day}\u0000${model}`;
      const m = ours.get(key) ?? {};
      // Providers' usage exports (OpenAI's output_tokens, Anthropic's) count reasoning inside output;
      // the ledger keeps it apart, so it is added back here to compare like with like.
      addMeasures(m, { cost_nusd: Math.round(r.cost_usd * 1e9), input_tokens: r.input_tokens, cached_input_tokens: r.cached_input_tokens, output_tokens: r.output_tokens + r.reasoning_tokens });
      ours.set(key, m);
    }
  }

  const isCost = invoice.kind === 'cost';
  const toleranceNusd = Math.round(opts.toleranceUsd * 1e9);
  const cells: ReconcileCell[] = [];
  for (const key of new Set([...theirs.keys(), ...ours.keys()])) {
    const [day, model] = key.split('\u0000') as [string, string];
    const t = theirs.get(key) ?? null;
    const o = ours.get(key) ?? null;
    const diff: Measures = {};
    let worst = 0;
    let exceeded = false;
    if (isCost) {
      const d = (o?.cost_nusd ?? 0) - (t?.cost_nusd ?? 0);
      diff.cost_nusd = d;
      worst = Math.abs(d);
      exceeded = worst > toleranceNusd;
    } else {
      for (const k of ['input_tokens', 'cached_input_tokens', 'output_tokens'] as const) {
        const d = (o?.[k] ?? 0) - (t?.[k] ?? 0);
        diff[k] = d;
        worst = Math.max(worst, Math.abs(d));
      }
      exceeded = worst > opts.toleranceTokens;
    }
    const view = (m: Measures | null): Measures | null => {
      if (!m) return null;
      return isCost ? { cost_usd: (m.cost_nusd ?? 0) / 1e9, cost_nusd: m.cost_nusd ?? 0 } : { input_tokens: m.input_tokens ?? 0, cached_input_tokens: m.cached_input_tokens ?? 0, output_tokens: m.output_tokens ?? 0 };
    };
    if (isCost) diff.cost_usd = (diff.cost_nusd ?? 0) / 1e9;
    cells.push({ day, model, invoice: view(t), ours: view(o), diff, status: worst === 0 ? 'match' : exceeded ? 'differs' : 'within-tolerance' });
  }
  cells.sort((a, b) => a.day.localeCompare(b.day) || a.model.localeCompare(b.model));

  const sumOf = (pick: (c: ReconcileCell) => Measures | null, k: keyof Measures): number => cells.reduce((n, c) => n + (pick(c)?.[k] ?? 0), 0);
  const tokenSum = (pick: (c: ReconcileCell) => Measures | null): number => sumOf(pick, 'input_tokens') + sumOf(pick, 'cached_input_tokens') + sumOf(pick, 'output_tokens');
  const total: ReconcileResult['total'] = isCost
    ? { invoice_usd: sumOf((c) => c.invoice, 'cost_nusd') / 1e9, ours_usd: sumOf((c) => c.ours, 'cost_nusd') / 1e9, diff_usd: (sumOf((c) => c.ours, 'cost_nusd') - sumOf((c) => c.invoice, 'cost_nusd')) / 1e9 }
    : { invoice_tokens: tokenSum((c) => c.invoice), ours_tokens: tokenSum((c) => c.ours), diff_tokens: tokenSum((c) => c.ours) - tokenSum((c) => c.invoice) };
  const first = days[0] as string;
  const last = days[days.length - 1] as string;
  return {
    format: invoice.format,
    provider: invoice.provider ?? null,
    kind: invoice.kind,
    from: `${first}T00:00:00.000Z`,
    to: new Date(new Date(`${last}T00:00:00Z`).getTime() + DAY_MS).toISOString(),
    project: opts.project ?? null,
    tolerance: { usd: opts.toleranceUsd, tokens: opts.toleranceTokens },
    cells,
    differing: cells.filter((c) => c.status === 'differs').length,
    total,
    source: vm.baseUrl,
  };
}
