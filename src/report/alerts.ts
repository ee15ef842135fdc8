import Table from 'cli-table3';
import type { VmAlert, VmalertClient } from '../clients/vmalert.js';

/** `sagewai-obs alerts` and the HUD: vmalert's firing and pending alerts, filtered by tenant. */

export interface AlertRow {
  name: string;
  state: 'firing' | 'pending';
  severity: string;
  /** null for pipeline alerts, which belong to no project. */
  project: string | null;
  summary: string;
  runbook: string;
  since: string;
  value: number;
  labels: Record<string, string>;
}

export interface AlertsReport {
  vmalertUrl: string;
  project: string | null;
  firing: number;
  pending: number;
  alerts: AlertRow[];
}

/**
 * An alert belongs to a tenant when its sagewai_project_id is that project. Alerts with no
 * project (the pipeline ones) concern every tenant and carry no tenant data, so a tenant view
 * shows them too; another project's alerts never.
 */
export function visibleTo(alert: Pick<AlertRow, 'project'>, project: string | undefined): boolean {
  return !project || alert.project === null || alert.project === project;
}

export function toRow(a: VmAlert): AlertRow {
  return {
    name: a.name,
    state: a.state === 'firing' ? 'firing' : 'pending',
    severity: a.labels.severity ?? 'none',
    project: a.labels.sagewai_project_id ?? null,
    summary: a.annotations.summary ?? '',
    runbook: a.annotations.runbook ?? '',
    since: a.activeAt,
    value: a.value,
    labels: a.labels,
  };
}

const SEVERITY_ORDER: Record<string, number> = { critical: 0, warning: 1 };

export async function fetchAlerts(client: VmalertClient, options: { project?: string | undefined; state?: 'firing' | 'pending' | undefined } = {}): Promise<AlertsReport> {
  const rows = (await client.alerts())
    .filter((a) => a.state !== 'inactive')
    .map(toRow)
    .filter((r) => visibleTo(r, options.project) && (!options.state || r.state === options.state))
    .sort((a, b) => (a.state === b.state ? 0 : a.state === 'firing' ? -1 : 1) || (SEVERITY_ORDER[a.severity] ?? 2) - (SEVERITY_ORDER[b.severity] ?? 2) || a.name.localeCompare(b.name) || (a.project ?? '').localeCompare(b.project ?? ''));
  return {
    vmalertUrl: client.baseUrl,
    project: options.project ?? null,
    firing: rows.filter((r) => r.state === 'firing').length,
    pending: rows.filter((r) => r.state === 'pending').length,
    alerts: rows,
  };
}

function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '–';
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function alertsTable(report: AlertsReport, options: { colour: boolean; now?: number }): string {
  const now = options.now ?? Date.now();
  const scope = report.project ? ` for project ${report.project}` : '';
  if (report.alerts.length === 0) return `no alerts firing or pending${scope} (vmalert ${report.vmalertUrl})`;
  const table = new Table({ head: ['state', 'severity', 'alert', 'project', 'for', 'summary'], style: { head: options.colour ? ['cyan'] : [], border: options.colour ? ['grey'] : [] }, wordWrap: true, colWidths: [9, 10, 30, 22, 6, 60] });
  for (const a of report.alerts) table.push([a.state, a.severity, a.name, a.project ?? '(pipeline)', ago(a.since, now), a.summary]);
  const runbooks = [...new Map(report.alerts.map((a) => [a.name, a.runbook])).entries()].map(([n, r]) => `  ${n}: ${r}`);
  return [`${report.firing} firing, ${report.pending} pending${scope}`, table.toString(), 'Runbook:', ...runbooks].join('\n');
}
