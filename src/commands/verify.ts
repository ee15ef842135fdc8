import { Flags } from '@oclif/core';
import { color, statusWord } from '../ui/color.js';
import { BaseCommand } from '../base-command.js';
import { BackendClient } from '../clients/backend.js';
import { endpointFlags, projectFlag, resolveEndpoints, resolveVmalertUrl, vmalertUrlFlag } from '../clients/endpoints.js';
import { VictoriaLogsClient } from '../clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { VmalertClient } from '../clients/vmalert.js';
import { resolveWindow } from '../report/cost.js';
import { parseDuration } from '../settings.js';
import { readStackRecord } from '../stack/state.js';
import { assertVerified, recordedCollectorHealthUrl, runVerify } from '../verify/index.js';

export default class Verify extends BaseCommand<typeof Verify> {
  static override summary = 'Check every dashboard query has data, the ledger equals VictoriaMetrics, and the pipeline is healthy';
  static override description = 'Exit 0 only when every catalog query returns data over the window, every alerting and recording rule expression runs (and vmalert evaluates each without error), the backend ledger and VictoriaMetrics agree on cost per project and model to the nano-dollar, both scrape jobs are up and the collector is healthy. Exit 3 names each failure. Firing alerts are listed, not counted as failures.';
  static override examples = ['<%= config.bin %> verify', '<%= config.bin %> verify --since 15m --json', '<%= config.bin %> verify --project acme-support --skip-reconcile'];
  static override flags = {
    since: Flags.string({ description: 'Window ending now that the queries and the reconciliation cover', default: '1h', env: 'SAGEWAI_OBS_SINCE' }),
    'reconcile-timeout': Flags.string({ description: 'How long to re-poll while metrics catch up with the ledger', default: '30s', env: 'SAGEWAI_OBS_RECONCILE_TIMEOUT' }),
    'skip-reconcile': Flags.boolean({ description: 'Do not compare with the backend ledger (no backend running)', default: false, env: 'SAGEWAI_OBS_SKIP_RECONCILE' }),
    'collector-health-url': Flags.string({ description: "The collector's health_check URL [default: the running stack's]", env: 'SAGEWAI_OBS_COLLECTOR_HEALTH_URL', helpGroup: 'ENDPOINT' }),
    ...projectFlag,
    ...endpointFlags,
    ...vmalertUrlFlag,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const window = resolveWindow({ since: f.since });
    const reconcileTimeoutMs = parseDuration(f['reconcile-timeout']);
    const ep = resolveEndpoints(f);
    const backend = f['skip-reconcile'] ? undefined : new BackendClient({ baseUrl: ep.backendUrl, token: ep.token });
    try {
      const report = await runVerify({
        vm: new VictoriaMetricsClient(ep.vmUrl),
        vl: new VictoriaLogsClient(ep.vlUrl),
        backend,
        window,
        project: f.project,
        collectorHealthUrl: f['collector-health-url'] ?? recordedCollectorHealthUrl(ep.stateDir),
        reconcileTimeoutMs,
        // vmalert only when one is given or the running stack has one (a bare VictoriaMetrics has none).
        vmalert: f['vmalert-url'] || process.env.SAGEWAI_OBS_VMALERT_URL || readStackRecord(ep.stateDir)?.endpoints.vmalertUrl ? new VmalertClient(resolveVmalertUrl(f['vmalert-url'], ep.stateDir)) : undefined,
        onProgress: (l) => this.progress(l),
      });
      const k = color();
      const word = (ok: boolean): string => statusWord(k, ok, ok ? 'ok  ' : 'FAIL');
      if (!this.jsonEnabled()) {
        for (const p of report.pipeline) this.printLine(`${word(p.status === 'ok')}  ${p.name}: ${p.detail}`);
        for (const q of report.queries) this.printLine(`${word(q.ok)}  ${q.row ? `[${q.row}] ` : ''}${q.title} (${q.id}): ${q.ok ? `${q.results} result(s)` : (q.error ?? 'no data')}`);
        for (const r of report.rules) this.printLine(`${word(r.ok)}  rule ${r.name}: ${r.ok ? `runs (${r.results} series now)` : r.error}`);
        if (report.firingAlerts?.length) this.printLine(`${k.yellow('note')}  firing alerts: ${report.firingAlerts.join(', ')} (sagewai-obs alerts)`);
        const r = report.reconciliation;
        if (r.skipped) this.printLine('skip  reconciliation (--skip-reconcile)');
        else this.printLine(`${word(r.ok)}  reconciliation: ledger $${r.ledger_total_usd.toFixed(6)} vs metrics $${r.metrics_total_usd.toFixed(6)} over ${r.rows.length} project/model pair(s), ${r.attempts} attempt(s)`);
      }
      assertVerified(report);
      if (!this.jsonEnabled()) this.printLine(`verified: ${report.queries.length} queries with data, ${report.reconciliation.skipped ? 'reconciliation skipped' : 'ledger == metrics'}, pipeline healthy`);
      return report;
    } finally {
      await backend?.close();
    }
  }
}
