import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../clients/endpoints.js';
import { VictoriaLogsClient } from '../clients/victoria-logs.js';
import { CancelledError } from '../errors.js';
import { auditQuery } from '../queries/index.js';
import { auditLine, auditTable, fetchAuditEvents, toAuditEvent } from '../report/audit.js';
import { resolveWindow } from '../report/cost.js';
import { colorEnabled } from '../ui/color.js';

export default class Audit extends BaseCommand<typeof Audit> {
  static override summary = 'Business events (logins, runs, budgets, fleet) from VictoriaLogs, newest first';
  static override examples = [
    "<%= config.bin %> audit --event 'auth.login.*' --since 1h",
    "<%= config.bin %> audit --event 'agent.run.*' --project acme-support --json",
    '<%= config.bin %> audit --follow',
  ];
  static override flags = {
    event: Flags.string({ char: 'e', description: "Event name or glob, e.g. 'auth.login.*'", env: 'SAGEWAI_OBS_EVENT' }),
    since: Flags.string({ description: 'How far back: 30m, 24h, 7d [default: 24h]', env: 'SAGEWAI_OBS_SINCE' }),
    from: Flags.string({ description: 'Window start (ISO time or unix seconds)', env: 'SAGEWAI_OBS_FROM' }),
    to: Flags.string({ description: 'Window end [default: now]', env: 'SAGEWAI_OBS_TO' }),
    limit: Flags.integer({ char: 'n', description: 'At most this many events', default: 100, min: 1, max: 100_000, env: 'SAGEWAI_OBS_LIMIT' }),
    follow: Flags.boolean({ char: 'f', description: 'Keep printing new events as they arrive (Ctrl-C to stop)', default: false, env: 'SAGEWAI_OBS_FOLLOW' }),
    format: Flags.string({ description: 'Output format; jsonl prints one event per line', options: ['table', 'json', 'jsonl'], default: 'table', env: 'SAGEWAI_OBS_AUDIT_FORMAT' }),
    ...projectFlag,
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const window = resolveWindow({ since: f.since, from: f.from, to: f.to });
    const vl = new VictoriaLogsClient(resolveEndpoints(f).vlUrl);
    const events = await fetchAuditEvents(vl, { event: f.event, project: f.project, window, limit: f.limit });
    const format = this.jsonEnabled() ? 'json' : f.format;
    if (!f.follow) {
      if (this.jsonEnabled()) return events;
      if (format === 'json') this.logJson(events);
      else if (format === 'jsonl') for (const e of events) this.printLine(JSON.stringify(e));
      else this.printLine(auditTable(events, colorEnabled()));
      return events;
    }
    // Follow: the recent history oldest → newest, then live records as they arrive.
    const print = format === 'table' ? (e: ReturnType<typeof toAuditEvent>) => this.printLine(auditLine(e)) : (e: ReturnType<typeof toAuditEvent>) => this.printLine(JSON.stringify(e));
    for (const e of [...events].reverse()) print(e);
    // The tail replays a few seconds of history; skip what the first batch already printed.
    const key = (e: ReturnType<typeof toAuditEvent>): string => JSON.stringify(e);
    const seen = new Set(events.map(key));
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await vl.tail(auditQuery({ event: f.event, project: f.project }), (r) => {
        const e = toAuditEvent(r);
        if (!seen.has(key(e))) print(e);
      }, { signal: abort.signal });
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    throw new CancelledError();
  }
}
