import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { CostReport, CostRow } from './cost.js';


export type OutputFormat = 'table' | 'json' | 'csv';

/** CSV columns for finance: stable order and names; add new ones only at the end. */
export const COST_CSV_COLUMNS = ['group', 'cost_usd', 'share', 'input_tokens', 'output_tokens', 'cached_input_tokens', 'calls', 'unpriced_calls', 'unpriced_tokens', 'reasoning_tokens'] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(9).replace(/0+$/, '').replace(/\.$/, '')) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function costCsv(report: CostReport): string {
  const lines = [COST_CSV_COLUMNS.join(',')];
  const line = (r: Partial<CostRow> & { group: string }): string => COST_CSV_COLUMNS.map((c) => csvCell(r[c as keyof CostRow])).join(',');
  for (const r of report.rows) lines.push(line(r));
  lines.push(line({ ...report.total, group: 'TOTAL', share: report.total.cost_usd > 0 ? 1 : null }));
  return `${lines.join('\n')}\n`;
}

const usd = (v: number): string => `$${v.toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : 4)}`;
const int = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v.toLocaleString('en-US'));
const pct = (v: number | null): string => (v === null ? '–' : `${(v * 100).toFixed(1)}%`);

function costCell(r: Pick<CostRow, 'cost_usd' | 'unpriced_calls' | 'unpriced_tokens'>): string {
  const unpriced = r.unpriced_calls ? `${r.unpriced_calls} unpriced call${r.unpriced_calls === 1 ? '' : 's'}` : r.unpriced_tokens ? `${int(r.unpriced_tokens)} unpriced tokens` : '';
  if (!unpriced) return usd(r.cost_usd);
  return r.cost_usd === 0 ? `unknown (${unpriced})` : `${usd(r.cost_usd)} + ${unpriced}`;
}

export function costTable(report: CostReport, colour: boolean): string {
  const tokenType = report.by === 'token-type';
  const head = [report.by, 'cost (USD)', 'share', 'input tok', 'output tok', 'cached tok', 'reasoning tok', ...(tokenType ? [] : ['calls', 'unpriced'])];
  // Colour goes through chalk (src/ui/color.ts decides whether); cli-table3's own colours stay off.
  const c = new Chalk({ level: colour ? 1 : 0 });
  const table = new Table({
    head: head.map((h) => c.cyan(h)),
    style: { head: [], border: [] },
    colAligns: ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  });
  const cells = (r: Omit<CostRow, 'labels' | 'share'> & { share: number | null }): string[] => [
    r.group,
    costCell(r),
    pct(r.share),
    int(r.input_tokens),
    int(r.output_tokens),
    int(r.cached_input_tokens),
    int(r.reasoning_tokens),
    ...(tokenType ? [] : [int(r.calls), int(r.unpriced_calls)]),
  ];
  for (const r of report.rows) table.push(cells(r));
  table.push(cells({ ...report.total, group: 'TOTAL', share: report.total.cost_usd > 0 ? 1 : null }));
  const scope = report.project ? `project ${report.project}` : 'all projects';
  const header = `Cost by ${report.by}, ${scope}, ${report.from} → ${report.to} (VictoriaMetrics ${report.source})`;
  const notes: string[] = [];
  if (report.requested_from) notes.push(movedStartNote(report.requested_from));
  if (report.rows.length === 0) notes.push('No LLM usage recorded in this window.');
  if (tokenType) notes.push('Cost by token type is priced per model from the price book; call counts do not split by token type.');
  if ((report.total.unpriced_calls ?? 0) > 0 || (report.total.unpriced_tokens ?? 0) > 0) notes.push('Unpriced usage has no known cost and is not counted as $0 in the totals.');
  return [c.bold(header), table.toString(), ...notes.map((n) => c.dim(n))].join('\n');
}

/** The note of a report whose `--since` start was moved back to the whole hour (`requested_from`). */
export function movedStartNote(requestedFrom: string): string {
  return `The window starts on the whole hour at or before ${requestedFrom} (the start --since asked for), so that a long window can be read from the hourly totals.`;
}
