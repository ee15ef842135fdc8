import { BaseCommand } from '../base-command.js';
import { endpointFlags, resolveStateDir } from '../clients/endpoints.js';
import { stackStatus } from '../stack/status.js';

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Health of each stack component and of VictoriaMetrics\' scrape of the collector';
  static override description = 'Exit code 0 whether or not the stack is healthy; read "healthy" in --json.';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];

  static override flags = {
    'state-dir': endpointFlags['state-dir'],
  };

  public async run(): Promise<unknown> {
    const status = await stackStatus({ stateDir: resolveStateDir(this.flags['state-dir']) });
    if (this.flags.json) {
      this.printJson(status);
      return status;
    }
    if (!status.runtime) {
      this.printLine(`no stack recorded in ${status.stateDir} (start one with: sagewai-obs up)`);
      return status;
    }
    this.printLine(`stack (${status.runtime}): ${status.healthy ? 'healthy' : 'NOT healthy'}`);
    for (const c of status.components) {
      const pid = c.pid === null ? '' : ` pid ${c.pid}`;
      this.printLine(`  ${c.component.padEnd(17)} ${c.healthy ? 'healthy  ' : 'unhealthy'} ${c.healthUrl}${pid}${c.detail ? ` (${c.detail})` : ''}`);
    }
    const s = status.collectorScrape;
    if (s) this.printLine(`  scrape of collector ${s.up ? 'up' : 'down'}${s.lastError ? ` (${s.lastError})` : ''}`);
    return status;
  }
}
