import fs from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { UserError } from '../../errors.js';
import { DASHBOARD_FILE, DASHBOARD_UID, dashboardJson } from '../../queries/dashboard.js';
import { catalogMarkdown } from '../../queries/docs.js';

export default class DashboardExport extends BaseCommand<typeof DashboardExport> {
  static override summary = 'Write the Grafana board JSON generated from the query catalog';
  static override description = `Writes ${DASHBOARD_FILE} into the current directory unless --out names another file; import it into Grafana, or mount it with the provisioning under the package's assets/grafana. Never writes into the installed package. In a clone, \`npm run dashboard\` regenerates the committed board and docs/queries.md.`;
  static override examples = ['<%= config.bin %> dashboard export', '<%= config.bin %> dashboard export --out ./boards/sagewai-admin.json', '<%= config.bin %> dashboard export --out - | jq .panels[0].title'];
  static override flags = {
    docs: Flags.string({ description: 'Also write the catalog as a Markdown table to this file (docs/queries.md)', env: 'SAGEWAI_OBS_DASHBOARD_DOCS' }),
    out: Flags.string({ char: 'o', description: `File to write, or - for stdout [default: ./${DASHBOARD_FILE}]`, env: 'SAGEWAI_OBS_DASHBOARD_OUT' }),
  };

  public async run(): Promise<unknown> {
    const text = dashboardJson();
    if (this.flags.docs) fs.writeFileSync(path.resolve(this.flags.docs), catalogMarkdown());
    if (this.flags.out === '-') {
      process.stdout.write(text);
      return undefined;
    }
    const file = path.resolve(this.flags.out ?? DASHBOARD_FILE);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const unchanged = fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text;
      if (!unchanged) fs.writeFileSync(file, text);
      const result = { file, uid: DASHBOARD_UID, bytes: Buffer.byteLength(text), changed: !unchanged };
      if (!this.jsonEnabled()) this.printLine(`${unchanged ? 'unchanged' : 'wrote'} ${file} (uid ${DASHBOARD_UID})`);
      return result;
    } catch (err) {
      throw new UserError(`cannot write ${file}: ${(err as Error).message}`, 'pass --out with a writable path');
    }
  }
}
