import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaLogsClient } from '../src/clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { collectModel } from '../src/hud/collect.js';
import { createRealSources } from '../src/hud/real-sources.js';
import { packageRoot } from '../src/paths.js';
import { startOpenAiProvider, type RecordedCall, type RunningOpenAiProvider } from '../src/provider/openai-compat.js';
import { getEntry, renderExpr } from '../src/queries/index.js';
import { rangeOf, type CostReport } from '../src/report/cost.js';
import { renderFrameToString } from '../src/tui/index.js';
import { reconcile } from '../src/verify/index.js';
import { startTestBackend } from './helpers/backend.js';
import { eventually, metricsByProject, type Totals } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * External GenAI apps → real collector → VictoriaMetrics, read through the catalog's entries.
 * The app is the official `openai` client instrumented by the official
 * @opentelemetry/instrumentation-openai (examples/genai/openai-node-app.mjs), run as a child
 * process per tenant against the simulated provider. The expected numbers come from the calls the
 * provider recorded × the price book, never from what the stack returned.
 */

const run = promisify(execFile);
const APP = path.join(packageRoot(), 'examples', 'genai', 'openai-node-app.mjs');
const book = PriceBook.load();
// The configurable tenant attribute (SAGEWAI_GENAI_TENANT_ATTRIBUTE), set before `up`.
const TENANT_ATTR = 'app.customer';

interface AppRun {
  tenant: string;
  service: string;
  resourceAttributes: string;
  calls: Array<{ model: string; prompt: string; stream: boolean }>;
}

const RUNS: AppRun[] = [
  // Tenant from sagewai.project_id, which wins over the configured attribute.
  {
    tenant: 'genai-acme',
    service: 'support-bot',
    resourceAttributes: `sagewai.project_id=genai-acme,${TENANT_ATTR}=not-this-one`,
    calls: [
      { model: 'gpt-4o-mini', prompt: 'Where is my order 1234?', stream: false },
      { model: 'gpt-4.1-nano', prompt: 'Summarise ticket 88.', stream: true },
      { model: 'claude-haiku-4-5-20251001', prompt: 'Draft a refund note for order 77.', stream: false },
    ],
  },
  // Tenant from the configured attribute.
  {
    tenant: 'genai-globex',
    service: 'support-bot',
    resourceAttributes: `${TENANT_ATTR}=genai-globex`,
    calls: [
      { model: 'gpt-4o', prompt: 'Translate the return policy to French.', stream: true },
      { model: 'gpt-5-mini', prompt: 'Classify this complaint about a late parcel.', stream: false },
    ],
  },
  // No tenant attribute at all: service.name is the tenant. One model the book does not list.
  {
    tenant: 'genai-initech-app',
    service: 'genai-initech-app',
    resourceAttributes: '',
    calls: [
      { model: 'gpt-4o-mini', prompt: 'What are your opening hours?', stream: false },
      { model: 'acme-llm-9', prompt: 'Write a haiku about invoices.', stream: true },
    ],
  },
];

const TENANTS = RUNS.map((r) => r.tenant);

function expectedFrom(calls: readonly RecordedCall[]): Map<string, Totals & { unpriced: number }> {
  const out = new Map<string, Totals & { unpriced: number }>();
  for (const t of TENANTS) out.set(t, { cost_nusd: 0, input: 0, cached_input: 0, output: 0, reasoning: 0, calls: 0, unpriced: 0 });
  for (const c of calls) {
    const t = out.get(c.project ?? '');
    if (!t || c.status !== 'ok') continue;
    const q = book.quote(c.model);
    // The pinned instrumentations put no reasoning count on their spans: the whole completion
    // (reasoning included) is output, at the output price (which the bundled book also charges for reasoning).
    const tokens = { input: c.prompt_tokens - c.cached_tokens, cachedInput: c.cached_tokens, output: c.completion_tokens, reasoning: 0 };
    if (q.priced) t.cost_nusd += PriceBook.costNusd(q, tokens);
    else t.unpriced++;
    t.input += tokens.input;
    t.cached_input += tokens.cachedInput;
    t.output += tokens.output;
    t.calls++;
  }
  return out;
}

