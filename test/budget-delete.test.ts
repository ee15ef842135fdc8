import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendApiError, BackendClient } from '../src/clients/backend.js';
import { runCommand, startInProcessBackend, type CommandResult, type InProcessBackend } from './helpers/in-process.js';

// `budget delete` end to end in-process: the backend route (204, 404, audited, the cap stops
// applying) and the thin CLI command over it. The log provider is registered before the backend
// modules load, as `serve` does, so the audit record can be read back.
const logExporter = new InMemoryLogRecordExporter();
logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] }));
const { default: BudgetDelete } = await import('../src/commands/budget/delete.js');

let b: InProcessBackend;
let backend: InProcessBackend['backend'];
let token: string;
let op: BackendClient;
const CALL = { agent_name: 'a', message: 'x', user: 'intern', simulate: { input_tokens: 1000, output_tokens: 1000 } };
const runCmd = (argv: string[]): Promise<CommandResult> => runCommand(BudgetDelete, argv, b);

beforeAll(async () => {
  b = await startInProcessBackend({ prefix: 'budget-delete', telemetryEnabled: true });
  ({ backend, token } = b);
  op = new BackendClient({ baseUrl: b.url, token });
  for (const p of ['acme', 'other']) {
    await op.createProject({ slug: p, name: p });
    await op.createAgent(p, { name: 'a', model: 'gpt-4o' });
  }
});

afterAll(async () => {
  await op.close();
  await b.close();
});

describe('DELETE /api/v1/budget/limits/{id}', () => {
  it('204 removes the cap: the call it stopped goes through; a second delete is 404; audited as budget.deleted', async () => {
    const cap = await op.setBudget('acme', { scope: 'user', subject: 'intern', window: 'daily', limit_usd: 0.001, action: 'stop' });
    await expect(op.run('acme', CALL)).rejects.toMatchObject({ status: 402 });
    const res = await request(`${backend.url}/api/v1/budget/limits/${cap.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'x-project-id': 'acme' } });
    expect(res.statusCode).toBe(204);
    expect(await res.body.text()).toBe('');
    expect(await op.listBudgets('acme')).toEqual([]);
    expect(await op.budgetStatus('acme')).toEqual([]);
    await expect(op.run('acme', CALL)).resolves.toMatchObject({ status: 'completed' });
    const again = await op.deleteBudget('acme', cap.id).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(BackendApiError);
    expect((again as BackendApiError).status).toBe(404);
    const rec = logExporter.getFinishedLogRecords().filter((r) => r.attributes['event.name'] === 'budget.deleted');
    expect(rec).toHaveLength(1);
    expect(rec[0]?.attributes).toMatchObject({ 'sagewai.project_id': 'acme', 'sagewai.budget.id': cap.id, 'sagewai.budget.scope': 'user', 'sagewai.budget.subject': 'intern' });
  });

  it("another project's cap is 404 and stays; without X-Project-ID 400", async () => {
    const theirs = await op.setBudget('other', { window: 'daily', scope: 'project', limit_usd: 5, action: 'warn' });
    await expect(op.deleteBudget('acme', theirs.id)).rejects.toMatchObject({ status: 404 });
    expect((await op.listBudgets('other')).map((b) => b.id)).toEqual([theirs.id]);
    const res = await request(`${backend.url}/api/v1/budget/limits/${theirs.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(400);
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('project_required');
  });
});

describe('sagewai-obs budget delete', () => {
  it('deletes by scope, subject and window (the key `budget set` replaces on), and by id', async () => {
    await op.setBudget('acme', { scope: 'team', subject: 'support', window: 'monthly', limit_usd: 50, action: 'warn' });
    const daily = await op.setBudget('acme', { scope: 'project', window: 'daily', limit_usd: 10, action: 'stop' });
    const r = await runCmd(['--project', 'acme', '--scope', 'team', '--subject', 'support', '--window', 'monthly', '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ project: 'acme', scope: 'team', subject: 'support', window: 'monthly', limit_usd: 50 });
    expect((await op.listBudgets('acme')).map((b) => b.id)).toEqual([daily.id]);
    const byId = await runCmd(['--project', 'acme', '--id', daily.id]);
    expect(byId.exitCode).toBe(0);
    expect(byId.stdout).toContain('deleted the project acme daily cap $10');
    expect(await op.listBudgets('acme')).toEqual([]);
  });

  it('a cap that is not there, or a team cap without --subject: exit 2 with a hint', async () => {
    const none = await runCmd(['--project', 'acme', '--window', 'monthly']);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('has no budget cap project acme monthly');
    expect(none.stderr).toContain('budget list --project acme');
    const noSubject = await runCmd(['--project', 'acme', '--scope', 'user']);
    expect(noSubject.exitCode).toBe(2);
    expect(noSubject.stderr).toContain('--subject is required');
  });
});
