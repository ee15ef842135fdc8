import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../clients/endpoints.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { buildCostReport, COST_BY, resolveWindow } from '../report/cost.js';
import type { OutputFormat } from '../report/format.js';
import { colorEnabled } from '../ui/color.js';
import type { CostDimension } from '../queries/index.js';

export default class Cost extends BaseCommand<typeof Cost> {
  static override summary = 'LLM spend, tokens and calls per project, model, agent, app or token type, from VictoriaMetrics';
  static override description = 'Numbers come from the query catalog (exact counter increases over the window, evaluated at --to), the same queries the Grafana board uses. Unpriced usage is shown apart, never as $0.';
  static override examples = [
    '<%= config.bin %> cost --by project',
    '<%= config.bin %> cost --by model --since 7d --format csv > spend.csv',
    '<%= config.bin %> cost --by agent --project acme-support --from 2026-11-01T00:00:00Z --to 2026-11-26T00:00:00Z --json',
  ];
  static override flags = {
    by: Flags.string({ description: 'Group spend by', options: COST_BY, default: 'project', env: 'SAGEWAI_OBS_COST_BY' }),
    since: Flags.string({ description: 'Window ending at --to (or now): 30m, 24h, 7d [default: 24h]. A day or more starts on the whole UTC hour at or before that (read from the hourly totals, no partial hour at the start)', env: 'SAGEWAI_OBS_SINCE' }),
    from: Flags.string({ description: 'Window start (ISO time or unix seconds)', env: 'SAGEWAI_OBS_FROM' }),
    to: Flags.string({ description: 'Window end (ISO time or unix seconds) [default: now]', env: 'SAGEWAI_OBS_TO' }),
    raw: Flags.boolean({ description: 'Read only the raw counters. By default whole hours of a long window come from the hourly recording rules when vmalert recorded every one of them (same numbers, far fewer samples); --json says which hours under "recorded"', default: false }),
    format: Flags.string({ description: 'Output format (--json is the same as --format json)', options: ['table', 'json', 'csv'], default: 'table', env: 'SAGEWAI_OBS_COST_FORMAT' }),
    ...projectFlag,
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const window = resolveWindow({ since: f.since, from: f.from, to: f.to, hourAligned: true });
    const endpoints = resolveEndpoints(f);
    const vm = new VictoriaMetricsClient(endpoints.vmUrl);
    const report = await buildCostReport(vm, { by: f.by as CostDimension, window, project: f.project, recorded: !f.raw });
    if (this.jsonEnabled()) return report;
    const format = f.format as OutputFormat;
    // Loaded only for a table or CSV: --json (scripts, the cost bench) skips cli-table3 at start-up.
    const { costCsv, costTable } = await import('../report/format.js');
    if (format === 'json') this.logJson(report);
    else if (format === 'csv') process.stdout.write(costCsv(report));
    else this.printLine(costTable(report, colorEnabled()));
    return report;
  }
}
