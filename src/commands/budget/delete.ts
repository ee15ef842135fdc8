import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags, toCliError } from '../../clients/backend.js';
import { endpointFlags } from '../../clients/endpoints.js';
import { UserError } from '../../errors.js';

export default class BudgetDelete extends BaseCommand<typeof BudgetDelete> {
  static override summary = 'Remove a spending cap: by its id, or by the scope, subject and window it was set with';
  static override description = 'The cap stops applying to calls that start after it is gone; spend already recorded stays in the ledger. `budget list --json` shows each cap\'s id.';
  static override examples = [
    '<%= config.bin %> budget delete --project acme-support --window daily',
    '<%= config.bin %> budget delete --project acme-support --scope user --subject bob --window daily',
    '<%= config.bin %> budget delete --project acme-support --id bud_AbC123',
  ];
  static override flags = {
    ...endpointFlags,
    project: Flags.string({ description: 'Project (tenant) slug the cap belongs to', env: 'SAGEWAI_OBS_PROJECT', char: 'p', required: true }),
    id: Flags.string({ description: 'The cap\'s id (from `budget list --json`); replaces --scope/--subject/--window', env: 'SAGEWAI_OBS_BUDGET_ID' }),
    scope: Flags.string({ description: 'What the cap applies to', options: ['project', 'team', 'user'], default: 'project', env: 'SAGEWAI_OBS_BUDGET_SCOPE' }),
    subject: Flags.string({ description: 'Team or user name (scope team/user)', env: 'SAGEWAI_OBS_BUDGET_SUBJECT' }),
    window: Flags.string({ description: 'The cap\'s window', options: ['daily', 'monthly'], default: 'daily', env: 'SAGEWAI_OBS_BUDGET_WINDOW' }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    if (!f.id && f.scope !== 'project' && !f.subject) throw new UserError(`--subject is required for --scope ${f.scope}`, `sagewai-obs budget delete --project ${f.project} --scope ${f.scope} --subject <name> --window ${f.window}`);
    const client = backendClientFromFlags(f);
    try {
      const row = await client.deleteBudgetMatching(f.project, f.id ? { id: f.id } : { scope: f.scope as 'project', subject: f.subject, window: f.window as 'daily' });
      if (!row) {
        const which = f.id ? `id ${f.id}` : `${f.scope} ${f.subject ?? f.project} ${f.window}`;
        throw new UserError(`project ${f.project} has no budget cap ${which}`, `sagewai-obs budget list --project ${f.project} shows its caps`);
      }
      if (!this.jsonEnabled()) this.printLine(`${row.project}: deleted the ${row.scope} ${row.subject} ${row.window} cap $${row.limit_usd} → ${row.action} (${row.id})`);
      return row;
    } catch (err) {
      throw toCliError(err, client.baseUrl);
    } finally {
      await client.close();
    }
  }
}
