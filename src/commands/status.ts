import { BaseCommand } from '../base-command.js';
import { endpointFlags, resolveStateDir } from '../clients/endpoints.js';
import { stackStatus } from '../stack/status.js';
import { color, statusWord } from '../ui/color.js';

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Health of each stack component and of VictoriaMetrics\' scrape of the collector';
  static override description = 'Exit code 0 whether or not the stack is healthy; read "healthy" in --json. Also shows the backend run-example started in this state dir and left running (`backend`; not part of "healthy").';
  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json'];

  static override flags = {
    'state-dir': endpointFlags['state-dir'],
  };

  public async run(): Promise<unknown> {
    const status = await stackStatus({ stateDir: resolveStateDir(this.flags['state-dir']) });
    if (this.jsonEnabled()) return status;
    const k = color();
    const b = status.backend;
    const backendLine = b ? `backend (run-example's): ${statusWord(k, b.healthy, b.healthy ? 'healthy' : 'unhealthy')} ${b.url} pid ${b.pid}${b.detail ? k.dim(` (${b.detail})`) : ''}` : undefined;
    if (!status.runtime) {
      this.printLine(`no stack recorded in ${status.stateDir} (start one with: sagewai-obs up)`);
      if (backendLine) this.printLine(backendLine);
      return status;
    }
    this.printLine(`stack (${status.runtime}${status.profile === 'cluster' ? ', cluster profile' : ''}): ${statusWord(k, status.healthy, status.healthy ? 'healthy' : 'NOT healthy')}`);
    for (const c of status.components) {
      const pid = c.pid === null ? '' : ` pid ${c.pid}`;
      this.printLine(`  ${c.component.padEnd(17)} ${statusWord(k, c.healthy, c.healthy ? 'healthy  ' : 'unhealthy')} ${c.healthUrl}${pid}${c.detail ? k.dim(` (${c.detail})`) : ''}`);
    }
    const s = status.collectorScrape;
    if (s) this.printLine(`  scrape of collector ${statusWord(k, s.up, s.up ? 'up' : 'down')}${s.lastError ? ` (${s.lastError})` : ''}`);
    if (backendLine) this.printLine(backendLine);
    return status;
  }
}
