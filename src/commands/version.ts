import { BaseCommand } from '../base-command.js';
import { PINNED } from '../stack/versions.js';

export default class Version extends BaseCommand<typeof Version> {
  static override summary = 'Print the version of sagewai-obs and of the stack components it pins';
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];

  public async run(): Promise<unknown> {
    const result = { 'sagewai-obs': this.config.version, node: process.version, pinned: PINNED };
    if (!this.jsonEnabled()) {
      this.printLine(`sagewai-obs ${this.config.version} (node ${process.version})`);
      for (const [name, v] of Object.entries(PINNED)) this.printLine(`  ${name} ${v.version}`);
    }
    return result;
  }
}
