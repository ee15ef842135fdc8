import Table from 'cli-table3';
import { toCliError, type BackendClient, type ClosedMonth, type ClosedMonthCheck, type ClosedMonthSummary } from '../clients/backend.js';
import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { getEntry, renderExpr } from '../queries/index.js';

/**
 * `cost close`: freeze a month's ledger totals per project × model in the backend (a hash chain
 * over the closed months), list them, and verify them against the ledger (the backend's check)
 * and against VictoriaMetrics (the catalog's cost.by_project_model over the month, to the nano-dollar).
 */
export interface CloseVerifyRow {
  month: string;
  hash: string;
  chain_ok: boolean;
  ledger_ok: boolean;
  metrics_ok: boolean;
  ledger_differences: ClosedMonthCheck['differences'];
  metrics_differences: Array<{ project: string; model: string; closed_nusd: number; metrics_nusd: number }>;
}

export interface CloseVerifyResult {
  ok: boolean;
  source: string;
  months: CloseVerifyRow[];
}

async function call<T>(client: BackendClient, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw toCliError(err, client.baseUrl);
  }
}

export const closeMonth = (client: BackendClient, month: string): Promise<ClosedMonth> => call(client, () => client.closeMonth(month));
export const listClosedMonths = (client: BackendClient): Promise<ClosedMonthSummary[]> => call(client, () => client.listClosedMonths());

export async function verifyClosedMonths(client: BackendClient, vm: VictoriaMetricsClient): Promise<CloseVerifyResult> {
  const [checks, months] = await Promise.all([call(client, () => client.verifyClosedMonths()), call(client, () => client.listClosedMonths())]);
  const entry = getEntry('cost.by_project_model');
  const out: CloseVerifyRow[] = [];
  for (const c of checks) {
    const m = months.find((x) => x.month === c.month);
    const start = Date.UTC(Number(c.month.slice(0, 4)), Number(c.month.slice(5, 7)) - 1, 1);
    const end = Date.UTC(Number(c.month.slice(0, 4)), Number(c.month.slice(5, 7)), 1);
    const samples = await vm.query(renderExpr(entry, { range: `${(end - start) / 1000}s` }), { time: new Date(end) });
    const ours = new Map<string, number>();
    for (const s of samples) ours.set(`${s.metric.sagewai_project_id ?? ''}\u0000${s.metric.gen_ai_request_model ?? ''}`, Math.round(s.value * 1e9));
    const closed = new Map((m?.rows ?? []).map((r) => [`${r.project}\u0000${r.model}`, r.cost_nusd]));
    const metrics_differences: CloseVerifyRow['metrics_differences'] = [];
    for (const k of new Set([...closed.keys(), ...ours.keys()])) {
      const a = closed.get(k) ?? 0;
      const b = ours.get(k) ?? 0;
      if (a !== b) {
        const [project, model] = k.split('\u0000') as [string, string];
        metrics_differences.push({ project, model, closed_nusd: a, metrics_nusd: b });
      }
    }
    out.push({ month: c.month, hash: c.hash, chain_ok: c.chain_ok, ledger_ok: c.ledger_ok, metrics_ok: metrics_differences.length === 0, ledger_differences: c.differences, metrics_differences });
  }
  return { ok: out.every((r) => r.chain_ok && r.ledger_ok && r.metrics_ok), source: vm.baseUrl, months: out };
}

const usd = (nusd: number): string => `$${(nusd / 1e9).toFixed(9)}`;

export function closedTable(rows: Array<{ month: string; hash: string; cost_nusd?: number; rows: Array<{ project: string; model: string; cost_nusd: number; calls: number }> }>): string {
  const t = new Table({ head: ['month', 'project', 'model', 'cost USD', 'calls'] });
  for (const m of rows) for (const r of m.rows) t.push([m.month, r.project, r.model, usd(r.cost_nusd), r.calls]);
  const hashes = rows.map((m) => `${m.month}  ${m.hash}`).join('\n');
  return rows.length === 0 ? 'no closed months' : `${t.toString()}\n${hashes}`;
}

export function verifyTable(r: CloseVerifyResult): string {
  if (r.months.length === 0) return 'no closed months to verify';
  const t = new Table({ head: ['month', 'hash chain', 'ledger', `VictoriaMetrics`] });
  for (const m of r.months) t.push([m.month, m.chain_ok ? 'ok' : 'BROKEN', m.ledger_ok ? 'ok' : `DIFFERS (${m.ledger_differences.length})`, m.metrics_ok ? 'ok' : `DIFFERS (${m.metrics_differences.length})`]);
  const lines = [t.toString()];
  for (const m of r.months) {
    for (const d of m.ledger_differences) lines.push(`${m.month} ${d.project}/${d.model}: closed ${usd(d.closed_nusd)} (${d.closed_calls} calls), ledger now ${usd(d.ledger_nusd)} (${d.ledger_calls} calls)`);
    for (const d of m.metrics_differences) lines.push(`${m.month} ${d.project}/${d.model}: closed ${usd(d.closed_nusd)}, VictoriaMetrics ${usd(d.metrics_nusd)}`);
  }
  lines.push(r.ok ? 'Every closed month matches its hash, the ledger and VictoriaMetrics.' : 'A closed month no longer matches: see above.');
  return lines.join('\n');
}
