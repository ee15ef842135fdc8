import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { backendClientFromFlags, toCliError } from '../../clients/backend.js';
import { endpointFlags } from '../../clients/endpoints.js';
import { UserError } from '../../errors.js';

export default class BudgetSet extends BaseCommand<typeof BudgetSet> {
  static override summary = 'Create or replace a spending cap for a project, team or user';
  static override examples = [
    '<%= config.bin %> budget set --project acme-support --window daily --limit 25 --action stop',
    '<%= config.bin %> budget set --project acme-support --scope user --subject bob --window daily --limit 3 --action throttle --fallback-model claude-haiku-4-5',
  ];
  static override flags = {
    ...endpointFlags,
    project: Flags.string({ description: 'Project (tenant) slug the cap belongs to', env: 'SAGEWAI_OBS_PROJECT', char: 'p', required: true }),
    scope: Flags.string({ description: 'What the cap applies to', options: ['project', 'team', 'user'], default: 'project', env: 'SAGEWAI_OBS_BUDGET_SCOPE' }),
    subject: Flags.string({ description: 'Team or user name (scope team/user)', env: 'SAGEWAI_OBS_BUDGET_SUBJECT' }),
    window: Flags.string({ description: 'Daily (UTC midnight) or calendar month', options: ['daily', 'monthly'], default: 'daily', env: 'SAGEWAI_OBS_BUDGET_WINDOW' }),
    limit: Flags.string({ description: 'Cap in USD', required: true, env: 'SAGEWAI_OBS_BUDGET_LIMIT' }),
    action: Flags.string({ description: 'At the cap: warn, throttle (fall back to a cheaper model) or stop (402)', options: ['warn', 'throttle', 'stop'], default: 'warn', env: 'SAGEWAI_OBS_BUDGET_ACTION' }),
    'fallback-model': Flags.string({ description: 'Cheaper model for --action throttle', env: 'SAGEWAI_OBS_BUDGET_FALLBACK_MODEL' }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const limit = Number(f.limit);
    if (!Number.isFinite(limit) || limit < 0) throw new UserError(`invalid --limit ${JSON.stringify(f.limit)}: expected USD, e.g. 25 or 2.5`, 'sagewai-obs budget set --limit 25 …');
    if (f.scope !== 'project' && !f.subject) throw new UserError(`--subject is required for --scope ${f.scope}`, `sagewai-obs budget set --scope ${f.scope} --subject <name> …`);
    const client = backendClientFromFlags(f);
    try {
      const row = await client.setBudget(f.project, {
        scope: f.scope as 'project',
        ...(f.subject ? { subject: f.subject } : {}),
        window: f.window as 'daily',
        limit_usd: limit,
        action: f.action as 'warn',
        ...(f['fallback-model'] ? { fallback_model: f['fallback-model'] } : {}),
      });
      if (!this.jsonEnabled()) this.printLine(`${row.project}: ${row.scope} ${row.subject} ${row.window} cap $${row.limit_usd} → ${row.action}${row.fallback_model ? ` (fallback ${row.fallback_model})` : ''}`);
      return row;
    } catch (err) {
      throw toCliError(err, client.baseUrl);
    } finally {
      await client.close();
    }
  }
}
