import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import BudgetList from '../src/commands/budget/list.js';
import BudgetSet from '../src/commands/budget/set.js';
import BudgetStatus from '../src/commands/budget/status.js';
import { BackendClient } from '../src/clients/backend.js';
import { runCommand, startInProcessBackend, type CommandResult, type InProcessBackend } from './helpers/in-process.js';

// The budget commands in-process against a real backend on port 0.
let b: InProcessBackend;
const runCmd = (cmd: Parameters<typeof runCommand>[0], argv: string[]): Promise<CommandResult> => runCommand(cmd, argv, b);

beforeAll(async () => {
  b = await startInProcessBackend({ prefix: 'budget-cmd' });
  const c = new BackendClient({ baseUrl: b.url, token: b.token });
  await c.createProject({ slug: 'acme', name: 'Acme' });
  await c.createAgent('acme', { name: 'a', model: 'gpt-4o' });
  await c.run('acme', { agent_name: 'a', message: 'x', user: 'intern', simulate: { input_tokens: 1000, output_tokens: 1000 } });
  await c.close();
});

afterAll(async () => {
  await b.close();
});

describe('budget set | list | status', () => {
  it('sets a user cap and shows its spend', async () => {
    const set = await runCmd(BudgetSet, ['--project', 'acme', '--scope', 'user', '--subject', 'intern', '--window', 'daily', '--limit', '1', '--action', 'stop', '--json']);
    expect(set.exitCode).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ project: 'acme', scope: 'user', subject: 'intern', limit_usd: 1, action: 'stop' });
    const list = await runCmd(BudgetList, ['--json']);
    expect(JSON.parse(list.stdout).items).toHaveLength(1);
    const status = await runCmd(BudgetStatus, ['--project', 'acme', '--json']);
    const [row] = JSON.parse(status.stdout).items as Array<{ spent_usd: number; utilization: number }>;
    // gpt-4o: 1000 × $2.50/M + 1000 × $10/M = $0.0125 against $1.
    expect(row?.spent_usd).toBeCloseTo(0.0125, 9);
    expect(row?.utilization).toBeCloseTo(0.0125, 9);
    const table = await runCmd(BudgetStatus, ['--project', 'acme']);
    expect(table.stdout).toContain('intern');
    expect(table.stdout).toContain('1.3%');
  });
  it('user mistakes exit 2 with a hint', async () => {
    const r = await runCmd(BudgetSet, ['--project', 'acme', '--scope', 'team', '--limit', '5']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--subject is required');
    const unknown = await runCmd(BudgetSet, ['--project', 'nope', '--limit', '5']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/404|not found/);
  });
});
