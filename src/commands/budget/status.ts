import Table from 'cli-table3';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags, toCliError } from '../../clients/backend.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../../clients/endpoints.js';
import { VictoriaMetricsClient } from '../../clients/victoria-metrics.js';
import { forecastBudgets } from '../../report/budget-forecast.js';

export default class BudgetStatus extends BaseCommand<typeof BudgetStatus> {
  static override summary = 'Spend against each cap in its current window, and where it ends at the current rate';
  static override description = 'The forecast (projected spend at the window\'s end, the date the cap is reached) comes from VictoriaMetrics through the same catalog entries as the SagewaiBudgetBurnForecast alert: the utilisation slope over the last 30 minutes. Without VictoriaMetrics the forecast is left empty.';
  static override examples = ['<%= config.bin %> budget status', '<%= config.bin %> budget status --project acme-support --scope user'];
  static override flags = {
    ...endpointFlags,
    ...projectFlag,
    scope: Flags.string({ description: 'Only this scope', options: ['project', 'team', 'user'], env: 'SAGEWAI_OBS_BUDGET_SCOPE' }),
    subject: Flags.string({ description: 'Only this team or user', env: 'SAGEWAI_OBS_BUDGET_SUBJECT' }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const client = backendClientFromFlags(f);
    try {
      const status = await client.budgetStatus(f.project, { ...(f.scope ? { scope: f.scope as 'user' } : {}), ...(f.subject ? { subject: f.subject } : {}) });
      const { items, warning } = await forecastBudgets(new VictoriaMetricsClient(resolveEndpoints(f).vmUrl, { timeoutMs: 5000 }), status, { project: f.project });
      if (warning) this.progress(`warning: ${warning}`);
      if (this.jsonEnabled()) return { items };
      if (items.length === 0) this.printLine('no budgets set');
      else {
        const t = new Table({ head: ['project', 'scope', 'subject', 'window', 'spent USD', 'limit USD', 'use', 'action', 'state', 'projected USD', 'runs out', 'resets'] });
        for (const b of items) {
          const p = b.forecast.projected_spend_usd;
          t.push([b.project, b.scope, b.subject, b.window, b.spent_usd.toFixed(4), b.limit_usd.toFixed(2), `${(b.utilization * 100).toFixed(1)}%`, b.action, b.state, p === null ? '–' : p.toFixed(4), b.forecast.exhausts_at ?? (p === null ? '–' : 'not before reset'), b.resets_at]);
        }
        this.printLine(t.toString());
      }
      return { items };
    } catch (err) {
      throw toCliError(err, client.baseUrl);
    } finally {
      await client.close();
    }
  }
}
