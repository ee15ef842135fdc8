import { Args } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags } from '../../clients/backend.js';
import { endpointFlags } from '../../clients/endpoints.js';
import { importPriceBook, readBookFile } from '../../finance/prices.js';

export default class PricesImport extends BaseCommand<typeof PricesImport> {
  static override summary = 'Load a new price book into the backend; it prices calls from its effective_from on, never before';
  static override description = [
    'The book is a JSON file shaped like the bundled assets/pricebook.json, with a new "version" and an "effective_from" that is now or later (an ISO time with a zone, or a date = UTC midnight) and after every book already loaded.',
    'Calls already made keep the price they were charged; calls from effective_from on are priced by the new book and carry its version on their ledger row and on the cost metrics (cost --by price-book).',
    'A bad file is refused with the line at fault and nothing loaded changes: a price with more than three decimals (USD per million tokens), overlapping dates, an unknown currency, a model priced twice for one date, or a start in the past or inside a closed month.',
  ].join('\n\n');
  static override examples = ['<%= config.bin %> prices import pricebook-2027-01.json', '<%= config.bin %> prices import next.json --backend-url http://127.0.0.1:8000 --json'];
  static override args = { file: Args.string({ description: 'The price book (JSON)', required: true }) };
  static override flags = { ...endpointFlags };

  public async run(): Promise<unknown> {
    // Checked here first, so a bad file fails the same way with or without a backend.
    readBookFile(this.args.file);
    const client = backendClientFromFlags(this.flags);
    try {
      const result = await importPriceBook(client, this.args.file);
      if (!this.jsonEnabled()) this.printLine(`price book ${result.version} loaded; it prices calls from ${result.effective_from} on`);
      return result;
    } finally {
      await client.close();
    }
  }
}
