import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, resolveStateDir } from '../clients/endpoints.js';
import { down } from '../stack/runtime.js';

export default class Down extends BaseCommand<typeof Down> {
  static override summary = 'Stop the stack and the backend run-example started (SIGTERM, then SIGKILL after a timeout); data is kept unless --purge';
  static override examples = ['<%= config.bin %> down', '<%= config.bin %> down --purge'];

  static override flags = {
    'state-dir': endpointFlags['state-dir'],
    purge: Flags.boolean({ description: 'Also delete the components\' data and logs, and the data directories of the backends run-example started (one a running serve holds is kept)', env: 'SAGEWAI_OBS_PURGE', default: false }),
    timeout: Flags.integer({ description: 'Seconds to wait after SIGTERM before SIGKILL', env: 'SAGEWAI_OBS_DOWN_TIMEOUT', min: 0, default: 10 }),
  };

  public async run(): Promise<unknown> {
    const stateDir = resolveStateDir(this.flags['state-dir']);
    const result = await down({ stateDir, purge: this.flags.purge, timeoutMs: this.flags.timeout * 1000 });
    if (this.jsonEnabled()) return { stateDir, ...result };
    const b = result.backend;
    if (b) this.printLine(b.stopped === 'not-running' ? `backend pid ${b.pid} (${b.url}) was no longer running` : `backend stopped (${b.url}, pid ${b.pid}: ${b.stopped})`);
    if (result.runtime === null) this.printLine(`no stack recorded in ${stateDir}${b ? '' : '; nothing to stop'}`);
    else {
      const how = Object.entries(result.stopped).map(([c, s]) => `${c} ${s}`);
      this.printLine(`stack stopped (${result.runtime})${how.length > 0 ? `: ${how.join(', ')}` : ''}`);
    }
    this.printLine(result.purged ? 'data and logs removed' : `data kept in ${stateDir}/data (down --purge removes it)`);
    const dirs = result.backendDataDirs;
    if (dirs && dirs.removed > 0) this.printLine(`removed the data of ${dirs.removed} backend${dirs.removed === 1 ? '' : 's'} run-example started`);
    if (dirs && dirs.inUse.length > 0) this.printLine(`kept, a running serve holds it: ${dirs.inUse.join(', ')}`);
    return { stateDir, ...result };
  }
}
