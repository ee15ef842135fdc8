import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient, type CostReport as LedgerReport } from '../src/clients/backend.js';
import { VictoriaLogsClient } from '../src/clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { catalog } from '../src/queries/index.js';
import type { CostReport } from '../src/report/cost.js';
import { COST_CSV_COLUMNS } from '../src/report/format.js';
import { reconcile, runVerify } from '../src/verify/index.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * The catalog, `cost`, `audit` and `verify` against the real collector, VictoriaMetrics,
 * VictoriaLogs and backend. Expected numbers come from the backend's ledger (the source of
 * record) and from the workload this test drove, never from the command under test.
 */

const bin = path.join(import.meta.dirname, '..', 'bin', 'run.js');
const PROJECTS = ['acme-support', 'globex-codereview', 'initech-sales'] as const;
/** USD → whole nano-dollars, the ledger's exact unit (micro-dollar rounding splits at half-micros). */
const nano = (usd: number): number => Math.round(usd * 1e9);

let stack: TestStack;
let backend: TestBackend;
let api: BackendClient;
let startedAt: Date;
/** Run ids this test caused, per project. */
const runIds = new Map<string, string[]>();

async function cli(args: string[], opts: { reject?: boolean } = {}) {
  return execa(process.execPath, [bin, ...args], {
    reject: opts.reject ?? true,
    env: {
      SAGEWAI_OBS_VM_URL: stack.endpoints.vmUrl,
      SAGEWAI_OBS_VL_URL: stack.endpoints.vlUrl,
      SAGEWAI_OBS_BACKEND_URL: backend.url,
      SAGEWAI_OBS_TOKEN: backend.operatorToken,
      SAGEWAI_OBS_STATE_DIR: stack.stateDir,
      NO_COLOR: '1',
    },
  });
}

async function workload(): Promise<void> {
  const anon = new BackendClient({ baseUrl: backend.url });
  await anon.setup({ org_name: 'Catalog Test HQ', admin_email: 'admin@example.test', admin_password: 'correct horse battery staple' });
  await anon.login('admin@example.test', 'wrong password').catch(() => undefined); // auth.login.failed
  await anon.login('admin@example.test', 'correct horse battery staple');
  api = anon;
  const models: Record<string, string[]> = {
    'acme-support': ['claude-haiku-4-5', 'claude-sonnet-4-6'],
    'globex-codereview': ['claude-sonnet-4-6', 'gpt-4o-mini'],
    // An unknown model: its calls are unpriced and must show as such, never as $0.
    'initech-sales': ['gpt-4o-mini', 'mystery-model-x'],
  };
  for (const [i, slug] of PROJECTS.entries()) {
    await api.createProject({ slug, name: slug });
    const agents = models[slug]!.map((model, j) => ({ name: `${slug}-agent${j}`, model }));
    for (const a of agents) await api.createAgent(slug, { name: a.name, model: a.model, system_prompt: 'test' });
    await api.setBudget(slug, { scope: 'project', window: 'daily', limit_usd: 50, action: 'warn' });
    const ids: string[] = [];
    for (let k = 0; k < 3 + i; k++) {
      for (const a of agents) {
        const r = await api.run(slug, { agent_name: a.name, message: `hello ${k}`, simulate: { input_tokens: 1000 + 137 * k + i, cached_input_tokens: 100 * k, output_tokens: 200 + 11 * k, reasoning_tokens: 50 * k + 7 * i } });
        ids.push(r.run_id);
      }
    }
    // One failed call per project (run outcome error).
    const failed = await api.run(slug, { agent_name: agents[0]!.name, message: 'fail', simulate: { fail: 'server_error' } }).catch(() => undefined);
    if (failed) ids.push(failed.run_id);
    runIds.set(slug, ids);
    // A tenant-scoped 4xx (unknown agent) for the error panels.
    await api.run(slug, { agent_name: 'no-such-agent', message: 'x' }).catch(() => undefined);
    // Fleet: a worker that claims and reports one completed and one failed task.
    const w = await api.fleetRegister(slug, { name: `${slug}-w1`, models: [agents[0]!.model], pool: 'default', labels: {}, max_concurrent: 1 });
    const creds = { worker_id: w.worker_id, worker_secret: w.worker_secret };
    await api.fleetHeartbeat(creds, { status: 'online' });
    for (const status of ['completed', 'failed'] as const) {
      await api.createTask(slug, { pool: 'default', payload: { n: status } });
      const t = await api.fleetClaim(creds, 0);
      if (t) await api.fleetReport(creds, { task_id: t.task_id, status, ...(status === 'failed' ? { error: 'boom' } : { result: 'ok' }) });
    }
  }
  // 4xx traffic for the status panels.
  await api.getProject('no-such-project').catch(() => undefined);
  await new BackendClient({ baseUrl: backend.url }).me().catch(() => undefined);
  await api.healthSummary();
}

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  startedAt = new Date(Date.now() - 60_000);
  await workload();
  // Wait until VictoriaMetrics has caught up with the ledger (export 0.5 s + scrape 2 s).
  const r = await reconcile({ vm: new VictoriaMetricsClient(stack.endpoints.vmUrl), vl: new VictoriaLogsClient(stack.endpoints.vlUrl), backend: api, window: { from: startedAt, to: new Date() }, slideToNow: true, reconcileTimeoutMs: 60_000, pollMs: 1000 });
  expect(r.ok, JSON.stringify(r.mismatches)).toBe(true);
}, 240_000);

