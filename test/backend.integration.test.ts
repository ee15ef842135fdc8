import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

// The real pipeline: serve → OTLP/HTTP → collector → prometheus exporter ← VictoriaMetrics, and
// collector → VictoriaLogs. A known workload must appear in VictoriaMetrics with exactly the
// ledger's per-project cost and token totals, and its audit events in VictoriaLogs.
let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;

const PROJECTS = ['itest-alpha', 'itest-beta'] as const;

async function vmQuery(query: string): Promise<Array<{ metric: Record<string, string>; value: number }>> {
  const res = await request(`${stack.endpoints.vmUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await res.body.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  if (body.status !== 'success') throw new Error(`VictoriaMetrics query failed: ${JSON.stringify(body)}`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

async function vlCount(query: string): Promise<Array<Record<string, string>>> {
  const res = await request(`${stack.endpoints.vlUrl}/select/logsql/query?query=${encodeURIComponent(query)}`);
  const text = await res.body.text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
}

async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`${what} did not converge within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
});

afterAll(async () => {
  await client?.close();
  await backend?.stop();
  await stack?.stop();
});

describe('serve against the real stack', () => {
  it('VictoriaMetrics holds exactly the ledger per-project cost and tokens; VictoriaLogs holds the audit events', async () => {
    await client.setup({ org_name: 'Integration Org', admin_email: 'it@example.test', admin_password: 'integration-pass' });
    await client.createProject({ slug: PROJECTS[0], name: 'Alpha' });
    await client.createProject({ slug: PROJECTS[1], name: 'Beta' });
    await client.createAgent(PROJECTS[0], { name: 'support', model: 'claude-sonnet-4-5' });
    await client.createAgent(PROJECTS[0], { name: 'local', model: 'ollama/llama3:70b' });
    await client.createAgent(PROJECTS[1], { name: 'reviewer', model: 'gpt-4o-mini' });
    // A known workload (example 34's shape) plus simulator-chosen token counts.
    const fixed: Array<[string, string, number, number]> = [
      [PROJECTS[0], 'support', 3200, 800],
      [PROJECTS[0], 'support', 1800, 400],
      [PROJECTS[0], 'local', 4000, 1000],
      [PROJECTS[1], 'reviewer', 3500, 900],
      [PROJECTS[1], 'reviewer', 2800, 700],
    ];
    for (const [p, a, i, o] of fixed) await client.run(p, { agent_name: a, message: `fixed ${a}`, simulate: { input_tokens: i, output_tokens: o } });
    for (let n = 0; n < 6; n++) await client.run(PROJECTS[n % 2] as string, { agent_name: n % 2 ? 'reviewer' : 'support', message: `free-form request ${n}` });

    const ledger = await client.costs({ group_by: ['project'] });
    const byProject = new Map(ledger.groups.map((g) => [g.project as string, g]));
    // Independent check of the fixed part of alpha: sonnet-4-5 $3/$15 → 0.0216 + 0.0114, ollama free.
    expect((byProject.get(PROJECTS[0])?.cost_nusd ?? 0) >= 21_600_000 + 11_400_000).toBe(true);

    const cost = await eventually(
      'cost in VictoriaMetrics',
      () => vmQuery(`sum by (sagewai_project_id) (sagewai_llm_cost_usd_total{sagewai_project_id=~"itest-.*"})`),
      (rows) => PROJECTS.every((p) => rows.some((r) => r.metric.sagewai_project_id === p && round6(r.value) === round6((byProject.get(p)?.cost_nusd ?? -1) / 1e9))),
    );
    expect(cost).toHaveLength(2);
    // increase_pure over the whole life of the series equals the total (series were born at 0).
    const inc = await vmQuery(`sum by (sagewai_project_id) (increase_pure(sagewai_llm_cost_usd_total{sagewai_project_id=~"itest-.*"}[1h]))`);
    for (const p of PROJECTS) expect(round6(inc.find((r) => r.metric.sagewai_project_id === p)?.value ?? -1)).toBe(round6((byProject.get(p)?.cost_nusd ?? 0) / 1e9));

    const tokens = await vmQuery(`sum by (sagewai_project_id, gen_ai_token_type) (sagewai_llm_tokens_total{sagewai_project_id=~"itest-.*"})`);
    for (const p of PROJECTS) {
      const g = byProject.get(p);
      const t = (type: string) => tokens.find((r) => r.metric.sagewai_project_id === p && r.metric.gen_ai_token_type === type)?.value;
      expect(t('input')).toBe(g?.input_tokens);
      expect(t('output')).toBe(g?.output_tokens);
      expect(t('cached_input')).toBe(g?.cached_input_tokens);
    }
    const calls = await vmQuery(`sum by (sagewai_project_id) (sagewai_llm_calls_total{sagewai_project_id=~"itest-.*"})`);
    for (const p of PROJECTS) expect(calls.find((r) => r.metric.sagewai_project_id === p)?.value).toBe(byProject.get(p)?.calls);
    // The resource became job/instance.
    const jobs = await vmQuery(`count by (job) (sagewai_llm_cost_usd_total)`);
    expect(jobs.map((r) => r.metric.job)).toEqual(['sagewai/sagewai-admin']);
    // HTTP metrics carry the route template and the project.
    const http = await vmQuery(`sum by (http_route) (http_server_request_duration_seconds_count{sagewai_project_id="${PROJECTS[0]}"})`);
    expect(http.map((r) => r.metric.http_route)).toContain('/playground/run');

    const completed = await eventually(
      'audit events in VictoriaLogs',
      () => vlCount(`event.name:"agent.run.completed" sagewai.project_id:"${PROJECTS[0]}"`),
      (rows) => rows.length >= 6,
    );
    expect(completed).toHaveLength(6);
    expect(completed.every((r) => r['sagewai.project_id'] === PROJECTS[0])).toBe(true);
    const created = await vlCount(`event.name:"project.created"`);
    expect(created.map((r) => r['sagewai.project_id']).sort()).toEqual([...PROJECTS]);
    // Every Prometheus name of the contract exists once the matching work happened.
    await new BackendClient({ baseUrl: backend.url }).login('it@example.test', 'integration-pass');
    await client.setBudget(PROJECTS[1], { scope: 'project', window: 'monthly', limit_usd: 1, action: 'warn' });
    await client.setBudget(PROJECTS[1], { scope: 'user', subject: 'intern', window: 'daily', limit_usd: 0, action: 'stop' });
    await expect(client.run(PROJECTS[1], { agent_name: 'reviewer', message: 'x', user: 'intern' })).rejects.toMatchObject({ status: 402 });
    const w = await client.fleetRegister(PROJECTS[1], { name: 'itest-worker', pool: 'default' });
    await client.createTask(PROJECTS[1], { pool: 'default' });
    const task = await client.fleetClaim(w, 1000);
    await client.fleetReport(w, { task_id: task?.task_id as string, status: 'completed' });
    const names = [
      'http_server_request_duration_seconds_bucket', 'http_server_active_requests', 'http_server_response_body_size_bytes_bucket',
      'gen_ai_client_token_usage_bucket', 'gen_ai_client_operation_duration_seconds_bucket', 'sagewai_llm_cost_usd_total', 'sagewai_llm_tokens_total',
      'sagewai_llm_calls_total', 'sagewai_agent_runs_total', 'sagewai_agent_run_duration_seconds_bucket', 'sagewai_budget_utilization_ratio',
      'sagewai_budget_denials_total', 'sagewai_fleet_workers', 'sagewai_fleet_tasks_total', 'sagewai_fleet_claim_duration_seconds_bucket', 'sagewai_auth_logins_total',
    ];
    const present = await eventually(
      'every contract metric in VictoriaMetrics',
      () => vmQuery(`count by (__name__) ({__name__=~"${names.join('|')}", job="sagewai/sagewai-admin"})`),
      (rows) => names.every((n) => rows.some((r) => r.metric.__name__ === n)),
    );
    expect(present.map((r) => r.metric.__name__).sort()).toEqual([...names].sort());
    const util = await vmQuery(`sagewai_budget_utilization_ratio{sagewai_project_id="${PROJECTS[1]}", sagewai_budget_scope="project"}`);
    expect(round6(util[0]?.value ?? -1)).toBe(round6((byProject.get(PROJECTS[1])?.cost_nusd ?? 0) / 1e9 / 1));
    const denials = await eventually('denials', () => vmQuery(`sum(sagewai_budget_denials_total{sagewai_project_id="${PROJECTS[1]}"})`), (r) => r[0]?.value === 1);
    expect(denials[0]?.value).toBe(1);

    const all = await vlCount('*');
    expect(JSON.stringify(all)).not.toContain('it@example.test');
    expect(JSON.stringify(all)).not.toContain('integration-pass');
  });
});
