import Table from 'cli-table3';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags, toCliError } from '../../clients/backend.js';
import { endpointFlags, projectFlag } from '../../clients/endpoints.js';

export default class BudgetList extends BaseCommand<typeof BudgetList> {
  static override summary = 'List spending caps';
  static override examples = ['<%= config.bin %> budget list', '<%= config.bin %> budget list --project acme-support --json'];
  static override flags = { ...endpointFlags, ...projectFlag };

  public async run(): Promise<unknown> {
    const client = backendClientFromFlags(this.flags);
    try {
      const items = await client.listBudgets(this.flags.project);
      if (this.jsonEnabled()) return { items };
      if (items.length === 0) this.printLine('no budgets set');
      else {
        const t = new Table({ head: ['project', 'scope', 'subject', 'window', 'limit USD', 'action', 'fallback'] });
        for (const b of items) t.push([b.project, b.scope, b.subject, b.window, b.limit_usd.toFixed(2), b.action, b.fallback_model ?? '']);
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