afterAll(async () => {
  await api?.close();
  await backend?.stop();
  await stack?.stop();
});

async function ledger(groupBy: Array<'project' | 'model' | 'agent'>): Promise<LedgerReport> {
  return api.costs({ from: startedAt, to: new Date(), group_by: groupBy });
}

describe('cost', () => {
  it('--by project --json equals the ledger per project to the nano-dollar, with tokens and calls', async () => {
    const { stdout } = await cli(['cost', '--by', 'project', '--since', '30m', '--json']);
    const report = JSON.parse(stdout) as CostReport;
    const want = await ledger(['project']);
    expect(want.groups.length).toBe(PROJECTS.length);
    expect(report.rows.map((r) => r.group).sort()).toEqual([...PROJECTS].sort());
    for (const g of want.groups) {
      const row = report.rows.find((r) => r.group === g.project)!;
      expect(nano(row.cost_usd), g.project).toBe(g.cost_nusd);
      expect(row).toMatchObject({ input_tokens: g.input_tokens, output_tokens: g.output_tokens, cached_input_tokens: g.cached_input_tokens, reasoning_tokens: g.reasoning_tokens, calls: g.calls, unpriced_calls: g.unpriced_calls });
      expect(g.reasoning_tokens, g.project).toBeGreaterThan(0);
    }
    expect(nano(report.total.cost_usd)).toBe(want.total.cost_nusd);
    // The unknown model's calls are reported as unpriced, not hidden.
    expect(report.rows.find((r) => r.group === 'initech-sales')!.unpriced_calls).toBeGreaterThan(0);
  });

  it('--by model --json equals the ledger per model', async () => {
    const report = JSON.parse((await cli(['cost', '--by', 'model', '--since', '30m', '--json'])).stdout) as CostReport;
    const want = await ledger(['model']);
    expect(report.rows.map((r) => r.group).sort()).toEqual(want.groups.map((g) => g.model!).sort());
    for (const g of want.groups) {
      const row = report.rows.find((r) => r.group === g.model)!;
      expect(nano(row.cost_usd), g.model).toBe(g.cost_nusd);
      expect(row.calls, g.model).toBe(g.calls);
    }
    const mystery = report.rows.find((r) => r.group === 'mystery-model-x')!;
    expect(mystery.cost_usd).toBe(0);
    expect(mystery.unpriced_calls).toBe(mystery.calls);
    const table = (await cli(['cost', '--by', 'model', '--since', '30m'])).stdout;
    expect(table).toMatch(/mystery-model-x\s*│\s*unknown \(\d+ unpriced calls?\)/);
  });

  it('--by agent and --by token-type add up to the same total as the ledger', async () => {
    const want = await ledger(['agent']);
    const agent = JSON.parse((await cli(['cost', '--by', 'agent', '--since', '30m', '--json'])).stdout) as CostReport;
    expect(nano(agent.total.cost_usd)).toBe(want.total.cost_nusd);
    expect(agent.rows.length).toBe(want.groups.length);
    const types = JSON.parse((await cli(['cost', '--by', 'token-type', '--since', '30m', '--json'])).stdout) as CostReport;
    const byType = await api.costs({ from: startedAt, to: new Date(), group_by: ['token_type'] });
    expect(types.rows.map((r) => r.group).sort()).toEqual(['cached_input', 'input', 'output', 'reasoning']);
    for (const t of ['input', 'output', 'cached_input', 'reasoning']) {
      const g = byType.groups.find((x) => x.token_type === t)!;
      const row = types.rows.find((r) => r.group === t)!;
      expect(nano(row.cost_usd), t).toBe(g.cost_nusd);
      expect(g.cost_nusd, t).toBeGreaterThan(0);
    }
    // Reasoning is counted apart from output, in both the ledger and the metrics.
    const reasoning = types.rows.find((r) => r.group === 'reasoning')!;
    expect(reasoning.reasoning_tokens).toBe(byType.groups.find((x) => x.token_type === 'reasoning')!.reasoning_tokens);
    expect(types.rows.find((r) => r.group === 'output')!.reasoning_tokens).toBe(0);
    expect(nano(types.total.cost_usd)).toBe(want.total.cost_nusd);
    expect(types.total.unpriced_tokens).toBeGreaterThan(0);
  });

  it('CSV has the stable columns and parses back to the JSON numbers', async () => {
    const csv = (await cli(['cost', '--by', 'project', '--since', '30m', '--format', 'csv'])).stdout.trim().split('\n');
    const json = JSON.parse((await cli(['cost', '--by', 'project', '--since', '30m', '--json'])).stdout) as CostReport;
    expect(csv[0]).toBe(COST_CSV_COLUMNS.join(','));
    const rows = csv.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [COST_CSV_COLUMNS[i]!, v])));
    for (const r of json.rows) {
      const c = rows.find((x) => x.group === r.group)!;
      expect(nano(Number(c.cost_usd))).toBe(nano(r.cost_usd));
      expect(Number(c.calls)).toBe(r.calls);
      expect(Number(c.input_tokens)).toBe(r.input_tokens);
      expect(Number(c.unpriced_calls)).toBe(r.unpriced_calls);
    }
    expect(nano(Number(rows.find((x) => x.group === 'TOTAL')!.cost_usd))).toBe(nano(json.total.cost_usd));
  });

  it('--project shows no other tenant anywhere in the output', async () => {
    // Every grouping as JSON, and the human and finance formats of the most detailed one.
    const cases = [...['project', 'model', 'agent', 'token-type'].map((by) => [by, 'json']), ['agent', 'csv'], ['agent', 'table']];
    for (const [by, format] of cases) {
      const out = (await cli(['cost', '--by', by!, '--since', '30m', '--project', 'acme-support', '--format', format!])).stdout;
      for (const other of PROJECTS.filter((p) => p !== 'acme-support')) expect(out, `${by} ${format}`).not.toContain(other);
      // gpt-4o-mini and mystery-model-x are used only by the other tenants.
      expect(out).not.toContain('mystery-model-x');
      expect(out).not.toContain('gpt-4o-mini');
    }
    const acme = JSON.parse((await cli(['cost', '--by', 'project', '--since', '30m', '--project', 'acme-support', '--json'])).stdout) as CostReport;
    const want = (await ledger(['project'])).groups.find((g) => g.project === 'acme-support')!;
    expect(acme.rows.map((r) => r.group)).toEqual(['acme-support']);
    expect(nano(acme.total.cost_usd)).toBe(want.cost_nusd);
  });
});

