import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { runExample } from '../src/run-example/index.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, reconcileExact, sleep, startLoad, waitForAcked } from './helpers/fault.js';
import { startTestPostgres, type TestPostgres } from './helpers/postgres.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * Example 43 spread over three `serve` replicas on one real PostgreSQL, exporting to the real
 * collector → VictoriaMetrics: `verify` reconciles the shared ledger with the sum over the three
 * replicas' series to the nano-dollar (each replica exports the totals of the rows it wrote,
 * under its own service.instance.id, so nothing is counted twice).
 */
let stack: TestStack;
let server: TestPostgres;
let dataDir: string;
const replicas: TestBackend[] = [];

const startReplica = (i: number): Promise<TestBackend> => startTestBackend({ dataDir, otlpHttp: stack.endpoints.otlpHttp, args: ['--database', server.url, '--instance-id', `backend-${i}`], env: { SAGEWAI_OBS_LATENCY_SCALE: '1' } });

beforeAll(async () => {
  [stack, server] = await Promise.all([startTestStack(), startTestPostgres()]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-replicas-e2e-'));
  for (const i of [1, 2, 3]) replicas.push(await startReplica(i));
});

afterAll(async () => {
  for (const r of replicas) await r.stop().catch(() => undefined);
  await server?.stop();
  await stack?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('run-example 43 over three replicas on PostgreSQL', () => {
  it('spreads the load over every replica and verify reconciles ledger == VictoriaMetrics to the nano-dollar', async () => {
    const token = fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
    const r = await runExample({ example: '43', durationMs: 20_000, verify: true, keep: false, stateDir: stack.stateDir, backendUrl: replicas.map((b) => b.url).join(','), token });
    expect(r.failed).toEqual([]);
    const costChecks = r.verification?.checks.filter((c) => /^cost \S+ \/ \S+: VictoriaMetrics == ledger$/.test(c.name)) ?? [];
    expect(costChecks.length).toBeGreaterThanOrEqual(3);
    expect(costChecks.every((c) => c.ok)).toBe(true);
    // Every replica wrote ledger rows and exports them under its own instance id.
    const vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
    const perInstance = await vm.query('sum by (instance) (sagewai_llm_cost_usd_total)');
    const instances = perInstance.filter((s) => s.value > 0).map((s) => s.metric.instance).sort();
    process.stdout.write(`[e2e] cost series per instance: ${perInstance.map((s) => `${s.metric.instance}=${s.value}`).join(', ')}\n`);
    expect(instances).toEqual(['backend-1', 'backend-2', 'backend-3']);
    // The gauges read from shared tables come from one replica only (else a sum would triple them).
    const fleetBy = await vm.query('count by (instance) (sagewai_fleet_workers)');
    process.stdout.write(`[e2e] fleet gauge series per instance: ${fleetBy.map((s) => `${s.metric.instance}=${s.value}`).join(', ')}\n`);
    expect(fleetBy).toHaveLength(1);
  });

  it('kill -9 one replica mid-load and start it again with its id: the others keep serving, ledger == VictoriaMetrics to the nano-dollar', async () => {
    const token = fs.readFileSync(path.join(dataDir, 'operator-token'), 'utf8').trim();
    const mk = (b: TestBackend): BackendClient => new BackendClient({ baseUrl: b.url, token, timeoutMs: 60_000, connections: 16 });
    const tenants = [
      { project: 'kill-a', agent: 'bot', model: 'gpt-4o' },
      { project: 'kill-b', agent: 'bot', model: 'gpt-4o-mini' },
    ];
    const clients = replicas.map(mk);
    await bootstrap(clients[0] as BackendClient, tenants);
    const from = new Date();
    const loads = clients.map((c) => startLoad(c, tenants, { concurrency: 4, maxRuns: 2000, maxMs: 14_000 }));
    await waitForAcked(loads[1] as ReturnType<typeof startLoad>, 10);
    await (replicas[1] as TestBackend).kill();
    const killedAt = Date.now();
    await loads[1]?.stop();
    await sleep(1000);
    replicas[1] = await startReplica(2);
    const restartedMs = Date.now() - killedAt;
    const again = mk(replicas[1]);
    const after = await startLoad(again, tenants, { concurrency: 4, maxRuns: 40, maxMs: 5000 }).done;
    const [r0, r2] = await Promise.all([loads[0]?.done, loads[2]?.done]);
    process.stdout.write(`[e2e] kill -9 backend-2: replicas 1 and 3 served ${r0?.acked.length} + ${r2?.acked.length} runs with ${(r0?.failures.length ?? 0) + (r2?.failures.length ?? 0)} failures; the restarted backend-2 served ${after.acked.length} (up again ${restartedMs} ms after the kill)\n`);
    expect(r0?.failures).toEqual([]);
    expect(r2?.failures).toEqual([]);
    expect(after.failures).toEqual([]);
    const rec = await reconcileExact({ client: again, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects: tenants.map((t) => t.project), onAttempt: (l) => process.stdout.write(`[e2e] ${l}\n`) });
    process.stdout.write(`[e2e] reconcile after the kill: ${JSON.stringify(rec.rows.map((r) => ({ project: r.project, cost_diff_usd: r.cost_diff_usd, token_diff: r.token_diff, call_diff: r.call_diff })))} after ${rec.attempts} attempt(s)\n`);
    expect(rec.ok).toBe(true);
    for (const c of [...clients, again]) await c.close();
  });
});
