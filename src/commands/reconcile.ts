import fs from 'node:fs';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { colorEnabled } from '../ui/color.js';
import { PriceBook } from '../backend/pricebook.js';
import { endpointFlags, projectFlag, resolveEndpoints } from '../clients/endpoints.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { CheckFailedError, UserError } from '../errors.js';
import { reconcileCsv, reconcileTable } from '../finance/format.js';
import { parseInvoice, type InvoiceProvider } from '../finance/invoice.js';
import { reconcileInvoice } from '../finance/reconcile-invoice.js';

export default class Reconcile extends BaseCommand<typeof Reconcile> {
  static override summary = "Compare a provider's usage or cost export with sagewai-obs, day × model";
  static override description =
    "Reads OpenAI's costs (group_by=line_item) or completions usage (group_by=model) JSON, Anthropic's cost report or messages usage report JSON, or a CSV with columns date, model and cost_usd (or input_tokens, cached_input_tokens, output_tokens). " +
    'Our side is `cost --by model` over each UTC day of the file, from VictoriaMetrics. Dated model ids are matched through the price book. ' +
    'Exits 3 when any day × model differs by more than the tolerance; a malformed or foreign file exits 2 naming the row and column (or JSON path) at fault. ' +
    'Calls near midnight may land in the next day on our side (one scrape interval), so keep the tolerance above a few calls\' cost.';
  static override examples = [
    '<%= config.bin %> reconcile --invoice openai-costs.json',
    '<%= config.bin %> reconcile --invoice anthropic-usage.json --tolerance-tokens 100',
    '<%= config.bin %> reconcile --invoice invoice.csv --provider openai --tolerance 0.05 --format csv > diff.csv',
  ];
  static override flags = {
    invoice: Flags.string({ description: "The provider's export: JSON (OpenAI or Anthropic usage/cost report) or CSV", required: true, env: 'SAGEWAI_OBS_INVOICE' }),
    provider: Flags.string({ description: 'Whose invoice it is (JSON reports say it themselves; needed for a CSV without a provider column to leave other providers\' models out)', options: ['openai', 'anthropic'], env: 'SAGEWAI_OBS_INVOICE_PROVIDER' }),
    tolerance: Flags.string({ description: 'Largest accepted |difference| per day × model, USD (cost reports)', default: '0.01', env: 'SAGEWAI_OBS_RECONCILE_TOLERANCE' }),
    'tolerance-tokens': Flags.integer({ description: 'Largest accepted |difference| per day × model and token type (usage reports)', default: 0, min: 0, env: 'SAGEWAI_OBS_RECONCILE_TOLERANCE_TOKENS' }),
    all: Flags.boolean({ description: 'List matching cells too, not only the differing ones', default: false }),
    format: Flags.string({ description: 'Output format (--json is the same as --format json)', options: ['table', 'json', 'csv'], default: 'table', env: 'SAGEWAI_OBS_RECONCILE_FORMAT' }),
    ...projectFlag,
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const toleranceUsd = Number(f.tolerance);
    if (!Number.isFinite(toleranceUsd) || toleranceUsd < 0) throw new UserError(`invalid --tolerance ${JSON.stringify(f.tolerance)}: expected USD ≥ 0`, 'sagewai-obs reconcile --invoice FILE --tolerance 0.01');
    let text: string;
    try {
      text = fs.readFileSync(f.invoice, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read --invoice ${f.invoice} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'pass the path of the report you downloaded: sagewai-obs reconcile --invoice ./costs.json');
    }
    const invoice = parseInvoice(f.invoice, text, f.provider as InvoiceProvider | undefined);
    const vm = new VictoriaMetricsClient(resolveEndpoints(f).vmUrl);
    const result = await reconcileInvoice(vm, { invoice, priceBook: PriceBook.load(), toleranceUsd, toleranceTokens: f['tolerance-tokens'], project: f.project });
    const format = this.jsonEnabled() ? 'json' : f.format;
    const failed = result.differing > 0 ? new CheckFailedError(`${result.differing} day × model cell${result.differing === 1 ? '' : 's'} differ from the invoice beyond the tolerance`, result) : undefined;
    // Under --json a failure prints {error, result} once, from the base command.
    if (format === 'json') {
      if (failed) throw failed;
      if (this.jsonEnabled()) return result;
      this.logJson(result);
    }
    else if (format === 'csv') process.stdout.write(reconcileCsv(result));
    else this.printLine(reconcileTable(result, colorEnabled(), f.all));
    if (failed) throw failed;
    return result;
  }
}
