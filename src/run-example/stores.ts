import { VictoriaLogsClient, type LogRecord } from '../clients/victoria-logs.js';

/** LogsQL reads for run-example over a time window; expressions always come from src/queries. */
export async function vlQuery(vlUrl: string, query: string, fromMs: number, toMs: number, limit = 1000): Promise<LogRecord[]> {
  return new VictoriaLogsClient(vlUrl, { timeoutMs: 15_000 }).query(query, { start: new Date(fromMs), end: new Date(toMs), limit });
}

/** Number of log records matching a LogsQL filter over [from, to]. */
export async function vlCount(vlUrl: string, filter: string, fromMs: number, toMs: number): Promise<number> {
  const rows = await vlQuery(vlUrl, `${filter} | stats count() n`, fromMs, toMs, 10);
  return Number(rows[0]?.n ?? 0);
}

/** A whole number of seconds covering [fromMs, toMs] plus a margin, as a MetricsQL window. */
export function rangeFor(fromMs: number, toMs: number, marginSeconds = 0): string {
  return `${Math.max(1, Math.ceil((toMs - fromMs) / 1000) + marginSeconds)}s`;
}
