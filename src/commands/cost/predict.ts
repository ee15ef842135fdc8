import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { colorEnabled } from '../../ui/color.js';
import { PriceBook } from '../../backend/pricebook.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../../clients/endpoints.js';
import { VictoriaMetricsClient } from '../../clients/victoria-metrics.js';
import { UserError } from '../../errors.js';
import { predictTable } from '../../finance/format.js';
import { loadPriceBookFile, predictCost } from '../../finance/predict.js';
import { resolveWindow } from '../../report/cost.js';
import { windowFlags } from '../../window-flags.js';

export default class CostPredict extends BaseCommand<typeof CostPredict> {
  static override summary = 'What the same usage would have cost on another model or price book, next to the actual cost, per project';
  static override description = 'Token counts per project × model × type come from VictoriaMetrics (catalog tokens.by_project_model); actual spend from cost.by_project, the number `cost --by project` shows. Models the what-if cannot price are shown as unpriced tokens, never as $0.';
  static override examples = [
    '<%= config.bin %> cost predict --as-model claude-haiku-4-5 --since 7d',
    '<%= config.bin %> cost predict --price-book ./next-quarter-prices.json --project acme-support',
  ];
  static override flags = {
    'as-model': Flags.string({ description: 'Price every call as this model (a model id or alias of the price book)', env: 'SAGEWAI_OBS_PREDICT_AS_MODEL' }),
    'price-book': Flags.string({ description: 'Price with this price book file instead of the bundled one', env: 'SAGEWAI_OBS_PREDICT_PRICE_BOOK' }),
    ...windowFlags,
    ...projectFlag,
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    if (f['as-model'] === undefined && f['price-book'] === undefined) throw new UserError('say what to compare with: --as-model or --price-book (or both)', ['sagewai-obs cost predict --as-model gpt-4o-mini', 'sagewai-obs cost predict --price-book ./prices.json']);
    const window = resolveWindow({ since: f.since, from: f.from, to: f.to, hourAligned: true });
    const book = f['price-book'] !== undefined ? loadPriceBookFile(f['price-book']) : PriceBook.load();
    const vm = new VictoriaMetricsClient(resolveEndpoints(f).vmUrl);
    const result = await predictCost(vm, { window, project: f.project, asModel: f['as-model'], book, bookFile: f['price-book'] });
    if (!this.jsonEnabled()) this.printLine(predictTable(result, colorEnabled()));
    return result;
  }
}
