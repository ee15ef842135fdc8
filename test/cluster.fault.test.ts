import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaLogsClient } from '../src/clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { restartNativeComponent } from '../src/stack/restart.js';
import { readStackRecord } from '../src/stack/state.js';
import { stackStatus, waitFirstScrapes } from '../src/stack/status.js';
import { UserError } from '../src/errors.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, eventually, logsSince, reconcileExact, runBuiltCli, sleep, startLoad, waitForAcked, type Tenant } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// The native cluster profile under faults (docs/scale.md, docs/faults.md): one VictoriaLogs
// storage node dies, then one VictoriaMetrics node dies, each under load, and each comes back.
let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;

const log = (line: string): void => {
  process.stdout.write(`[cluster] ${line}\n`);
};

function pidOf(name: 'victoria-metrics' | 'vlstorage-2'): number {
  const record = readStackRecord(stack.stateDir);
  const pid = name === 'victoria-metrics' ? record?.components[name]?.pid : record?.cluster?.processes[name]?.pid;
  if (!pid) throw new Error(`no pid recorded for ${name}`);
  return pid;
}

async function kill(name: 'victoria-metrics' | 'vlstorage-2'): Promise<number> {
  const pid = pidOf(name);
  process.kill(pid, 'SIGKILL');
  await eventually(`${name} (pid ${pid}) gone`, async () => {
    try {
      process.kill(pid, 0);
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return / [ZX] /.test(stat.slice(stat.lastIndexOf(')')));
    } catch {
      return true;
    }
  }, (gone) => gone, 10_000, 50);
  return Date.now();
}

beforeAll(async () => {
  stack = await startTestStack({ profile: 'cluster' });
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken, timeoutMs: 20_000 });
  // As `up` does: vmauth routes /api/v1/targets to vmagent, the one that scrapes.
  await waitFirstScrapes(stack.endpoints.vmUrl, { timeoutMs: 60_000 });
}, 120_000);

afterAll(async () => {
  await client?.close();
  await backend?.stop();
  await stack?.stop();
});

