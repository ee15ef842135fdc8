import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { metrics, trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';

// Pins the telemetry contract (docs/CONTRACT.md "Metrics" and "Logs") with in-memory exporters.
// The SDK is registered before the backend modules are imported, exactly as `serve` does.
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const reader = new TestReader();
const logExporter = new InMemoryLogRecordExporter();
const spanExporter = new InMemorySpanExporter();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: logExporter })] }));
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] }));

const { startBackend } = await import('../src/backend/server.js');
const { openStore } = await import('../src/backend/store.js');
const { PriceBook } = await import('../src/backend/pricebook.js');
const { BOOT_ID } = await import('../src/backend/instruments.js');
type Running = Awaited<ReturnType<typeof startBackend>>;

let dir: string;
let backend: Running;
let op: BackendClient;
let store: ReturnType<typeof openStore>;

const ADMIN_EMAIL = 'ops-admin@example.test';
const ADMIN_PASSWORD = 'tr0ub4dor&3-secret';
const PROMPT = 'please summarise ticket 4711 for the customer';

async function start(): Promise<void> {
  store = openStore(dir);
  backend = await startBackend({ db: store.db, instanceId: store.instanceId, version: 'test', priceBook: PriceBook.load(), seed: 3, failureRates: { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: 0, workerLostAfterMs: 60_000, telemetryEnabled: true });
  op = new BackendClient({ baseUrl: backend.url, token: store.operatorToken });
}

async function collect(): Promise<MetricData[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

function metric(all: MetricData[], name: string): MetricData {
  const m = all.find((x) => x.descriptor.name === name);
  if (!m) throw new Error(`metric ${name} missing; have ${all.map((x) => x.descriptor.name).join(', ')}`);
  return m;
}

function pointValue(m: MetricData, attrs: Record<string, string | number>): number | undefined {
  const p = m.dataPoints.find((d) => Object.entries(attrs).every(([k, v]) => d.attributes[k] === v) && Object.keys(d.attributes).length === Object.keys(attrs).length);
  if (!p) return undefined;
  return typeof p.value === 'number' ? p.value : (p.value as { sum?: number }).sum;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-telemetry-'));
  await start();
  await op.setup({ org_name: 'Telemetry Org', admin_email: ADMIN_EMAIL, admin_password: ADMIN_PASSWORD });
  await new BackendClient({ baseUrl: backend.url }).login(ADMIN_EMAIL, 'wrong-password').catch(() => undefined);
  await new BackendClient({ baseUrl: backend.url }).login(ADMIN_EMAIL, ADMIN_PASSWORD);
  await op.createProject({ slug: 'acme', name: 'Acme' });
  await op.createAgent('acme', { name: 'triager', model: 'claude-haiku-4-5', system_prompt: 'You triage.' });
});

afterAll(async () => {
  await op.close();
  await backend.close();
  store.db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const BOOK = PriceBook.load().version;
const costKey = { 'sagewai.project_id': 'acme', 'sagewai.agent.name': 'triager', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-haiku-4-5', 'sagewai.pricebook.version': BOOK };

describe('telemetry contract', () => {
  it('ledger-backed series are born at 0 when the agent is created', async () => {
    const all = await collect();
    expect(pointValue(metric(all, 'sagewai.llm.cost.usd'), costKey)).toBe(0);
    for (const t of ['input', 'cached_input', 'output', 'reasoning']) {
      expect(pointValue(metric(all, 'sagewai.llm.tokens'), { ...costKey, 'gen_ai.token.type': t }), t).toBe(0);
      expect(pointValue(metric(all, 'sagewai.llm.token.cost.usd'), { ...costKey, 'gen_ai.token.type': t }), t).toBe(0);
    }
    expect(pointValue(metric(all, 'sagewai.llm.calls'), { ...costKey, 'sagewai.priced': 'true' })).toBe(0);
    for (const o of ['completed', 'error', 'denied']) expect(pointValue(metric(all, 'sagewai.agent.runs'), { 'sagewai.project_id': 'acme', 'sagewai.agent.name': 'triager', 'sagewai.run.outcome': o })).toBe(0);
  });

  it('one simulated call adds exactly its ledger cost and tokens to the counters', async () => {
    const before = await collect();
    const cost0 = pointValue(metric(before, 'sagewai.llm.cost.usd'), costKey) as number;
    // claude-haiku-4-5 list price $1 in / $5 out per million: 1000 in + 200 out = $0.002.
    const r = await op.run('acme', { agent_name: 'triager', message: PROMPT, simulate: { input_tokens: 1000, output_tokens: 200 } });
    expect(r.usage?.cost_nusd).toBe(2_000_000);
    const ledger = store.db.prepare('SELECT cost_nusd, input_tokens, output_tokens FROM ledger WHERE run_id = ?').get(r.run_id) as { cost_nusd: number; input_tokens: number; output_tokens: number };
    expect(ledger.cost_nusd).toBe(2_000_000);
    const after = await collect();
    expect((pointValue(metric(after, 'sagewai.llm.cost.usd'), costKey) as number) - cost0).toBeCloseTo(0.002, 12);
    expect(pointValue(metric(after, 'sagewai.llm.tokens'), { ...costKey, 'gen_ai.token.type': 'input' })).toBe(1000);
    expect(pointValue(metric(after, 'sagewai.llm.tokens'), { ...costKey, 'gen_ai.token.type': 'output' })).toBe(200);
    expect(pointValue(metric(after, 'sagewai.llm.calls'), { ...costKey, 'sagewai.priced': 'true' })).toBe(1);
    // The same $0.002 split by token type: 1000 input × $1/M and 200 output × $5/M.
    expect(pointValue(metric(after, 'sagewai.llm.token.cost.usd'), { ...costKey, 'gen_ai.token.type': 'input' })).toBeCloseTo(0.001, 12);
    expect(pointValue(metric(after, 'sagewai.llm.token.cost.usd'), { ...costKey, 'gen_ai.token.type': 'output' })).toBeCloseTo(0.001, 12);
    expect(pointValue(metric(after, 'sagewai.llm.token.cost.usd'), { ...costKey, 'gen_ai.token.type': 'cached_input' })).toBe(0);
    expect(pointValue(metric(after, 'sagewai.agent.runs'), { 'sagewai.project_id': 'acme', 'sagewai.agent.name': 'triager', 'sagewai.run.outcome': 'completed' })).toBe(1);
    const usage = metric(after, 'gen_ai.client.token.usage');
    const genKey = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-haiku-4-5', 'sagewai.project_id': 'acme', 'sagewai.agent.name': 'triager', 'sagewai.boot.id': BOOT_ID };
    expect(pointValue(usage, { ...genKey, 'gen_ai.token.type': 'input' })).toBe(1000);
    expect(pointValue(usage, { ...genKey, 'gen_ai.token.type': 'output' })).toBe(200);
  });

  it('a call with reasoning tokens: ledger, run usage and the counters carry them apart from output, the cost parts summing', async () => {
    await op.createAgent('acme', { name: 'thinker', model: 'gpt-5', system_prompt: 'You think.' });
    const key = { ...costKey, 'sagewai.agent.name': 'thinker', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-5' };
    // gpt-5 $1.25 in / $10 out per million, reasoning at the output price (the book names none):
    // 1000 in = 1_250_000, 100 out = 1_000_000, 400 reasoning = 4_000_000 nano-USD.
    const r = await op.run('acme', { agent_name: 'thinker', message: PROMPT, simulate: { input_tokens: 1000, output_tokens: 100, reasoning_tokens: 400 } });
    expect(r.usage).toMatchObject({ input_tokens: 1000, output_tokens: 100, reasoning_tokens: 400, cost_nusd: 6_250_000 });
    const row = store.db.prepare('SELECT output_tokens, reasoning_tokens, output_cost_nusd, reasoning_cost_nusd, cost_nusd, input_cost_nusd + cached_cost_nusd + output_cost_nusd + reasoning_cost_nusd AS parts FROM ledger WHERE run_id = ?').get(r.run_id);
    expect(row).toEqual({ output_tokens: 100, reasoning_tokens: 400, output_cost_nusd: 1_000_000, reasoning_cost_nusd: 4_000_000, cost_nusd: 6_250_000, parts: 6_250_000 });
    const listed = (await op.listRuns({ project: 'acme', agent_name: 'thinker' })).items[0];
    expect(listed).toMatchObject({ output_tokens: 100, reasoning_tokens: 400, total_tokens: 1500 });
    const after = await collect();
    expect(pointValue(metric(after, 'sagewai.llm.tokens'), { ...key, 'gen_ai.token.type': 'reasoning' })).toBe(400);
    expect(pointValue(metric(after, 'sagewai.llm.tokens'), { ...key, 'gen_ai.token.type': 'output' })).toBe(100);
    expect(pointValue(metric(after, 'sagewai.llm.token.cost.usd'), { ...key, 'gen_ai.token.type': 'reasoning' })).toBeCloseTo(0.004, 12);
    expect(pointValue(metric(after, 'sagewai.llm.token.cost.usd'), { ...key, 'gen_ai.token.type': 'output' })).toBeCloseTo(0.001, 12);
    expect(pointValue(metric(after, 'sagewai.llm.cost.usd'), key)).toBeCloseTo(0.00625, 12);
    // GenAI semconv: gen_ai.client.token.usage output counts reasoning too.
    const genKey = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-5', 'sagewai.project_id': 'acme', 'sagewai.agent.name': 'thinker', 'sagewai.boot.id': BOOT_ID };
    expect(pointValue(metric(after, 'gen_ai.client.token.usage'), { ...genKey, 'gen_ai.token.type': 'output' })).toBe(500);
  });

  it('exact names, units and attribute sets', async () => {
    // Exercise every instrument once.
    await op.createAgent('acme', { name: 'guesser', model: 'mystery-model-9000' });
    await op.run('acme', { agent_name: 'guesser', message: 'hi' });
    await op.run('acme', { agent_name: 'triager', message: 'boom', simulate: { fail: 'server_error' } });
    await op.setBudget('acme', { scope: 'user', subject: 'intern', window: 'daily', limit_usd: 0, action: 'stop' });
    await op.run('acme', { agent_name: 'triager', message: 'x', user: 'intern' }).catch(() => undefined);
    const w = await op.fleetRegister('acme', { name: 'w1', pool: 'default' });
    await op.createTask('acme', { pool: 'default' });
    const t = await op.fleetClaim(w, 0);
    await op.fleetReport(w, { task_id: t?.task_id as string, status: 'completed' });
    await op.getAgent('acme', 'triager');
    expect(await op.testProvider('claude-haiku-4-5', 'acme')).toMatchObject({ ok: true, provider: 'anthropic', priced: true });
    expect(await op.testProvider('claude-haiku-4-5', 'acme', 'rate_limit')).toMatchObject({ ok: false, error: { code: 'rate_limit' } });
    const all = await collect();
    const P = 'sagewai.project_id';
    const expected: Record<string, { unit: string; attrs: string[][] }> = {
      'http.server.request.duration': { unit: 's', attrs: [['sagewai.boot.id', 'http.request.method', 'http.route', 'http.response.status_code'], ['sagewai.boot.id', 'http.request.method', 'http.route', 'http.response.status_code', P]] },
      'http.server.active_requests': { unit: '{request}', attrs: [['http.request.method', 'http.route']] },
      'http.server.response.body.size': { unit: 'By', attrs: [['sagewai.boot.id', 'http.request.method', 'http.route', 'http.response.status_code'], ['sagewai.boot.id', 'http.request.method', 'http.route', 'http.response.status_code', P]] },
      'gen_ai.client.token.usage': { unit: '{token}', attrs: [['sagewai.boot.id', 'gen_ai.operation.name', 'gen_ai.provider.name', 'gen_ai.request.model', 'gen_ai.token.type', P, 'sagewai.agent.name']] },
      'gen_ai.client.operation.duration': { unit: 's', attrs: [['sagewai.boot.id', 'gen_ai.operation.name', 'gen_ai.provider.name', 'gen_ai.request.model', P, 'sagewai.agent.name'], ['sagewai.boot.id', 'gen_ai.operation.name', 'gen_ai.provider.name', 'gen_ai.request.model', P, 'sagewai.agent.name', 'error.type']] },
      'sagewai.llm.cost.usd': { unit: '{USD}', attrs: [[P, 'sagewai.agent.name', 'gen_ai.provider.name', 'gen_ai.request.model', 'sagewai.pricebook.version']] },
      'sagewai.llm.token.cost.usd': { unit: '{USD}', attrs: [[P, 'sagewai.agent.name', 'gen_ai.provider.name', 'gen_ai.request.model', 'sagewai.pricebook.version', 'gen_ai.token.type']] },
      'sagewai.llm.tokens': { unit: '{token}', attrs: [[P, 'sagewai.agent.name', 'gen_ai.provider.name', 'gen_ai.request.model', 'sagewai.pricebook.version', 'gen_ai.token.type']] },
      'sagewai.llm.calls': { unit: '{call}', attrs: [[P, 'sagewai.agent.name', 'gen_ai.provider.name', 'gen_ai.request.model', 'sagewai.pricebook.version', 'sagewai.priced']] },
      'sagewai.agent.runs': { unit: '{run}', attrs: [[P, 'sagewai.agent.name', 'sagewai.run.outcome']] },
      'sagewai.agent.run.duration': { unit: 's', attrs: [['sagewai.boot.id', P, 'sagewai.agent.name', 'sagewai.run.outcome']] },
      'sagewai.budget.utilization': { unit: '1', attrs: [[P, 'sagewai.budget.scope', 'sagewai.budget.subject', 'sagewai.budget.window', 'sagewai.budget.action']] },
      'sagewai.budget.denials': { unit: '{call}', attrs: [['sagewai.boot.id', P, 'sagewai.budget.scope', 'sagewai.budget.action']] },
      'sagewai.fleet.workers': { unit: '{worker}', attrs: [[P, 'sagewai.fleet.pool', 'sagewai.fleet.worker.state']] },
      'sagewai.fleet.tasks': { unit: '{task}', attrs: [[P, 'sagewai.fleet.pool', 'sagewai.fleet.task.event']] },
      'sagewai.fleet.claim.duration': { unit: 's', attrs: [['sagewai.boot.id', P, 'sagewai.fleet.pool', 'sagewai.fleet.claim.result']] },
      'sagewai.auth.logins': { unit: '{login}', attrs: [['sagewai.boot.id', 'sagewai.auth.outcome']] },
    };
    expect(all.map((m) => m.descriptor.name).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const m = metric(all, name);
      expect(m.descriptor.unit, name).toBe(e.unit);
      expect(m.dataPoints.length, name).toBeGreaterThan(0);
      const allowed = e.attrs.map((a) => [...a].sort().join(','));
      for (const p of m.dataPoints) expect(allowed, `${name} ${JSON.stringify(p.attributes)}`).toContain(Object.keys(p.attributes).sort().join(','));
    }
    expect(metric(all, 'sagewai.llm.cost.usd').dataPointType).toBe(DataPointType.SUM);
    expect(metric(all, 'sagewai.budget.utilization').dataPointType).toBe(DataPointType.GAUGE);
    // Unpriced model: counted under priced=false with cost 0, never guessed.
    expect(pointValue(metric(all, 'sagewai.llm.calls'), { [P]: 'acme', 'sagewai.agent.name': 'guesser', 'gen_ai.provider.name': 'unknown', 'gen_ai.request.model': 'mystery-model-9000', 'sagewai.pricebook.version': BOOK, 'sagewai.priced': 'false' })).toBe(1);
    expect(pointValue(metric(all, 'sagewai.llm.cost.usd'), { [P]: 'acme', 'sagewai.agent.name': 'guesser', 'gen_ai.provider.name': 'unknown', 'gen_ai.request.model': 'mystery-model-9000', 'sagewai.pricebook.version': BOOK })).toBe(0);
    expect(pointValue(metric(all, 'sagewai.auth.logins'), { 'sagewai.auth.outcome': 'failed', 'sagewai.boot.id': BOOT_ID })).toBe(1);
    expect(pointValue(metric(all, 'sagewai.auth.logins'), { 'sagewai.auth.outcome': 'success', 'sagewai.boot.id': BOOT_ID })).toBe(1);
    expect(pointValue(metric(all, 'sagewai.budget.denials'), { [P]: 'acme', 'sagewai.budget.scope': 'user', 'sagewai.budget.action': 'stop', 'sagewai.boot.id': BOOT_ID })).toBe(1);
    // Route templates, never raw paths.
    const routes = new Set(metric(all, 'http.server.request.duration').dataPoints.map((d) => d.attributes['http.route']));
    expect(routes).toContain('/playground/agents/{name}');
    expect([...routes].some((r) => String(r).includes('triager'))).toBe(false);
  });

  it('health probes and OPTIONS are neither counted nor logged', async () => {
    const count = async () => metric(await collect(), 'http.server.request.duration').dataPoints.reduce((n, d) => n + (d.value as { count: number }).count, 0);
    const logsBefore = logExporter.getFinishedLogRecords().length;
    const n0 = await count();
    for (const p of ['/healthz', '/readyz', '/metrics']) await (await request(backend.url + p)).body.text();
    await (await request(`${backend.url}/api/v1/projects`, { method: 'OPTIONS' })).body.text();
    expect(await count()).toBe(n0);
    expect(logExporter.getFinishedLogRecords().length).toBe(logsBefore);
    await op.healthSummary();
    expect(await count()).toBe(n0 + 1);
  });

  it('audit events carry event.name, project and actor; no secret, e-mail or prompt anywhere', async () => {
    const records = logExporter.getFinishedLogRecords();
    const names = records.map((r) => r.attributes['event.name']).filter(Boolean);
    for (const e of ['setup.completed', 'auth.login.failed', 'auth.login.success', 'project.created', 'agent.created', 'agent.run.started', 'agent.run.completed', 'agent.run.error', 'pricing.unpriced', 'budget.exceeded', 'fleet.worker.registered', 'fleet.task.queued', 'fleet.task.claimed', 'fleet.task.completed', 'provider.test.success', 'provider.test.failed']) expect(names, e).toContain(e);
    const completed = records.find((r) => r.attributes['event.name'] === 'agent.run.completed');
    expect(completed?.attributes['sagewai.project_id']).toBe('acme');
    expect(completed?.attributes['sagewai.actor']).toBe('operator');
    expect(completed?.body).toBe('agent.run.completed');
    const dump = JSON.stringify(records.map((r) => ({ body: r.body, attributes: r.attributes })));
    for (const secret of [ADMIN_EMAIL, ADMIN_PASSWORD, 'wrong-password', PROMPT, store.operatorToken]) expect(dump).not.toContain(secret);
    const spans = spanExporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(0);
    const runSpan = spans.find((s) => s.name === 'POST /playground/run');
    expect(runSpan?.attributes['sagewai.project_id']).toBe('acme');
    const spanDump = JSON.stringify(spans.map((s) => s.attributes));
    for (const secret of [ADMIN_EMAIL, ADMIN_PASSWORD, PROMPT, store.operatorToken]) expect(spanDump).not.toContain(secret);
  });

  it('budget thresholds 50/80/100 % are emitted once per window; warn caps emit budget.warning', async () => {
    await op.createProject({ slug: 'thr', name: 'Thresholds' });
    await op.createAgent('thr', { name: 'w', model: 'gpt-4o', max_output_tokens: 1000 });
    // Each call: 1000 in × $2.50/M + 1000 out × $10/M = $0.0125; the cap is 4 calls.
    await op.setBudget('thr', { scope: 'project', window: 'monthly', limit_usd: 0.05, action: 'warn' });
    const thresholds = () => logExporter.getFinishedLogRecords().filter((r) => r.attributes['event.name'] === 'budget.threshold' && r.attributes['sagewai.project_id'] === 'thr').map((r) => r.attributes['sagewai.budget.threshold']);
    const call = () => op.run('thr', { agent_name: 'w', message: 'x', simulate: { input_tokens: 1000, output_tokens: 1000 } });
    await call();
    expect(thresholds()).toEqual([]);
    await call();
    expect(thresholds()).toEqual([50]);
    await call();
    expect(thresholds()).toEqual([50]);
    await call();
    expect(thresholds()).toEqual([50, 80, 100]);
    await call();
    expect(thresholds()).toEqual([50, 80, 100]);
    const warnings = logExporter.getFinishedLogRecords().filter((r) => r.attributes['event.name'] === 'budget.warning' && r.attributes['sagewai.project_id'] === 'thr');
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    const util = pointValue(metric(await collect(), 'sagewai.budget.utilization'), { 'sagewai.project_id': 'thr', 'sagewai.budget.scope': 'project', 'sagewai.budget.subject': 'thr', 'sagewai.budget.window': 'monthly', 'sagewai.budget.action': 'warn' });
    expect(util).toBeCloseTo(1.25, 9);
  });

  it('a restart resumes the counters from the ledger instead of resetting them', async () => {
    const before = pointValue(metric(await collect(), 'sagewai.llm.cost.usd'), costKey) as number;
    expect(before).toBeGreaterThan(0);
    await op.close();
    await backend.close();
    store.db.close();
    await start();
    const after = await collect();
    expect(pointValue(metric(after, 'sagewai.llm.cost.usd'), costKey)).toBe(before);
    const ledgerTotal = (store.db.prepare("SELECT SUM(cost_nusd) AS s FROM ledger WHERE project = 'acme' AND agent = 'triager'").get() as { s: number }).s;
    expect(before).toBeCloseTo(ledgerTotal / 1e9, 12);
  });
});
