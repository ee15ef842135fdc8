import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { colorEnabled } from '../ui/color.js';
import { endpointFlags, projectFlag, resolveStateDir, resolveVmalertUrl, vmalertUrlFlag } from '../clients/endpoints.js';
import { VmalertClient } from '../clients/vmalert.js';
import { CancelledError } from '../errors.js';
import { alertsTable, fetchAlerts, type AlertsReport } from '../report/alerts.js';

export default class Alerts extends BaseCommand<typeof Alerts> {
  static override summary = 'Firing and pending alerts from vmalert (budgets, error budget, latency, unpriced calls, pipeline, drift)';
  static override description = 'The rules are generated from the query catalog (assets/vmalert, docs/alerts.md). Each alert names its project where it has one, a summary and a runbook line. --project shows that tenant\'s alerts plus the pipeline ones, which belong to no tenant.';
  static override examples = ['<%= config.bin %> alerts', '<%= config.bin %> alerts --project acme-support --json', '<%= config.bin %> alerts --watch --interval 5'];
  static override flags = {
    state: Flags.string({ description: 'Only alerts in this state', options: ['firing', 'pending'], env: 'SAGEWAI_OBS_ALERT_STATE' }),
    watch: Flags.boolean({ char: 'w', description: 'Print the alerts again every --interval seconds until Ctrl-C (with --json: one JSON object per line)', default: false, env: 'SAGEWAI_OBS_WATCH' }),
    interval: Flags.integer({ description: 'Seconds between refreshes under --watch', default: 10, min: 1, max: 3600, env: 'SAGEWAI_OBS_WATCH_INTERVAL' }),
    ...projectFlag,
    ...vmalertUrlFlag,
    'state-dir': endpointFlags['state-dir'],
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const client = new VmalertClient(resolveVmalertUrl(f['vmalert-url'], resolveStateDir(f['state-dir'])));
    const options = { project: f.project, state: f.state as 'firing' | 'pending' | undefined };
    const report = await fetchAlerts(client, options);
    if (!f.watch) {
      if (!this.jsonEnabled()) this.printLine(alertsTable(report, { colour: colorEnabled() }));
      return report;
    }
    const abort = new AbortController();
    const stop = (): void => abort.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      for (let r: AlertsReport | Error = report; !abort.signal.aborted; r = await fetchAlerts(client, options).catch((err: Error) => err)) {
        // A vmalert restart must not end the watch: say so and try again next round.
        if (r instanceof Error) this.progress(`${new Date().toISOString()}  ${r.message}; retrying in ${f.interval} s`);
        else if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify(r)}\n`);
        else this.printLine(`${process.stdout.isTTY ? '\u001b[2J\u001b[H' : ''}${new Date().toISOString()}  ${alertsTable(r, { colour: colorEnabled() })}\n`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, f.interval * 1000);
          abort.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
        });
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    throw new CancelledError();
  }
}
