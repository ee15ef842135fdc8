import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { restartNativeComponent } from '../src/stack/restart.js';
import { readStackRecord } from '../src/stack/state.js';
import { vmForceFlush } from '../src/stack/health.js';
import type { ComponentName } from '../src/stack/versions.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, eventually, exportSamples, failuresBetween, logsSince, reconcileExact, sleep, startLoad, waitForAcked, type Tenant } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// Faults 1, 2 and 4 of docs/faults.md: one stack component at a time dies under load (SIGKILL)
// and is started again with its recorded command line; afterwards the ledger and
// VictoriaMetrics must agree exactly (catalog queries + src/verify), and the backend must have
// kept serving throughout.
let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;

const log = (line: string): void => {
  process.stdout.write(`[fault] ${line}\n`);
};

function pidOf(c: ComponentName): number {
  const pid = readStackRecord(stack.stateDir)?.components[c]?.pid;
  if (!pid) throw new Error(`no pid recorded for ${c}`);
  return pid;
}

async function killComponent(c: ComponentName): Promise<number> {
  const pid = pidOf(c);
  process.kill(pid, 'SIGKILL');
  await eventually(`${c} (pid ${pid}) gone`, async () => {
    try {
      process.kill(pid, 0);
      const stat = (await import('node:fs')).readFileSync(`/proc/${pid}/stat`, 'utf8');
      return / [ZX] /.test(stat.slice(stat.lastIndexOf(')')));
    } catch {
      return true;
    }
  }, (gone) => gone, 10_000, 50);
  return Date.now();
}

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken, timeoutMs: 20_000 });
});

afterAll(async () => {
  await client?.close();
  await backend?.stop();
  await stack?.stop();
});

