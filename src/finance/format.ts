import Table from 'cli-table3';
import type { Measures, ReconcileCell, ReconcileResult } from './reconcile-invoice.js';
import { movedStartNote } from '../report/format.js';

const usd = (nusd: number): string => `${nusd < 0 ? '-' : ''}$${(Math.abs(nusd) / 1e9).toFixed(6)}`;
const signed = (n: number): string => (n > 0 ? `+${n.toLocaleString('en-US')}` : n.toLocaleString('en-US'));

function measure(m: Measures | null, cost: boolean): string {
  if (!m) return '–';
  if (cost) return usd(m.cost_nusd ?? 0);
  return `${(m.input_tokens ?? 0).toLocaleString('en-US')} in / ${(m.cached_input_tokens ?? 0).toLocaleString('en-US')} cached / ${(m.output_tokens ?? 0).toLocaleString('en-US')} out`;
}

function diffText(c: ReconcileCell, cost: boolean): string {
  if (cost) return `${(c.diff.cost_nusd ?? 0) > 0 ? '+' : ''}${usd(c.diff.cost_nusd ?? 0)}`;
  return `${signed(c.diff.input_tokens ?? 0)} / ${signed(c.diff.cached_input_tokens ?? 0)} / ${signed(c.diff.output_tokens ?? 0)}`;
}

export function reconcileTable(r: ReconcileResult, colour: boolean, all: boolean): string {
  const cost = r.kind === 'cost';
  const table = new Table({ head: ['day', 'model', 'invoice', 'sagewai-obs', 'difference', ''], style: colour ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] } });
  const shown = all ? r.cells : r.cells.filter((c) => c.status !== 'match');
  for (const c of shown) {
    const mark = c.status === 'match' ? 'ok' : c.status === 'within-tolerance' ? 'within tolerance' : 'DIFFERS';
    table.push([c.day, c.model, measure(c.invoice, cost), measure(c.ours, cost), diffText(c, cost), colour && c.status === 'differs' ? `\u001b[31m${mark}\u001b[39m` : mark]);
  }
  const tol = cost ? `$${r.tolerance.usd}` : `${r.tolerance.tokens} tokens`;
  const scope = r.project ? `project ${r.project}` : 'all projects';
  const head = `Invoice (${r.format}${r.provider ? `, ${r.provider}` : ''}) vs sagewai-obs ${r.kind}, ${scope}, ${r.from} → ${r.to}, tolerance ${tol} per day × model (VictoriaMetrics ${r.source})`;
  const total = 'invoice_usd' in r.total
    ? `Total: invoice $${r.total.invoice_usd.toFixed(6)}, sagewai-obs $${r.total.ours_usd.toFixed(6)}, difference ${r.total.diff_usd >= 0 ? '+' : '-'}$${Math.abs(r.total.diff_usd).toFixed(6)}`
    : `Total tokens: invoice ${r.total.invoice_tokens.toLocaleString('en-US')}, sagewai-obs ${r.total.ours_tokens.toLocaleString('en-US')}, difference ${signed(r.total.diff_tokens)}`;
  const verdict = r.differing === 0 ? `All ${r.cells.length} day × model cells agree within the tolerance.` : `${r.differing} of ${r.cells.length} day × model cells differ beyond the tolerance.`;
  return [head, shown.length > 0 ? table.toString() : '(every cell matches exactly; --all lists them)', total, verdict].join('\n');
}

export const RECONCILE_CSV_COLUMNS = ['day', 'model', 'status', 'invoice_cost_usd', 'ours_cost_usd', 'diff_cost_usd', 'invoice_input_tokens', 'ours_input_tokens', 'invoice_cached_input_tokens', 'ours_cached_input_tokens', 'invoice_output_tokens', 'ours_output_tokens'] as const;

export function reconcileCsv(r: ReconcileResult): string {
  const n = (v: number | undefined): string => (v === undefined ? '' : String(v));
  const money = (v: number | undefined): string => (v === undefined ? '' : (v / 1e9).toFixed(9));
  const lines = [RECONCILE_CSV_COLUMNS.join(',')];
  for (const c of r.cells) {
    lines.push([c.day, /[",\n]/.test(c.model) ? `"${c.model.replace(/"/g, '""')}"` : c.model, c.status, money(c.invoice?.cost_nusd), money(c.ours?.cost_nusd), r.kind === 'cost' ? money(c.diff.cost_nusd) : '', n(c.invoice?.input_tokens), n(c.ours?.input_tokens), n(c.invoice?.cached_input_tokens), n(c.ours?.cached_input_tokens), n(c.invoice?.output_tokens), n(c.ours?.output_tokens)].join(','));
  }
  return `${lines.join('\n')}\n`;
}

const money = (v: number | null): string => (v === null ? 'unknown' : `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(6)}`);

export function predictTable(r: import('./predict.js').PredictResult, colour: boolean): string {
  const table = new Table({ head: ['project', 'actual (USD)', 'what-if (USD)', 'difference', 'unpriced tokens'], style: colour ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] }, colAligns: ['left', 'right', 'right', 'right', 'right'] });
  const diff = (v: number | null): string => (v === null ? '–' : `${v > 0 ? '+' : ''}${money(v)}`);
  for (const row of r.rows) table.push([row.project, money(row.actual_usd), money(row.predicted_usd), diff(row.difference_usd), row.unpriced_tokens.toLocaleString('en-US')]);
  table.push(['TOTAL', money(r.total.actual_usd), money(r.total.predicted_usd), diff(r.total.difference_usd), r.total.unpriced_tokens.toLocaleString('en-US')]);
  const scenario = r.scenario.as_model ? `every call as ${r.scenario.as_model}` : `price book ${r.scenario.price_book_version}`;
  const notes = r.requested_from ? [movedStartNote(r.requested_from)] : [];
  if (r.total.unpriced_tokens > 0) notes.push('Tokens of models the what-if cannot price are left out of its total, never counted as $0.');
  return [`What-if: ${scenario}, ${r.project ? `project ${r.project}` : 'all projects'}, ${r.from} → ${r.to} (VictoriaMetrics ${r.source})`, table.toString(), ...notes].join('\n');
}

export function savingsTable(r: import('./predict.js').SavingsResult, colour: boolean): string {
  const table = new Table({ head: ['project', 'cached tokens', 'paid (cached price)', 'uncached price', 'saved', 'share of bill'], style: colour ? { head: ['cyan'], border: ['grey'] } : { head: [], border: [] }, colAligns: ['left', 'right', 'right', 'right', 'right', 'right'] });
  const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);
  for (const row of r.rows) table.push([row.project, row.cached_input_tokens.toLocaleString('en-US'), money(row.cached_cost_usd), money(row.uncached_cost_usd), money(row.saved_usd), pct(row.saved_share)]);
  table.push(['TOTAL', r.total.cached_input_tokens.toLocaleString('en-US'), money(r.total.cached_cost_usd), money(r.total.uncached_cost_usd), money(r.total.saved_usd), pct(r.total.saved_share)]);
  const notes = r.requested_from ? [movedStartNote(r.requested_from)] : [];
  if (r.rows.length === 0) notes.push('No cached input in this window.');
  if (r.total.unpriced_cached_tokens > 0) notes.push(`${r.total.unpriced_cached_tokens.toLocaleString('en-US')} cached tokens of unpriced models are left out.`);
  return [`Cache savings, price book ${r.price_book_version}, ${r.project ? `project ${r.project}` : 'all projects'}, ${r.from} → ${r.to} (VictoriaMetrics ${r.source})`, table.toString(), ...notes].join('\n');
}
