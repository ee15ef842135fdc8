import { Chalk } from 'chalk';
import Table from 'cli-table3';
import type { LogRecord, VictoriaLogsClient } from '../clients/victoria-logs.js';
import { auditQuery } from '../queries/index.js';
import type { TimeWindow } from './cost.js';

/** Business events from VictoriaLogs, newest first, as the `audit` command shows them. */

export interface AuditEvent {
  time: string;
  event: string;
  project: string | null;
  actor: string | null;
  severity: string | null;
  /** Every other attribute of the record (agent, run id, model, cost, …). */
  fields: Record<string, string>;
}

// Stream and resource fields repeat on every record; they are noise in an audit trail.
const HIDDEN = new Set(['_time', '_msg', '_stream', '_stream_id', 'event.name', 'sagewai.project_id', 'sagewai.actor', 'severity_text', 'severity_number', 'scope.name', 'scope.version', 'service.name', 'service.namespace', 'service.version', 'service.instance.id', 'observed_timestamp']);

export function toAuditEvent(r: LogRecord): AuditEvent {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (!HIDDEN.has(k) && v !== '') fields[k] = v;
  return {
    time: r._time ?? '',
    event: r['event.name'] ?? r._msg ?? '',
    project: r['sagewai.project_id'] || null,
    actor: r['sagewai.actor'] || null,
    severity: r.severity_text || null,
    fields,
  };
}

export interface AuditOptions {
  event?: string | undefined;
  project?: string | undefined;
  window: TimeWindow;
  limit: number;
}

export async function fetchAuditEvents(vl: VictoriaLogsClient, opts: AuditOptions): Promise<AuditEvent[]> {
  const q = auditQuery({ event: opts.event, project: opts.project, limit: opts.limit });
  const records = await vl.query(q, { start: opts.window.from, end: opts.window.to });
  // The query sorts already; sort again so the order never depends on the server.
  return records.map(toAuditEvent).sort((a, b) => b.time.localeCompare(a.time));
}

export function auditLine(e: AuditEvent): string {
  const extra = Object.entries(e.fields).map(([k, v]) => `${k}=${v}`).join(' ');
  return [e.time, e.event, e.project ?? '-', e.actor ?? '-', extra].join('  ').trimEnd();
}

export function auditTable(events: readonly AuditEvent[], colour: boolean): string {
  if (events.length === 0) return 'No matching audit events in this window.';
  // Colour goes through chalk (src/ui/color.ts decides whether); cli-table3's own colours stay off.
  const c = new Chalk({ level: colour ? 1 : 0 });
  const table = new Table({ head: ['time', 'event', 'project', 'actor', 'details'].map((h) => c.cyan(h)), style: { head: [], border: [] }, wordWrap: true, colWidths: [26, 26, 20, 18, null] });
  for (const e of events) table.push([e.time, e.event, e.project ?? '–', e.actor ?? '–', Object.entries(e.fields).map(([k, v]) => `${k}=${v}`).join(' ')]);
  return table.toString();
}