describe('catalog and verify', () => {
  it('every catalog query returns data for the workload', async () => {
    const report = await runVerify({ vm: new VictoriaMetricsClient(stack.endpoints.vmUrl), vl: new VictoriaLogsClient(stack.endpoints.vlUrl), backend: api, window: { from: startedAt, to: new Date() }, collectorHealthUrl: stack.endpoints.collectorHealth });
    expect(report.queries.filter((q) => !q.ok).map((q) => `${q.id}: ${q.error ?? 'no data'}`)).toEqual([]);
    expect(report.queries).toHaveLength(catalog.length);
    expect(report.reconciliation.ok).toBe(true);
    expect(report.reconciliation.rows.length).toBeGreaterThanOrEqual(PROJECTS.length * 2);
  });

  it('`verify` exits 0 and `--project` scopes its report to one tenant', async () => {
    const doctor = await cli(['doctor', '--json'], { reject: false });
    expect(doctor.exitCode, doctor.stdout).toBe(0);
    expect((JSON.parse(doctor.stdout) as { probes: Array<{ status: string }> }).probes.every((p) => p.status === 'ok')).toBe(true);
    const ok = await cli(['verify', '--since', '30m', '--json'], { reject: false });
    expect(ok.exitCode, ok.stdout.slice(0, 2000) + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).ok).toBe(true);
    const scoped = await cli(['verify', '--since', '30m', '--project', 'globex-codereview', '--json'], { reject: false });
    expect(scoped.exitCode, scoped.stdout.slice(0, 2000)).toBe(0);
    const body = JSON.parse(scoped.stdout) as { reconciliation: { rows: Array<{ project: string }> } };
    expect(new Set(body.reconciliation.rows.map((r) => r.project))).toEqual(new Set(['globex-codereview']));
  });

  it('`audit --event agent.run.* --project X` returns exactly X\'s run events', async () => {
    const slug = 'globex-codereview';
    const { stdout } = await cli(['audit', '--event', 'agent.run.*', '--project', slug, '--since', '30m', '--limit', '1000', '--json']);
    const events = JSON.parse(stdout) as Array<{ time: string; event: string; project: string; fields: Record<string, string> }>;
    const ids = runIds.get(slug)!;
    expect(events.every((e) => e.project === slug && e.event.startsWith('agent.run.'))).toBe(true);
    // Each run: one started plus one completed or error.
    expect(events.length).toBe(ids.length * 2);
    expect(new Set(events.map((e) => e.fields['sagewai.run.id']))).toEqual(new Set(ids));
    expect([...events].sort((a, b) => b.time.localeCompare(a.time))).toEqual(events);
  });

  it('`audit --follow` prints a new event as it arrives and stops quietly on Ctrl-C', async () => {
    const child = execa(process.execPath, [bin, 'audit', '--follow', '--event', 'auth.login.*', '--limit', '1', '--format', 'jsonl'], {
      reject: false,
      env: { SAGEWAI_OBS_VL_URL: stack.endpoints.vlUrl, SAGEWAI_OBS_STATE_DIR: stack.stateDir },
    });
    const lines: Array<{ event: string; time: string }> = [];
    child.stdout!.on('data', (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { event: string; time: string });
    });
    // The history line first (the newest earlier login), then a login made after the tail started.
    const deadline = Date.now() + 30_000;
    while (lines.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const before = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 1500));
    await new BackendClient({ baseUrl: backend.url }).login('admin@example.test', 'not the password').catch(() => undefined);
    while (!lines.some((l) => l.event === 'auth.login.failed' && l.time > before) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    child.kill('SIGINT');
    const r = await child;
    expect(lines.some((l) => l.event === 'auth.login.failed' && l.time > before), JSON.stringify(lines)).toBe(true);
    expect(lines.every((l) => l.event.startsWith('auth.login.'))).toBe(true);
    expect(r.exitCode).toBe(130);
  });

  it('after the collector is killed, `verify` exits non-zero and names what failed', async () => {
    const pid = stack.record.components.collector?.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    // Let a scrape of the dead exporter fail.
    await new Promise((r) => setTimeout(r, 5000));
    const r = await cli(['verify', '--since', '30m', '--reconcile-timeout', '3s'], { reject: false });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/collector healthy/);
    expect(r.stderr).toMatch(/scrape otel-collector up/);
    const doctor = await cli(['doctor'], { reject: false });
    expect(doctor.exitCode).toBe(3);
    expect(doctor.stdout).toMatch(/FAIL {2}collector healthy/);
  });
});
