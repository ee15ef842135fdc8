import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { vmForceFlush } from '../src/stack/health.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, eventually, reconcileExact, sleep, startLoad, waitForAcked, type Tenant } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// Fault 3 of docs/faults.md: the backend is SIGKILLed under load and started again on the same
// data directory. The ledger must hold every acknowledged run exactly once; ledger-backed
// counters resume from the ledger on the same series; process-local instruments get a new
// sagewai_boot_id series, so increase_pure() neither loses nor double counts across the restart.
let stack: TestStack;
let dataDir: string;
const backends: TestBackend[] = [];

const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

beforeAll(async () => {
  stack = await startTestStack();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-fault-backend-'));
});

afterAll(async () => {
  for (const b of backends) await b.stop().catch(() => undefined);
  await stack?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('backend SIGKILLed mid-load, restarted on the same data directory', () => {
  it('3. no acknowledged run is lost or double counted, and metrics still reconcile with the ledger', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [
      { project: 'f3-alpha', agent: 'support', model: 'claude-sonnet-4-5' },
      { project: 'f3-beta', agent: 'reviewer', model: 'gpt-4o-mini' },
    ];
    const b1 = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp, dataDir });
    backends.push(b1);
    const c1 = new BackendClient({ baseUrl: b1.url, token: b1.operatorToken, timeoutMs: 20_000 });
    await bootstrap(c1, tenants);
    const load1 = startLoad(c1, tenants, { concurrency: 6, maxRuns: 5000, maxMs: 60_000 });
    await waitForAcked(load1, 150);
    await sleep(3000); // let at least one export + scrape carry process 1's HTTP series
    const killedAt = Date.now();
    await b1.kill();
    const phase1 = await load1.stop();
    await c1.close();

    const b2 = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp, dataDir });
    backends.push(b2);
    const restartMs = Date.now() - killedAt;
    const c2 = new BackendClient({ baseUrl: b2.url, token: b2.operatorToken, timeoutMs: 20_000 });
    const phase2 = await startLoad(c2, tenants, { concurrency: 4, maxRuns: 200, maxMs: 60_000 }).done;
    const acked = [...phase1.acked, ...phase2.acked];

    // ── the ledger, read straight from the SQLite file the backend writes ──
    const db = new Database(path.join(dataDir, 'sagewai.db'), { readonly: true, fileMustExist: true });
    let ledgerIds: string[];
    let doubled: unknown[];
    let stillRunning: number;
    let openReservations: number;
    let completedRuns: number;
    try {
      ledgerIds = db.prepare<[], { run_id: string }>('SELECT run_id FROM ledger').all().map((r) => r.run_id);
      doubled = db.prepare('SELECT run_id, COUNT(*) AS n FROM ledger GROUP BY run_id HAVING n > 1').all();
      stillRunning = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'running'").get() as { n: number }).n;
      openReservations = (db.prepare('SELECT COUNT(*) AS n FROM reservations').get() as { n: number }).n;
      completedRuns = (db.prepare("SELECT COUNT(*) AS n FROM runs WHERE status = 'completed'").get() as { n: number }).n;
    } finally {
      db.close();
    }
    const inLedger = new Set(ledgerIds);
    const lostAcked = acked.filter((r) => !inLedger.has(r.run_id));
    const ackedIds = new Set(acked.map((r) => r.run_id));
    const committedUnacked = ledgerIds.filter((id) => !ackedIds.has(id)).length;

    const rec = await reconcileExact({ client: c2, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects: tenants.map((t) => t.project), onAttempt: log });

    // ── process-local HTTP metrics: one series set per process ──
    const vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
    const sel = 'http_server_request_duration_seconds_count{http_route="/playground/run", sagewai_project_id=~"f3-.*"}';
    const phase2Requests = phase2.started;
    const { value: perBoot } = await eventually(
      'per-process /playground/run counts',
      async () => {
        await vmForceFlush(stack.endpoints.vmUrl);
        return vm.query(`sum by (sagewai_boot_id) (${sel})`);
      },
      (rows) => rows.length === 2 && rows.some((r) => r.value === phase2Requests),
      30_000,
      2500,
    );
    const p1 = perBoot.find((r) => r.value !== phase2Requests);
    const window = `${Math.ceil((Date.now() - from.getTime()) / 1000)}s`;
    const inc = await vm.query(`sum(increase_pure(${sel}[${window}]))`);
    const instances = await vm.query('count by (instance) (sagewai_llm_cost_usd_total{sagewai_project_id=~"f3-.*"})');

    log(`backend: killed with ${phase1.acked.length} runs acknowledged (${phase1.failures.length} in flight or refused at the kill), restarted in ${restartMs} ms, ${phase2.acked.length} runs after; ledger ${ledgerIds.length} rows: acknowledged lost ${lostAcked.length}, double counted ${doubled.length}, committed but unacknowledged ${committedUnacked}, left running ${stillRunning}, open reservations ${openReservations}; reconciliation after ${rec.attempts} attempt(s): ${JSON.stringify(rec.rows.map((r) => ({ project: r.project, ledger_usd: r.ledger.cost_nusd / 1e9, diff_usd: r.cost_diff_usd, token_diff: r.token_diff, call_diff: r.call_diff })))}; /playground/run per boot id ${JSON.stringify(perBoot.map((r) => [r.metric.sagewai_boot_id, r.value]))}, increase_pure ${inc[0]?.value}`);

    expect(phase2.failures).toEqual([]);
    expect(lostAcked).toEqual([]);
    expect(doubled).toEqual([]);
    expect(stillRunning).toBe(0);
    expect(openReservations).toBe(0);
    expect(completedRuns).toBe(ledgerIds.length);
    // What was committed without an acknowledgement is bounded by the runs in flight at the kill.
    expect(committedUnacked).toBeLessThanOrEqual(6);
    for (const r of rec.rows) {
      expect(r.ledger.calls, r.project).toBeGreaterThan(0);
      expect(r.metrics.cost_nusd, r.project).toBe(r.ledger.cost_nusd);
      expect({ input: r.metrics.input, cached: r.metrics.cached_input, output: r.metrics.output, calls: r.metrics.calls }, r.project).toEqual({ input: r.ledger.input, cached: r.ledger.cached_input, output: r.ledger.output, calls: r.ledger.calls });
    }
    expect(rec.ok).toBe(true);
    expect(rec.rows.reduce((n, r) => n + r.ledger.calls, 0)).toBe(ledgerIds.length);
    // Ledger-backed counters: one series identity (instance) across both processes.
    expect(instances).toHaveLength(1);
    // Process-local: two boot ids; the new process's series counts exactly its own requests,
    // the old one what it exported before dying (at most what it served).
    expect(perBoot.map((r) => r.metric.sagewai_boot_id).every(Boolean)).toBe(true);
    expect(p1?.value ?? 0).toBeGreaterThan(0);
    expect(p1?.value ?? Infinity).toBeLessThanOrEqual(phase1.started);
    expect(inc[0]?.value).toBe((p1?.value ?? 0) + phase2Requests);
    await c2.close();
  });
});
