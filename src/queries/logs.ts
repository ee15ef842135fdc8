import { getEntry, renderExpr } from './render.js';

/**
 * LogsQL built on the catalog's log entries, for `audit` and `verify`. Query text stays in
 * src/queries; callers pass only values.
 */

function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `auth.login.*` (a glob: `*` any run of characters, `?` one) → an anchored RE2 regex. */
export function eventGlobToRegex(glob: string): string {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return `^${re}$`;
}

export interface AuditQueryOptions {
  /** Event name or glob, e.g. `agent.run.*`. */
  event?: string | undefined;
  project?: string | undefined;
  /** Newest first with at most this many records; omit for a tail query (no pipes allowed there). */
  limit?: number | undefined;
}

export function auditQuery(opts: AuditQueryOptions): string {
  // The range placeholder is unused by log entries; renderExpr still wants a valid one.
  let q = renderExpr(getEntry('logs.audit_events'), { project: opts.project, range: '1s' });
  if (opts.event && opts.event !== '*') q += ` event.name:~${quote(eventGlobToRegex(opts.event))}`;
  if (opts.limit !== undefined) q += ` | sort by (_time desc) | limit ${Math.max(1, Math.floor(opts.limit))}`;
  return q;
}

/** Any record from the admin backend: proves the logs path (backend → collector → VictoriaLogs). */
export function backendLogsQuery(): string {
  return 'service.name:"sagewai-admin" | limit 1';
}
