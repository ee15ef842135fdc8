import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { runExample } from '../src/run-example/index.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
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

beforeAll(async () => {
  [stack, server] = await Promise.all([startTestStack(), startTestPostgres()]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-replicas-e2e-'));
  for (const i of [1, 2, 3]) replicas.push(await startTestBackend({ dataDir, otlpHttp: stack.endpoints.otlpHttp, args: ['--database', server.url, '--instance-id', `backend-${i}`], env: { SAGEWAI_OBS_LATENCY_SCALE: '1' } }));
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
});
