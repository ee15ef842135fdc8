import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags } from '../../clients/backend.js';
import { endpointFlags } from '../../clients/endpoints.js';
import { listPriceBooks, priceBooksTable } from '../../finance/prices.js';

export default class PricesList extends BaseCommand<typeof PricesList> {
  static override summary = 'Price book versions the backend has loaded, with the time each took (or takes) effect';
  static override examples = ['<%= config.bin %> prices list', '<%= config.bin %> prices list --json'];
  static override flags = { ...endpointFlags };

  public async run(): Promise<unknown> {
    const client = backendClientFromFlags(this.flags);
    try {
      const items = await listPriceBooks(client);
      if (!this.jsonEnabled()) this.printLine(priceBooksTable(items));
      return { items };
    } finally {
      await client.close();
    }
  }
}