// ── hand-made OTLP for what the official JS instrumentation never sends ─────────────────────
type Attr = string | number | boolean;
const otlpAttr = (key: string, v: Attr) => ({
  key,
  value: typeof v === 'string' ? { stringValue: v } : typeof v === 'boolean' ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v },
});
let spanSeq = 0;
function span(name: string, attrs: Record<string, Attr>) {
  const now = BigInt(Date.now()) * 1_000_000n;
  spanSeq++;
  return {
    traceId: `5b8efff798038103d269b633813fc6${String(spanSeq).padStart(2, '0')}`,
    spanId: `eee19b7ec3c1b1${String(spanSeq).padStart(2, '0')}`,
    name,
    kind: 3,
    startTimeUnixNano: String(now - 5_000_000n),
    endTimeUnixNano: String(now),
    attributes: Object.entries(attrs).map(([k, v]) => otlpAttr(k, v)),
  };
}
const resourceSpans = (resource: Record<string, Attr>, spans: unknown[]) => ({ resource: { attributes: Object.entries(resource).map(([k, v]) => otlpAttr(k, v)) }, scopeSpans: [{ scope: { name: 'genai-test' }, spans }] });
const chat = (model: string, usage: Record<string, Attr>) => ({ 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': model, ...usage });

let stack: TestStack;
let expectedByTenant: Map<string, Totals & { unpriced: number }> | undefined;
let provider: RunningOpenAiProvider;
let vm: VictoriaMetricsClient;
const from = new Date(Date.now() - 60_000);
const savedTenantAttr = process.env.SAGEWAI_GENAI_TENANT_ATTRIBUTE;

beforeAll(async () => {
  process.env.SAGEWAI_GENAI_TENANT_ATTRIBUTE = TENANT_ATTR;
  try {
    stack = await startTestStack();
  } finally {
    if (savedTenantAttr === undefined) delete process.env.SAGEWAI_GENAI_TENANT_ATTRIBUTE;
    else process.env.SAGEWAI_GENAI_TENANT_ATTRIBUTE = savedTenantAttr;
  }
  vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
  // The JS instrumentation (0.21) does not report cached prompt tokens, so this provider never
  // caches: every prompt token is a full-price input token, as the telemetry says. Cached input
  // is proven with the semconv attribute below.
  provider = await startOpenAiProvider({ port: 0, seed: 17, latencyScale: 0, cacheMinTokens: 1_000_000_000 });
});

afterAll(async () => {
  await provider?.close();
  await stack?.stop();
});

async function otlp(body: unknown): Promise<void> {
  const r = await fetch(`${stack.endpoints.otlpHttp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ resourceSpans: body }) });
  expect(r.status, await r.text()).toBe(200);
}

const range = () => rangeOf({ from, to: new Date() });

describe('external OpenTelemetry GenAI apps (official openai client + instrumentation) → per-tenant cost', () => {
  it('prices each tenant exactly as the recorded tokens × the price book, under the catalog entries the backend uses', async () => {
    for (const r of RUNS) {
      const env = {
        ...process.env,
        OPENAI_BASE_URL: provider.url,
        OPENAI_API_KEY: 'sim-key',
        OTEL_EXPORTER_OTLP_ENDPOINT: stack.endpoints.otlpHttp,
        OTEL_SERVICE_NAME: r.service,
        OTEL_RESOURCE_ATTRIBUTES: r.resourceAttributes,
        GENAI_APP_PROJECT: r.tenant,
        GENAI_APP_CALLS: JSON.stringify(r.calls),
      };
      const { stdout } = await run(process.execPath, [APP], { env, timeout: 60_000 });
      expect(stdout.trim().split('\n')).toHaveLength(r.calls.length);
    }
    const recorded = provider.calls();
    expect(recorded).toHaveLength(RUNS.reduce((n, r) => n + r.calls.length, 0));
    expect(recorded.every((c) => c.status === 'ok' && c.cached_tokens === 0)).toBe(true);
    const expected = expectedFrom(recorded);
    expectedByTenant = expected;
    expect(expected.get('genai-initech-app')?.unpriced).toBe(1);
    expect([...expected.values()].every((t) => t.cost_nusd > 0)).toBe(true);

    const { value: got } = await eventually(
      'VictoriaMetrics per-tenant totals',
      async () => Object.fromEntries(await metricsByProject(vm, from, TENANTS)),
      (m) => TENANTS.every((t) => JSON.stringify(m[t]) === JSON.stringify({ ...expected.get(t), unpriced: undefined })),
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n  expected: ${JSON.stringify(Object.fromEntries(expected))}`);
    });
    for (const t of TENANTS) {
      const { unpriced: _u, ...want } = expected.get(t)!;
      expect(got[t], t).toEqual(want);
    }

    // The unknown model is counted as an unpriced call, and has no cost series (never $0).
    const unpriced = await vm.query(renderExpr(getEntry('cost.unpriced_calls'), { project: 'genai-initech-app', range: range() }));
    expect(unpriced.map((s) => s.value)).toEqual([1]);
    const unknownCost = await vm.query(`sagewai_llm_cost_usd_total{gen_ai_request_model="acme-llm-9"}`);
    expect(unknownCost).toEqual([]);

    // The app is the agent (cost --by agent, the HUD), the model as the app asked for it.
    const byAgent = await vm.query(renderExpr(getEntry('cost.by_agent'), { range: range() }));
    const agents = new Set(byAgent.filter((s) => TENANTS.includes(s.metric.sagewai_project_id ?? '')).map((s) => `${s.metric.sagewai_project_id}/${s.metric.sagewai_agent_name}`));
    expect([...agents].sort()).toEqual(['genai-acme/support-bot', 'genai-globex/support-bot', 'genai-initech-app/genai-initech-app']);
    const byModel = await vm.query(renderExpr(getEntry('cost.by_model'), { project: 'genai-acme', range: range() }));
    expect(byModel.map((s) => s.metric.gen_ai_request_model).sort()).toEqual(['claude-haiku-4-5-20251001', 'gpt-4.1-nano', 'gpt-4o-mini']);

    // `cost --by app`: one row per exporting app, the unknown model's call shown apart.
    const cliEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    const cost = await run(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), 'cost', '--by', 'app', '--since', '15m', '--format', 'json', '--state-dir', stack.stateDir], { env: cliEnv, timeout: 60_000 });
    const rows = Object.fromEntries((JSON.parse(cost.stdout) as CostReport).rows.map((r) => [r.group, r]));
    expect(Object.keys(rows).sort()).toEqual(['genai-initech-app', 'support-bot']);
    expect(Math.round(rows['support-bot']!.cost_usd * 1e9)).toBe(expected.get('genai-acme')!.cost_nusd + expected.get('genai-globex')!.cost_nusd);
    expect(Math.round(rows['genai-initech-app']!.cost_usd * 1e9)).toBe(expected.get('genai-initech-app')!.cost_nusd);
    expect(rows['genai-initech-app']).toMatchObject({ calls: 2, unpriced_calls: 1 });

    // The instrumentation's gen_ai.client.token.usage metric arrives too, as tokens only (the
    // cost above is exactly the spans' price: it is not priced a second time).
    // It carries the tenant label by the same mapping.
    const usage = await vm.query('sum by (sagewai_project_id) (gen_ai_client_token_usage_sum{job="support-bot"})');
    const tokensOf = (p: string) => recorded.filter((c) => c.project === p).reduce((n, c) => n + c.prompt_tokens + c.completion_tokens, 0);
    expect(Object.fromEntries(usage.map((s) => [s.metric.sagewai_project_id, s.value]))).toEqual({ 'genai-acme': tokensOf('genai-acme'), 'genai-globex': tokensOf('genai-globex') });
  });

  it('prices cached input from the semconv and the older attribute names, and never prices our own backend again', async () => {
    const semconv = { in: 5000, cached: 3000, out: 700 };
    const legacy = { in: 1200, cached: 200, out: 90 };
    await otlp([
      resourceSpans({ 'service.name': 'cache-app', 'sagewai.project_id': 'genai-cache' }, [
        span('chat gpt-4.1', chat('gpt-4.1', { 'gen_ai.usage.input_tokens': semconv.in, 'gen_ai.usage.cache_read.input_tokens': semconv.cached, 'gen_ai.usage.output_tokens': semconv.out })),
        // OpenLLMetry's names.
        span('openai.chat', chat('gpt-4.1', { 'gen_ai.usage.prompt_tokens': legacy.in, 'gen_ai.usage.cache_read_input_tokens': legacy.cached, 'gen_ai.usage.completion_tokens': legacy.out })),
        // An agent span summing its children's usage: not a call, never priced.
        span('invoke_agent triage', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.request.model': 'gpt-4.1', 'gen_ai.usage.input_tokens': 6200, 'gen_ai.usage.output_tokens': 790 }),
      ]),
      // The built-in backend exports its ledger totals; its spans must not add to them.
      resourceSpans({ 'service.name': 'sagewai-admin', 'sagewai.project_id': 'genai-cache' }, [span('chat gpt-4.1', chat('gpt-4.1', { 'gen_ai.usage.input_tokens': 999_999, 'gen_ai.usage.output_tokens': 999_999 }))]),
    ]);
    const q = book.quote('gpt-4.1');
    const want = [semconv, legacy].reduce((n, u) => n + PriceBook.costNusd(q, { input: u.in - u.cached, cachedInput: u.cached, output: u.out, reasoning: 0 }), 0);
    const { value } = await eventually('cached-input totals', async () => Object.fromEntries(await metricsByProject(vm, from, ['genai-cache'])), (m) => m['genai-cache']?.calls === 2);
    expect(value['genai-cache']).toEqual({ cost_nusd: want, input: semconv.in - semconv.cached + legacy.in - legacy.cached, cached_input: semconv.cached + legacy.cached, output: semconv.out + legacy.out, reasoning: 0, calls: 2 });
    expect(await vm.query('sagewai_llm_cost_usd_total{job="sagewai-admin"}')).toEqual([]);
  });

  it('splits reasoning tokens out of output (semconv and OpenLLMetry names) and prices each once', async () => {
    const semconv = { in: 900, out: 500, reasoning: 320 };
    const legacy = { in: 400, out: 120, reasoning: 70 };
    await otlp([
      resourceSpans({ 'service.name': 'thinking-app', 'sagewai.project_id': 'genai-reasoning' }, [
        span('chat gpt-5', chat('gpt-5', { 'gen_ai.usage.input_tokens': semconv.in, 'gen_ai.usage.output_tokens': semconv.out, 'gen_ai.usage.reasoning.output_tokens': semconv.reasoning })),
        span('openai.chat', chat('gpt-5', { 'gen_ai.usage.prompt_tokens': legacy.in, 'gen_ai.usage.completion_tokens': legacy.out, 'gen_ai.usage.reasoning_tokens': legacy.reasoning })),
      ]),
    ]);
    const q = book.quote('gpt-5');
    const want = [semconv, legacy].reduce((n, u) => n + PriceBook.costNusd(q, { input: u.in, cachedInput: 0, output: u.out - u.reasoning, reasoning: u.reasoning }), 0);
    const { value } = await eventually('reasoning totals', async () => Object.fromEntries(await metricsByProject(vm, from, ['genai-reasoning'])), (m) => m['genai-reasoning']?.calls === 2);
    expect(value['genai-reasoning']).toEqual({ cost_nusd: want, input: semconv.in + legacy.in, cached_input: 0, output: semconv.out - semconv.reasoning + legacy.out - legacy.reasoning, reasoning: semconv.reasoning + legacy.reasoning, calls: 2 });
  });

  it('rejects malformed spans (counted by reason, never priced) and keeps pricing the good ones', async () => {
    const tenant = { 'service.name': 'hostile-app', 'tenant.id': 'x', 'sagewai.project_id': 'genai-hostile' };
    await otlp([
      resourceSpans(tenant, [
        span('non-numeric', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 'lots', 'gen_ai.usage.output_tokens': 5 })),
        span('fractional', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 10.5, 'gen_ai.usage.output_tokens': 5 })),
        span('negative', chat('gpt-4o', { 'gen_ai.usage.input_tokens': -40, 'gen_ai.usage.output_tokens': 5 })),
        span('absurd', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 50_000_000_000, 'gen_ai.usage.output_tokens': 5 })),
        span('no output', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 10 })),
        span('no model', { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 }),
        span('cached > input', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.cache_read.input_tokens': 11, 'gen_ai.usage.output_tokens': 5 })),
        span('reasoning > output', chat('gpt-5', { 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5, 'gen_ai.usage.reasoning.output_tokens': 6 })),
        span('good', chat('gpt-4o', { 'gen_ai.usage.input_tokens': 100, 'gen_ai.usage.output_tokens': 20 })),
      ]),
    ]);
    const expr = `sum by (sagewai_genai_reject_reason) (increase_pure(sagewai_genai_rejected_spans_total{sagewai_project_id="genai-hostile"}[${range()}]))`;
    const { value } = await eventually('rejected spans', () => vm.query(expr), (s) => s.reduce((n, x) => n + x.value, 0) === 8);
    expect(Object.fromEntries(value.map((s) => [s.metric.sagewai_genai_reject_reason, s.value]))).toEqual({
      non_integer_tokens: 2,
      negative_tokens: 1,
      absurd_tokens: 1,
      missing_tokens: 1,
      missing_model: 1,
      cached_exceeds_input: 1,
      reasoning_exceeds_output: 1,
    });
    // `doctor` says so, by reason, as a warning (the pipeline itself is fine).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    const doctor = await run(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), 'doctor', '--json', '--state-dir', stack.stateDir], { env, timeout: 60_000 });
    const probe = (JSON.parse(doctor.stdout) as { probes: Array<{ name: string; status: string; detail: string }> }).probes.find((p) => p.name === 'GenAI spans priced');
    expect(probe?.status).toBe('warn');
    expect(probe?.detail).toMatch(/^8 gen_ai\.\* span\(s\) rejected in the last 1h, never priced: non_integer_tokens 2, /);
    expect(probe?.detail).toContain('missing_model 1');

    const good = PriceBook.costNusd(book.quote('gpt-4o'), { input: 100, cachedInput: 0, output: 20, reasoning: 0 });
    const { value: totals } = await eventually('the good span', async () => Object.fromEntries(await metricsByProject(vm, from, ['genai-hostile'])), (m) => m['genai-hostile']?.calls === 1);
    expect(totals['genai-hostile']).toEqual({ cost_nusd: good, input: 100, cached_input: 0, output: 20, reasoning: 0, calls: 1 });
  });

  it("shows the apps in the HUD per tenant, and leaves verify's ledger reconciliation to the backend (external spend has no ledger, so no mismatch)", async () => {
    const backend = await startTestBackend();
    try {
      const api = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
      const r = await reconcile({ vm, vl: new VictoriaLogsClient(stack.endpoints.vlUrl), backend: api, window: { from, to: new Date() }, reconcileTimeoutMs: 3000, pollMs: 1000 });
      expect(r.error).toBeUndefined();
      expect(r.mismatches).toEqual([]);
      expect(r.ok).toBe(true);
      // The HUD shows each tenant with its app as an agent, and the tenant's exact spend today.
      const sources = createRealSources({ vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, backendUrl: backend.url, token: backend.operatorToken });
      try {
        const model = await collectModel(sources, { project: null, previous: null });
        const graph = Object.fromEntries(model.graph.map((t) => [t.project, t.agents.map((a) => a.name)]));
        expect(graph).toMatchObject({ 'genai-acme': ['support-bot'], 'genai-globex': ['support-bot'], 'genai-initech-app': ['genai-initech-app'] });
        const spend = Object.fromEntries(model.spend.map((x) => [x.project, Math.round(x.costUsd * 1e9)]));
        for (const t of TENANTS) expect(spend[t], t).toBe(expectedByTenant?.get(t)?.cost_nusd);
        const frame = renderFrameToString(await collectModel(sources, { project: 'genai-globex', previous: null }), { columns: 140, rows: 40 });
        expect(frame).toContain('genai-globex');
        expect(frame).toContain('support-bot');
        expect(frame).not.toContain('genai-acme');
      } finally {
        await sources.close?.();
      }
      // …while the external spend is in VictoriaMetrics under the same cost entry the board reads.
      const total = await vm.query(renderExpr(getEntry('kpi.spend_total'), { range: range() }));
      expect(total[0]?.value).toBeGreaterThan(0);
    } finally {
      await backend.stop();
    }
  });
});
