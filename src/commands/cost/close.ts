import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags } from '../../clients/backend.js';
import { endpointFlags, resolveEndpoints } from '../../clients/endpoints.js';
import { VictoriaMetricsClient } from '../../clients/victoria-metrics.js';
import { CheckFailedError, UserError } from '../../errors.js';
import { closedTable, closeMonth, listClosedMonths, verifyClosedMonths, verifyTable } from '../../finance/close.js';

export default class CostClose extends BaseCommand<typeof CostClose> {
  static override summary = "Close a month: freeze its totals per project × model under a hash chain; list or verify closed months";
  static override description = [
    "--month YYYY-MM (UTC, over already) snapshots the ledger's totals per project and model; its hash covers the totals and the previous closed month's hash, so months close in order.",
    'After that the backend refuses any ledger write dated in the month and any price book that would take effect inside it.',
    '--verify checks every closed month against its hash chain, the ledger as it is now, and VictoriaMetrics (exact increase over the month, to the nano-dollar); it exits 3 when one no longer matches.',
  ].join('\n\n');
  static override examples = ['<%= config.bin %> cost close --month 2026-11', '<%= config.bin %> cost close --list', '<%= config.bin %> cost close --verify --json'];
  static override flags = {
    month: Flags.string({ description: 'The month to close, YYYY-MM (UTC)', env: 'SAGEWAI_OBS_CLOSE_MONTH', exclusive: ['list', 'verify'] }),
    list: Flags.boolean({ description: 'List closed months with their totals and hashes', exclusive: ['month', 'verify'] }),
    verify: Flags.boolean({ description: 'Check closed months against their hashes, the ledger and VictoriaMetrics (exit 3 on a mismatch)', exclusive: ['month', 'list'] }),
    ...endpointFlags,
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    if (!f.month && !f.list && !f.verify) throw new UserError('say what to do: --month YYYY-MM, --list or --verify', ['sagewai-obs cost close --month 2026-11', 'sagewai-obs cost close --verify']);
    const client = backendClientFromFlags(f);
    try {
      if (f.month) {
        const r = await closeMonth(client, f.month);
        if (!this.jsonEnabled()) this.printLine(`${closedTable([r])}\nclosed ${r.month}: hash ${r.hash} (previous ${r.prev_hash})`);
        return r;
      }
      if (f.list) {
        const items = await listClosedMonths(client);
        if (!this.jsonEnabled()) this.printLine(closedTable(items));
        return { items };
      }
      const result = await verifyClosedMonths(client, new VictoriaMetricsClient(resolveEndpoints(f).vmUrl));
      if (!this.jsonEnabled()) this.printLine(verifyTable(result));
      if (!result.ok) throw new CheckFailedError('a closed month no longer matches its hash, the ledger or VictoriaMetrics', result);
      return result;
    } finally {
      await client.close();
    }
  }
}