describe('stack components die under load', () => {
  it('1. collector SIGKILLed mid-load and restarted: per-tenant cost and tokens in VictoriaMetrics equal the ledger exactly', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [
      { project: 'f1-alpha', agent: 'support', model: 'claude-sonnet-4-5' },
      { project: 'f1-beta', agent: 'reviewer', model: 'gpt-4o-mini' },
    ];
    await bootstrap(client, tenants);
    const load = startLoad(client, tenants, { concurrency: 4, maxRuns: 3000, maxMs: 120_000 });
    await waitForAcked(load, 30);
    const ackedBefore = load.result.acked.length;
    const killedAt = await killComponent('collector');
    await sleep(5000); // the SDK's exports fail meanwhile; cumulative totals lose nothing
    const ackedWhileDown = load.result.acked.length - ackedBefore;
    const { readyMs } = await restartNativeComponent({ stateDir: stack.stateDir, component: 'collector' });
    const recoveredAt = Date.now();
    await sleep(4000);
    const result = await load.stop();
    const failedDuringFault = failuresBetween(result, killedAt, recoveredAt);
    const rec = await reconcileExact({ client, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects: tenants.map((t) => t.project) });
    log(`collector: ${result.acked.length} runs acknowledged (${ackedWhileDown} while the collector was down ${recoveredAt - killedAt} ms, restart healthy after ${readyMs} ms), ${result.failures.length} failed (${failedDuringFault} during the fault); reconciliation after ${rec.attempts} attempt(s), ${rec.waitedMs} ms: ${JSON.stringify(rec.rows.map((r) => ({ project: r.project, ledger_usd: r.ledger.cost_nusd / 1e9, diff_usd: r.cost_diff_usd, token_diff: r.token_diff, call_diff: r.call_diff })))}`);
    expect(result.failures).toEqual([]);
    expect(ackedWhileDown).toBeGreaterThan(0);
    for (const r of rec.rows) {
      expect(r.ledger.calls, r.project).toBeGreaterThan(0);
      expect(r.metrics.cost_nusd, r.project).toBe(r.ledger.cost_nusd);
      expect({ input: r.metrics.input, cached: r.metrics.cached_input, output: r.metrics.output, calls: r.metrics.calls }, r.project).toEqual({ input: r.ledger.input, cached: r.ledger.cached_input, output: r.ledger.output, calls: r.ledger.calls });
    }
    expect(rec.verifyMismatches).toEqual([]);
    expect(rec.ok).toBe(true);
    // The ledger itself: every acknowledged run is in it.
    expect(rec.rows.reduce((n, r) => n + r.ledger.calls, 0)).toBe(result.acked.length);
  });

  it('2. VictoriaMetrics SIGKILLed mid-load and restarted: data flushed before the kill survives; totals reconcile', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [
      { project: 'f2-alpha', agent: 'support', model: 'claude-haiku-4-5' },
      { project: 'f2-beta', agent: 'reviewer', model: 'gpt-4o' },
    ];
    await bootstrap(client, tenants);
    const selector = '{__name__=~"sagewai_llm_cost_usd_total|sagewai_llm_tokens_total", sagewai_project_id=~"f2-.*"}';
    const load = startLoad(client, tenants, { concurrency: 2, maxRuns: 3000, maxMs: 120_000, pauseMs: 20 });
    await waitForAcked(load, 20);
    // What VictoriaMetrics holds well before the kill (a few scrapes' worth: polled, since a busy
    // machine scrapes late), and (flushed) just before it.
    let early: Awaited<ReturnType<typeof exportSamples>> = [];
    const earlyDeadline = Date.now() + 30_000;
    do {
      await sleep(2000);
      await vmForceFlush(stack.endpoints.vmUrl);
      early = await exportSamples(stack.endpoints.vmUrl, selector, from, new Date());
    } while (early.reduce((n, s) => n + s.timestamps.length, 0) <= 10 && Date.now() < earlyDeadline);
    await sleep(22_000);
    await vmForceFlush(stack.endpoints.vmUrl);
    const before = await exportSamples(stack.endpoints.vmUrl, selector, from, new Date());
    const killedAt = await killComponent('victoria-metrics');
    await sleep(5000);
    const { readyMs } = await restartNativeComponent({ stateDir: stack.stateDir, component: 'victoria-metrics' });
    const recoveredAt = Date.now();
    await sleep(4000);
    const result = await load.stop();
    const after = await exportSamples(stack.endpoints.vmUrl, selector, from, new Date(killedAt));
    const key = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort());
    const ids = (series: typeof before) => series.flatMap((s) => s.timestamps.map((t, i) => ({ id: `${key(s.metric)}@${t}=${s.values[i]}`, t })));
    const afterSet = new Set(ids(after).map((s) => s.id));
    const earlySamples = ids(early);
    const beforeSamples = ids(before);
    const lostEarly = earlySamples.filter((s) => !afterSet.has(s.id));
    const lost = beforeSamples.filter((s) => !afterSet.has(s.id));
    // VictoriaMetrics documents -inmemoryDataFlushInterval (5 s) as the SIGKILL loss bound; we
    // measured 9–13 s (docs/faults.md), so the asserted bound is 20 s.
    const lostOld = lost.filter((s) => s.t < killedAt - 20_000);
    const failedDuringFault = failuresBetween(result, killedAt, recoveredAt);
    const rec = await reconcileExact({ client, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects: tenants.map((t) => t.project), onAttempt: log });
    log(`victoria-metrics: ${beforeSamples.length} samples before the kill (${earlySamples.length} of them ≥ 22 s old); after the restart ${lost.length} missing, all from the last ${lost.length ? Math.round((killedAt - Math.min(...lost.map((s) => s.t))) / 1000) : 0} s before the kill (${lostEarly.length} of the ≥ 22 s old ones); down ${recoveredAt - killedAt} ms (healthy after ${readyMs} ms); ${result.acked.length} runs acknowledged, ${result.failures.length} failed (${failedDuringFault} during the fault); reconciliation after ${rec.attempts} attempt(s), ${rec.waitedMs} ms: ${JSON.stringify(rec.rows.map((r) => ({ project: r.project, ledger_usd: r.ledger.cost_nusd / 1e9, diff_usd: r.cost_diff_usd, token_diff: r.token_diff })))}`);
    // Diagnostics for the idle tenants of case 1 across the kill (docs/faults.md).
    const idle = await exportSamples(stack.endpoints.vmUrl, 'sagewai_llm_cost_usd_total{sagewai_project_id="f1-alpha"}', new Date(from.getTime() - 30_000), new Date());
    for (const s of idle) log(`f1-alpha samples (s relative to the kill → value): ${s.timestamps.map((t, i) => `${Math.round((t - killedAt) / 1000)}→${s.values[i]}`).join(' ')}`);
    expect(earlySamples.length).toBeGreaterThan(10);
    expect(lostEarly).toEqual([]);
    expect(lostOld).toEqual([]);
    expect(result.failures).toEqual([]);
    for (const r of rec.rows) {
      expect(r.ledger.calls, r.project).toBeGreaterThan(0);
      expect(r.metrics.cost_nusd, r.project).toBe(r.ledger.cost_nusd);
      expect({ input: r.metrics.input, cached: r.metrics.cached_input, output: r.metrics.output, calls: r.metrics.calls }, r.project).toEqual({ input: r.ledger.input, cached: r.ledger.cached_input, output: r.ledger.output, calls: r.ledger.calls });
    }
    expect(rec.ok).toBe(true);
  });

  it('4. VictoriaLogs down for a while: the backend keeps serving; audit events emitted meanwhile arrive once it is back', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [{ project: 'f4-logs', agent: 'support', model: 'gpt-4o-mini' }];
    await bootstrap(client, tenants);
    const completedQuery = `event.name:"agent.run.completed" sagewai.project_id:"f4-logs"`;
    const runIds = async () => (await logsSince(stack.endpoints.vlUrl, completedQuery, from)).map((r) => r['sagewai.run.id'] as string);

    const pre = await startLoad(client, tenants, { concurrency: 2, maxRuns: 10, maxMs: 30_000 }).done;
    await eventually('pre-outage events in VictoriaLogs', runIds, (ids) => ids.length >= pre.acked.length, 30_000);
    await sleep(12_000); // well past VictoriaLogs' -inmemoryDataFlushInterval (5 s), so a SIGKILL cannot take them

    const downAt = await killComponent('victoria-logs');
    const during = await startLoad(client, tenants, { concurrency: 2, maxRuns: 30, maxMs: 60_000 }).done;
    const outageMs = 20_000 - (Date.now() - downAt);
    if (outageMs > 0) await sleep(outageMs);
    const { readyMs } = await restartNativeComponent({ stateDir: stack.stateDir, component: 'victoria-logs' });
    const backAt = Date.now();
    const post = await startLoad(client, tenants, { concurrency: 2, maxRuns: 5, maxMs: 30_000 }).done;

    const expected = [...pre.acked, ...during.acked, ...post.acked].map((r) => r.run_id);
    let ids: string[] = [];
    try {
      ids = (await eventually('every audit event in VictoriaLogs', runIds, (v) => expected.every((id) => v.includes(id)), 60_000, 1000)).value;
    } catch (err) {
      const seen = new Set(await runIds());
      const missing = (rs: typeof pre.acked) => rs.filter((r) => !seen.has(r.run_id)).length;
      log(`victoria-logs: missing before/during/after the outage: ${missing(pre.acked)}/${missing(during.acked)}/${missing(post.acked)} of ${pre.acked.length}/${during.acked.length}/${post.acked.length}`);
      throw err;
    }
    const arrivedAfterMs = Date.now() - backAt;
    await sleep(3000); // late duplicates, if retries produced any, would show now
    const final = await runIds();
    const counts = new Map<string, number>();
    for (const id of final) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicates = [...counts.values()].filter((n) => n > 1).length;
    const collectorMetrics = await (await fetch(stack.endpoints.collectorMetrics)).text();
    const failedExport = collectorMetrics.split('\n').filter((l) => /^otelcol_exporter_send_failed_log_records/.test(l)).map((l) => Number(l.split(' ').pop())).reduce((a, b) => a + b, 0);
    log(`victoria-logs: down ${backAt - downAt} ms (healthy after ${readyMs} ms); ${during.acked.length} runs during the outage, ${during.failures.length} failed; all ${expected.length} run events present ${arrivedAfterMs} ms after VictoriaLogs was back (${ids.length} seen); duplicates ${duplicates}; collector send_failed_log_records ${failedExport}`);
    expect(during.failures).toEqual([]);
    expect(during.acked.length).toBe(30);
    expect(final.filter((id) => expected.includes(id)).length).toBe(expected.length);
    expect(duplicates).toBe(0);
    expect(failedExport).toBe(0);
    // Within the retry bounds stated in assets/collector/config.yaml (max_interval 10 s).
    expect(arrivedAfterMs).toBeLessThan(30_000);
  });
});
