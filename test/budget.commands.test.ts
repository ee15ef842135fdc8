import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { startBackend, type RunningBackend } from '../src/backend/server.js';
import { openStore } from '../src/backend/store.js';
import BudgetList from '../src/commands/budget/list.js';
import BudgetSet from '../src/commands/budget/set.js';
import BudgetStatus from '../src/commands/budget/status.js';
import { BackendClient } from '../src/clients/backend.js';

// The budget commands in-process against a real backend on port 0.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let dir: string;
let backend: RunningBackend;
let token: string;

async function runCmd(cmd: { run(argv: string[], opts: string): Promise<unknown> }, argv: string[]): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  process.exitCode = undefined;
  try {
    await cmd.run([...argv, '--backend-url', backend.url, '--token', token, '--state-dir', dir], root);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-budget-cmd-'));
  const store = openStore(path.join(dir, 'data'));
  token = store.operatorToken;
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 1, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: false });
  const c = new BackendClient({ baseUrl: backend.url, token });
  await c.createProject({ slug: 'acme', name: 'Acme' });
  await c.createAgent('acme', { name: 'a', model: 'gpt-4o' });
  await c.run('acme', { agent_name: 'a', message: 'x', user: 'intern', simulate: { input_tokens: 1000, output_tokens: 1000 } });
  await c.close();
});

afterAll(async () => {
  await backend.close();
  fs.rmSync(dir, { recursive: true, force: true });
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