describe('cluster profile', () => {
  it('status knows every process of the profile; the recorded VictoriaMetrics URL is vmauth', async () => {
    const st = await stackStatus({ stateDir: stack.stateDir });
    expect(st.profile).toBe('cluster');
    expect(st.components.map((c) => c.component).sort()).toEqual(
      ['collector', 'victoria-logs', 'victoria-metrics', 'vmalert', 'vlstorage-1', 'vlstorage-2', 'vlinsert', 'victoria-metrics-2', 'vmauth', 'vmagent'].sort(),
    );
    expect(st.components.filter((c) => !c.healthy)).toEqual([]);
    expect(st.collectorScrape?.up).toBe(true);
    expect(stack.record.endpoints.vmUrl).toBe(stack.record.cluster?.processes.vmauth.url);
  });

  it('a VictoriaLogs storage node killed: ingestion goes on, queries refuse a partial answer, and after it returns nothing written meanwhile is missing', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [{ project: 'cl-logs', agent: 'support', model: 'claude-sonnet-4-5' }];
    await bootstrap(client, tenants);
    const completed = `event.name:"agent.run.completed" sagewai.project_id:"cl-logs"`;
    const ids = async (url: string) => new Set((await logsSince(url, completed, from)).map((r) => r['sagewai.run.id'] as string));
    const select = stack.endpoints.vlUrl;
    const survivor = stack.record.cluster?.processes['vlstorage-1'].url as string;

    const pre = await startLoad(client, tenants, { concurrency: 2, maxRuns: 10, maxMs: 30_000 }).done;
    await eventually('pre-outage events through the select node', () => ids(select), (s) => s.size >= pre.acked.length, 30_000);
    await sleep(12_000); // well past the storage nodes' in-memory flush (5 s), so the SIGKILL cannot take them

    await kill('vlstorage-2');
    const during = await startLoad(client, tenants, { concurrency: 2, maxRuns: 20, maxMs: 30_000 }).done;
    expect(during.failures).toEqual([]);
    const duringIds = during.acked.map((r) => r.run_id);

    // Ingestion went on: the surviving storage node holds every run finished meanwhile.
    const onSurvivor = await eventually('runs of the outage on the surviving storage node', () => ids(survivor), (s) => duringIds.every((id) => s.has(id)), 30_000);
    log(`storage node 2 down: ${duringIds.length} runs, all ${duringIds.length} on storage node 1 after ${onSurvivor.waitedMs} ms`);

    // The select node says a node is missing instead of answering with half the logs.
    const err = await new VictoriaLogsClient(select).query(completed, { start: from, limit: 10 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(new RegExp(`storage node http://127\\.0\\.0\\.1:${stack.record.cluster?.ports.vlStorage2} is unavailable`));
    const audit = await runBuiltCli(['audit', '--vl-url', select, '--since', '10m'], { ...process.env, NO_COLOR: '1' }, 30_000);
    expect(audit.code).toBe(2);
    expect(audit.stderr).toMatch(/storage node .* is unavailable/);
    expect(audit.stderr).toMatch(/Try this:/);

    // doctor names the dead process; status marks it.
    const doctor = await runBuiltCli(['doctor', '--state-dir', stack.stateDir, '--backend-url', backend.url, '--json'], { ...process.env, NO_COLOR: '1', SAGEWAI_OBS_TOKEN: backend.operatorToken }, 60_000);
    expect(doctor.code).toBe(3);
    const failedProbes = ((JSON.parse(doctor.stdout) as { result: { probes: Array<{ name: string; status: string; hint?: string }> } }).result.probes).filter((p) => p.status === 'fail');
    expect(failedProbes.map((p) => p.name).sort()).toEqual(['backend logs arriving', 'cluster vlstorage-2 healthy']);
    expect(failedProbes.find((p) => p.name === 'cluster vlstorage-2 healthy')?.hint).toMatch(/select node fail/);
    expect((await stackStatus({ stateDir: stack.stateDir })).components.find((c) => c.component === 'vlstorage-2')).toMatchObject({ healthy: false, processAlive: false });

    await restartNativeComponent({ stateDir: stack.stateDir, component: 'vlstorage-2' });
    const want = new Set([...pre.acked, ...during.acked].map((r) => r.run_id));
    const after = await eventually('every run through the select node', () => ids(select), (s) => [...want].every((id) => s.has(id)), 30_000).catch(async (e: unknown) => {
      const s = await ids(select);
      const s1 = await ids(survivor);
      const s2 = await ids(stack.record.cluster?.processes['vlstorage-2'].url as string);
      log(`missing: pre ${pre.acked.filter((r) => !s.has(r.run_id)).length}/${pre.acked.length}, during ${during.acked.filter((r) => !s.has(r.run_id)).length}/${during.acked.length}; node1 ${s1.size}, node2 ${s2.size}, select ${s.size}`);
      throw e;
    });
    expect([...want].filter((id) => !after.value.has(id))).toEqual([]);
    expect(after.value.size).toBe(want.size);
  });

  it('one VictoriaMetrics killed mid-load: cost and verify keep answering through vmauth; after it returns vmagent fills the gap and both nodes reconcile $0', async () => {
    const from = new Date(Date.now() - 2000);
    const tenants: Tenant[] = [
      { project: 'cl-alpha', agent: 'support', model: 'claude-sonnet-4-5' },
      { project: 'cl-beta', agent: 'reviewer', model: 'gpt-4o-mini' },
    ];
    const projects = tenants.map((t) => t.project);
    await bootstrap(client, tenants);
    // Bounded by time, not count, so runs go on through the whole outage.
    const load = startLoad(client, tenants, { concurrency: 3, maxRuns: 20_000, maxMs: 120_000, pauseMs: 50 });
    await waitForAcked(load, 20);
    const vmauth = new VictoriaMetricsClient(stack.endpoints.vmUrl);
    await eventually('both tenants\' cost series through vmauth', async () => (await vmauth.query('sum by (sagewai_project_id) (sagewai_llm_cost_usd_total)')).map((r) => r.metric.sagewai_project_id), (ps) => projects.every((p) => ps.includes(p)), 30_000, 500);
    // Node 1 is the one vmauth prefers (first_available): its loss is the one reads must survive.
    const killedAt = await kill('victoria-metrics');
    const ackedAtKill = load.result.acked.length;
    await sleep(3000);
    const cost = await runBuiltCli(['cost', '--vm-url', stack.endpoints.vmUrl, '--by', 'project', '--since', '10m', '--format', 'json'], { ...process.env, NO_COLOR: '1' }, 60_000);
    expect(cost.code, cost.stderr).toBe(0);
    expect(cost.stdout).toContain('cl-alpha');
    const hud = await runBuiltCli(['hud', '--json', '--vm-url', stack.endpoints.vmUrl, '--vl-url', stack.endpoints.vlUrl, '--backend-url', backend.url], { ...process.env, NO_COLOR: '1', SAGEWAI_OBS_TOKEN: backend.operatorToken }, 60_000);
    expect(hud.code, hud.stderr).toBe(0);
    const model = JSON.parse(hud.stdout) as { sources: Record<string, { state: string; reason?: string }>; spend: Array<{ project: string; costUsd: number }> };
    expect(model.sources.metrics?.state, JSON.stringify(model.sources)).toBe('ok');
    expect(model.spend.find((t) => t.project === 'cl-alpha')?.costUsd).toBeGreaterThan(0);
    const whileDown = await reconcileExact({ client, vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects, timeoutMs: 20_000 });
    log(`node 1 down: cost answered in ${cost.ms} ms, hud --json in ${hud.ms} ms; reconcile through vmauth ok=${whileDown.ok} after ${whileDown.waitedMs} ms`);
    await sleep(4000);
    const ackedWhileDown = load.result.acked.length - ackedAtKill;
    expect(ackedWhileDown).toBeGreaterThan(0);
    const { readyMs } = await restartNativeComponent({ stateDir: stack.stateDir, component: 'victoria-metrics' });
    const downMs = Date.now() - killedAt;
    await sleep(3000);
    const result = await load.stop();
    expect(result.failures).toEqual([]);
    const nodes = stack.record.cluster?.vmNodes as string[];
    for (const [i, vmUrl] of [...nodes, stack.endpoints.vmUrl].entries()) {
      const rec = await reconcileExact({ client, vmUrl, vlUrl: stack.endpoints.vlUrl, from, projects, timeoutMs: 60_000 });
      log(`${i < nodes.length ? `node ${i + 1}` : 'vmauth'} (${vmUrl}): ok=${rec.ok} after ${rec.attempts} attempt(s) ${rec.waitedMs} ms; node 1 was down ${downMs} ms, back healthy in ${readyMs} ms; ${result.acked.length} runs, ${ackedWhileDown} while it was down`);
      for (const r of rec.rows) {
        expect(r.ledger.calls, r.project).toBeGreaterThan(0);
        expect(r.metrics.cost_nusd, `${vmUrl} ${r.project}`).toBe(r.ledger.cost_nusd);
        expect(r.call_diff, `${vmUrl} ${r.project}`).toBe(0);
      }
      expect(rec.verifyMismatches).toEqual([]);
      expect(rec.ok).toBe(true);
    }
  });

  it('a Prometheus query base with a path prefix (a cluster select path with a tenant, served by vmauth) works for cost, the HUD, verify and doctor', async () => {
    const prefixed = `${stack.endpoints.vmUrl}/select/0/prometheus`;
    const env = { ...process.env, NO_COLOR: '1' };
    const cost = await runBuiltCli(['cost', '--vm-url', prefixed, '--by', 'project', '--since', '10m', '--format', 'json'], env, 60_000);
    expect(cost.code, cost.stderr).toBe(0);
    expect(cost.stdout).toContain('cl-alpha');
    const hud = await runBuiltCli(['hud', '--json', '--vm-url', prefixed, '--vl-url', stack.endpoints.vlUrl, '--backend-url', backend.url], { ...env, SAGEWAI_OBS_TOKEN: backend.operatorToken }, 60_000);
    expect(hud.code, hud.stderr).toBe(0);
    const model = JSON.parse(hud.stdout) as { sources: Record<string, { state: string }>; spend: Array<{ project: string; costUsd: number }> };
    expect(model.sources.metrics?.state, JSON.stringify(model.sources)).toBe('ok');
    expect(model.spend.find((t) => t.project === 'cl-alpha')?.costUsd).toBeGreaterThan(0);
    const doctor = await runBuiltCli(['doctor', '--state-dir', stack.stateDir, '--vm-url', prefixed, '--vl-url', stack.endpoints.vlUrl, '--backend-url', backend.url, '--json'], { ...env, SAGEWAI_OBS_TOKEN: backend.operatorToken }, 60_000);
    log(`doctor on ${prefixed}: exit ${doctor.code}; ${doctor.stdout.slice(0, 1500)}`);
    const body = JSON.parse(doctor.stdout) as { probes?: Array<{ name: string; status: string; detail?: string }> };
    const reach = body.probes?.find((p) => p.name === 'victoria-metrics reachable');
    // No /health under the prefix: the probe fell back to a query.
    expect(reach).toMatchObject({ status: 'ok', detail: `${prefixed}/api/v1/query?query=1` });
    expect(body.probes?.filter((p) => p.status === 'fail')).toEqual([]);
    expect(doctor.code).toBe(0);
    const verify = await runBuiltCli(['verify', '--state-dir', stack.stateDir, '--vm-url', prefixed, '--vl-url', stack.endpoints.vlUrl, '--backend-url', backend.url, '--since', '10m', '--json'], { ...env, SAGEWAI_OBS_TOKEN: backend.operatorToken }, 120_000);
    // This load drives runs only (no budgets, fleet or logins), so the panels fed by those have no
    // data; every other check (each catalog query answering on the prefixed base, the ledger ==
    // VictoriaMetrics reconciliation, the scrape jobs) must pass.
    const out = JSON.parse(verify.stdout) as { error?: { message?: string } };
    const problems = (out.error?.message ?? '').split('\n').slice(1).map((l) => l.trim()).filter(Boolean);
    log(`verify on ${prefixed}: exit ${verify.code}; ${problems.length} problem(s)`);
    expect(problems.filter((p) => !/: no data$/.test(p) || /reconcil|cost|spend|token/i.test(p))).toEqual([]);
    expect(problems.every((p) => /(budget|fleet|workers|logins|errors_by_route)/i.test(p)), problems.join('; ')).toBe(true);
  });
});
