import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendApiError, BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap } from './helpers/fault.js';

// Fault 5 of docs/faults.md: 50 concurrent calls against a stop cap with room for exactly
// three; then the same race while a second `serve` is started on the same data directory, which
// the data-dir lock refuses (its start-up recovery would otherwise run over the first process's
// open reservations).
let dataDir: string;
let a: TestBackend;
let ca: BackendClient;
let costNusd: number;

const MODEL = 'gpt-4o';
const TOKENS = { input_tokens: 1000, output_tokens: 200 };

const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-fault-race-'));
  a = await startTestBackend({ dataDir });
  ca = new BackendClient({ baseUrl: a.url, token: a.operatorToken, timeoutMs: 30_000, connections: 64 });
  // Worst case = actual: max_output_tokens equals the simulated output.
  await bootstrap(ca, ['calib', 'race-one', 'race-two'].map((p) => ({ project: p, agent: 'bot', model: MODEL })), { max_output_tokens: TOKENS.output_tokens });
  const calib = await ca.run('calib', { agent_name: 'bot', message: 'price one call', simulate: TOKENS });
  costNusd = calib.usage?.cost_nusd as number;
});

afterAll(async () => {
  await ca?.close();
  await a?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

async function race(project: string, clients: BackendClient[]): Promise<{ statuses: Map<string, number>; spentNusd: number; limitNusd: number; openReservations: number }> {
  const limitUsd = (3.5 * costNusd) / 1e9;
  await ca.setBudget(project, { scope: 'project', window: 'daily', limit_usd: limitUsd, action: 'stop' });
  const outcomes = await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const c = clients[i % clients.length] as BackendClient;
      try {
        const r = await c.run(project, { agent_name: 'bot', message: `race ${i}`, simulate: TOKENS });
        return r.status;
      } catch (err) {
        return err instanceof BackendApiError ? String(err.status) : `error: ${(err as Error).message}`;
      }
    }),
  );
  const statuses = new Map<string, number>();
  for (const o of outcomes) statuses.set(o, (statuses.get(o) ?? 0) + 1);
  const ledger = await ca.costs({ project, group_by: ['project'] });
  const db = new Database(path.join(dataDir, 'sagewai.db'), { readonly: true, fileMustExist: true });
  let openReservations: number;
  try {
    openReservations = (db.prepare('SELECT COUNT(*) AS n FROM reservations WHERE project = ?').get(project) as { n: number }).n;
  } finally {
    db.close();
  }
  return { statuses, spentNusd: ledger.total.cost_nusd, limitNusd: Math.round(limitUsd * 1e9), openReservations };
}

describe('budget race at a stop cap with room for three calls', () => {
  it('5a. one process: 50 concurrent calls → exactly 3 succeed, overshoot $0', async () => {
    const r = await race('race-one', [ca]);
    log(`budget race, one process: ${JSON.stringify(Object.fromEntries(r.statuses))}; spent $${r.spentNusd / 1e9} of $${r.limitNusd / 1e9}; overshoot $${Math.max(0, r.spentNusd - r.limitNusd) / 1e9}`);
    expect(Object.fromEntries(r.statuses)).toEqual({ completed: 3, '402': 47 });
    expect(r.spentNusd).toBe(3 * costNusd);
    expect(Math.max(0, r.spentNusd - r.limitNusd)).toBe(0);
    expect(r.openReservations).toBe(0);
  });

  it('5b. a second serve on the same data dir during the race is refused (exit 2, names the PID); the race is untouched', async () => {
    const racing = race('race-two', [ca]);
    const second = await startTestBackend({ dataDir, env: { SAGEWAI_OBS_LATENCY_SCALE: '0' } }).then(
      async (b) => {
        await b.stop();
        return 'started';
      },
      (err: Error) => err.message,
    );
    expect(second).toMatch(/exited \(code 2\)/);
    expect(second).toContain(`in use by another sagewai-obs serve (PID ${a.pid}`);
    expect(second).toContain(`Try this: kill ${a.pid}`);
    const r = await racing;
    log(`budget race, second serve refused: ${JSON.stringify(Object.fromEntries(r.statuses))}; spent $${r.spentNusd / 1e9} of $${r.limitNusd / 1e9}; overshoot $${Math.max(0, r.spentNusd - r.limitNusd) / 1e9}`);
    expect(Object.fromEntries(r.statuses)).toEqual({ completed: 3, '402': 47 });
    expect(r.spentNusd).toBe(3 * costNusd);
    expect(Math.max(0, r.spentNusd - r.limitNusd)).toBe(0);
    expect(r.openReservations).toBe(0);
    // Every call left a run row (3 completed, 47 denied): nothing was recovered away.
    const runs = await ca.listRuns({ project: 'race-two', limit: 100 });
    expect(runs.items.map((x) => x.status).sort()).toEqual([...Array(3).fill('completed'), ...Array(47).fill('denied')].sort());
  });
});
