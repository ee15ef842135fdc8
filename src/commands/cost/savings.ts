import { BaseCommand } from '../../base-command.js';
import { colorEnabled } from '../../ui/color.js';
import { PriceBook } from '../../backend/pricebook.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../../clients/endpoints.js';
import { VictoriaMetricsClient } from '../../clients/victoria-metrics.js';
import { savingsTable } from '../../finance/format.js';
import { cacheSavings } from '../../finance/predict.js';
import { resolveWindow } from '../../report/cost.js';
import { windowFlags } from '../../window-flags.js';

export default class CostSavings extends BaseCommand<typeof CostSavings> {
  static override summary = 'What cached input saved per project, against the uncached input price';
  static override description = 'Cached input tokens per project × model (catalog tokens.by_project_model, VictoriaMetrics) priced at the cached and at the uncached input price of the price book. The share is saved ÷ (spend + saved).';
  static override examples = ['<%= config.bin %> cost savings --since 30d', '<%= config.bin %> cost savings --project acme-support --json'];
  static override flags = {
    ...windowFlags,
    ...projectFlag,
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const window = resolveWindow({ since: f.since, from: f.from, to: f.to, hourAligned: true });
    const vm = new VictoriaMetricsClient(resolveEndpoints(f).vmUrl);
    const result = await cacheSavings(vm, { window, project: f.project, book: PriceBook.load() });
    if (!this.jsonEnabled()) this.printLine(savingsTable(result, colorEnabled()));
    return result;
  }
}
