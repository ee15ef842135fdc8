import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PriceBook } from '../src/backend/pricebook.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { UserError } from '../src/errors.js';
import { collectModel } from '../src/hud/collect.js';
import { createRealSources } from '../src/hud/real-sources.js';
import { defaultCacheDir, packageRoot } from '../src/paths.js';
import { startOpenAiProvider, type RecordedCall, type RunningOpenAiProvider } from '../src/provider/openai-compat.js';
import { getEntry, renderExpr } from '../src/queries/index.js';
import { buildCostReport, rangeOf } from '../src/report/cost.js';
import type { ExpectedEvent } from '../src/run-example/verify.js';
import { ExampleContext, type ExampleOptions, type ExampleResultBase } from '../src/driver/context.js';

/**
 * Example 17 — external GenAI apps, written with clients nobody here wrote: the official `openai`
 * npm client instrumented by @opentelemetry/instrumentation-openai, and the official Python
 * `openai` client instrumented by opentelemetry-instrumentation-openai-v2 (from PyPI, in a venv
 * this example creates once). Both call `sagewai-obs provider` for 3 tenants and export OTLP to
 * the stack's collector, which prices their gen_ai.* spans (docs/genai.md). The checks: each
 * tenant's cost, tokens and calls in VictoriaMetrics equal the provider's recorded calls × the
 * price book to the nano-dollar, and every tenant appears in `cost` and the HUD.
 */

export const DEFAULT_SEED = 17;
const run$ = promisify(execFile);
const APPS_DIR = path.join(packageRoot(), 'examples', 'genai');

/** One tenant per mapping rule: sagewai.project_id, the configured attribute (tenant.id), and both. */
export const TENANTS = [
  { project: 'genai-acme', resource: 'sagewai.project_id=genai-acme' },
  { project: 'genai-globex', resource: 'tenant.id=genai-globex' },
  { project: 'genai-initech', resource: 'tenant.id=genai-initech,deployment.environment.name=demo' },
] as const;

const NODE_APP = 'support-bot-node';
const PYTHON_APP = 'billing-bot-python';

/** The calls each app makes for each tenant (a fixed workload; streaming with the usage chunk). */
const WORKLOAD: Record<string, Array<{ model: string; prompt: string; stream: boolean }>> = {
  [NODE_APP]: [
    { model: 'gpt-4o-mini', prompt: 'Where is my order 1234?', stream: false },
    { model: 'gpt-4.1-nano', prompt: 'Summarise ticket 88 in one line.', stream: true },
    { model: 'claude-haiku-4-5-20251001', prompt: 'Draft a refund note for order 77.', stream: false },
    { model: 'acme-llm-9', prompt: 'Write a haiku about invoices.', stream: false },
  ],
  [PYTHON_APP]: [
    { model: 'gpt-4o', prompt: 'Explain the late fee on invoice 5521.', stream: false },
    { model: 'gpt-4o', prompt: 'Explain the credit note on invoice 5522.', stream: true },
    { model: 'gpt-5-mini', prompt: 'Classify this billing complaint.', stream: false },
  ],
};

export interface TenantTotals {
  project: string;
  expected: { cost_nusd: number; input: number; cached_input: number; output: number; calls: number; unpriced_calls: number };
  catalog: { cost_nusd: number; input: number; cached_input: number; output: number; calls: number; unpriced_calls: number } | null;
}

export interface Example17Result extends ExampleResultBase {
  example: '17';
  apps: string[];
  providerCalls: number;
  tenants: TenantTotals[];
  python: { venv: string; created: boolean };
}

/** The venv of the Python app, created once per requirements file (its hash names it). */
async function pythonVenv(log: (l: string) => void): Promise<{ python: string; dir: string; created: boolean }> {
  const req = path.join(APPS_DIR, 'requirements.txt');
  const hash = createHash('sha256').update(fs.readFileSync(req)).digest('hex').slice(0, 12);
  const dir = path.join(path.dirname(defaultCacheDir()), `genai-venv-${hash}`);
  const python = path.join(dir, 'bin', 'python');
  if (fs.existsSync(path.join(dir, '.complete'))) return { python, dir, created: false };
  const system = process.env.SAGEWAI_OBS_PYTHON ?? 'python3';
  log(`creating the Python venv ${dir} (pip install -r examples/genai/requirements.txt from PyPI; once)`);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    await run$(system, ['-m', 'venv', dir], { timeout: 120_000 });
    await run$(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', req], { timeout: 600_000 });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: string; message: string };
    throw new UserError(`could not create the Python venv for example 17: ${(e.stderr ?? e.message).trim().split('\n').slice(-3).join(' ')}`, ['it needs python3 with the venv module (or SAGEWAI_OBS_PYTHON=/path/to/python3) and access to PyPI']);
  }
  fs.writeFileSync(path.join(dir, '.complete'), `${new Date().toISOString()}\n`);
  return { python, dir, created: true };
}

function expectedTotals(book: PriceBook, calls: readonly RecordedCall[]): Map<string, TenantTotals['expected']> {
  const out = new Map<string, TenantTotals['expected']>();
  for (const t of TENANTS) out.set(t.project, { cost_nusd: 0, input: 0, cached_input: 0, output: 0, calls: 0, unpriced_calls: 0 });
  for (const c of calls) {
    const t = out.get(c.project ?? '');
    if (!t || c.status !== 'ok') continue;
    const q = book.quote(c.model);
    const tokens = { input: c.prompt_tokens - c.cached_tokens, cachedInput: c.cached_tokens, output: c.completion_tokens, reasoning: 0 };
    if (q.priced) t.cost_nusd += PriceBook.costNusd(q, tokens);
    else t.unpriced_calls++;
    t.input += tokens.input;
    t.cached_input += tokens.cachedInput;
    t.output += tokens.output;
    t.calls++;
  }
  return out;
}

async function catalogTotals(vm: VictoriaMetricsClient, from: Date): Promise<Map<string, NonNullable<TenantTotals['catalog']>>> {
  const to = new Date();
  const range = rangeOf({ from, to });
  const q = (id: string, project?: string) => vm.query(renderExpr(getEntry(id), { range, project }), { time: to });
  const [cost, tokens, calls] = await Promise.all([q('cost.by_project'), q('tokens.by_project'), q('calls.by_project')]);
  const out = new Map<string, NonNullable<TenantTotals['catalog']>>();
  const at = (p: string | undefined) => {
    if (!p || !TENANTS.some((t) => t.project === p)) return undefined;
    let t = out.get(p);
    if (!t) out.set(p, (t = { cost_nusd: 0, input: 0, cached_input: 0, output: 0, calls: 0, unpriced_calls: 0 }));
    return t;
  };
  for (const s of cost) {
    const t = at(s.metric.sagewai_project_id);
    if (t) t.cost_nusd += Math.round(s.value * 1e9);
  }
  for (const s of tokens) {
    const t = at(s.metric.sagewai_project_id);
    const type = s.metric.gen_ai_token_type;
    if (t && (type === 'input' || type === 'cached_input' || type === 'output')) t[type] += Math.round(s.value);
    // The provider's completion_tokens include reasoning; an instrumentation that reports it apart
    // (gen_ai.usage.reasoning.output_tokens) has it split out of output by the collector.
    if (t && type === 'reasoning') t.output += Math.round(s.value);
  }
  for (const s of calls) {
    const t = at(s.metric.sagewai_project_id);
    if (!t) continue;
    t.calls += Math.round(s.value);
    if (s.metric.sagewai_priced === 'false') t.unpriced_calls += Math.round(s.value);
  }
  return out;
}

export async function run(o: ExampleOptions): Promise<Example17Result> {
  const ctx = new ExampleContext(o, DEFAULT_SEED);
  if (!o.otlpHttp || !o.vmUrl) throw new UserError('example 17 needs the stack (its collector and VictoriaMetrics)', ['sagewai-obs up', 'then run-example 17 again']);
  const book = PriceBook.load();
  const vm = new VictoriaMetricsClient(o.vmUrl);
  const startedAt = Date.now();
  const from = new Date(startedAt - 1000);
  const venv = await pythonVenv(ctx.log);
  // One provider per app, neither caching: the spans of both official instrumentations as pinned
  // here (JS 0.21, Python openai-v2 2.4b0) carry no cached-token attribute, so a cached prompt
  // would be priced at the full input rate and could not match the provider's bill. Cached input
  // is priced when an instrumentation reports it (test/genai.integration.test.ts).
  const providers: RunningOpenAiProvider[] = [];
  try {
    const nodeProvider = await startOpenAiProvider({ port: 0, seed: ctx.seed, latencyScale: 0.05, cacheMinTokens: 1_000_000_000 });
    providers.push(nodeProvider);
    const pyProvider = await startOpenAiProvider({ port: 0, seed: ctx.seed + 1, latencyScale: 0.05, cacheMinTokens: 1_000_000_000 });
    providers.push(pyProvider);
    ctx.progress.phase = 'apps calling the provider';
    for (const [app, provider, cmd] of [
      [NODE_APP, nodeProvider, [process.execPath, path.join(APPS_DIR, 'openai-node-app.mjs')]],
      [PYTHON_APP, pyProvider, [venv.python, path.join(APPS_DIR, 'openai_python_app.py')]],
    ] as const) {
      for (const t of TENANTS) {
        const env = {
          ...process.env,
          OPENAI_BASE_URL: provider.url,
          OPENAI_API_KEY: 'sim-key',
          OTEL_EXPORTER_OTLP_ENDPOINT: o.otlpHttp,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_SERVICE_NAME: app,
          OTEL_RESOURCE_ATTRIBUTES: t.resource,
          GENAI_APP_PROJECT: t.project,
          GENAI_APP_CALLS: JSON.stringify(WORKLOAD[app]),
        };
        const r = await run$(cmd[0], [cmd[1]], { env, timeout: 120_000 }).catch((err: { stderr?: string; message: string }) => {
          throw new Error(`${app} for ${t.project} failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-3).join(' ')}`);
        });
        const lines = r.stdout.trim().split('\n').filter(Boolean).length;
        ctx.check(`${app} for ${t.project}: every call answered`, lines === WORKLOAD[app]!.length, `${lines}/${WORKLOAD[app]!.length} calls`);
        ctx.log(`${app} → ${t.project}: ${lines} calls`);
      }
    }
    const recorded = [...nodeProvider.calls(), ...pyProvider.calls()];
    const expected = expectedTotals(book, recorded);

    // The collector prices on arrival; wait for the scrape (2 s) and VictoriaMetrics' freshness.
    ctx.progress.phase = 'waiting for VictoriaMetrics';
    let catalog = await catalogTotals(vm, from);
    const same = (t: string) => JSON.stringify(catalog.get(t)) === JSON.stringify(expected.get(t));
    for (const deadline = Date.now() + 60_000; !TENANTS.every((t) => same(t.project)) && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 1000));
      catalog = await catalogTotals(vm, from);
    }
    const tenants: TenantTotals[] = TENANTS.map((t) => ({ project: t.project, expected: expected.get(t.project)!, catalog: catalog.get(t.project) ?? null }));
    for (const t of tenants) {
      const e = t.expected;
      const c = t.catalog;
      ctx.check(`${t.project}: cost in VictoriaMetrics == provider's calls × price book`, c?.cost_nusd === e.cost_nusd, `catalog ${c ? `${c.cost_nusd} nUSD` : 'no data'}, expected ${e.cost_nusd} nUSD`);
      ctx.check(`${t.project}: tokens and calls == provider's record`, c !== null && c.input === e.input && c.cached_input === e.cached_input && c.output === e.output && c.calls === e.calls && c.unpriced_calls === e.unpriced_calls, `catalog ${JSON.stringify(c)}, provider ${JSON.stringify(e)}`);
    }

    // Every tenant in `cost` and in the HUD, with both apps as its agents.
    const report = await buildCostReport(vm, { by: 'agent', window: { from, to: new Date() } });
    for (const t of TENANTS) {
      const agents = report.rows.filter((r) => r.labels.sagewai_project_id === t.project).map((r) => r.labels.sagewai_agent_name).sort();
      ctx.check(`${t.project} in \`cost --by agent\` with both apps`, JSON.stringify(agents) === JSON.stringify([PYTHON_APP, NODE_APP].sort()), agents.join(', ') || 'absent');
    }
    if (o.vlUrl) {
      const sources = createRealSources({ vmUrl: o.vmUrl, vlUrl: o.vlUrl, backendUrl: o.backendUrl, token: o.token });
      try {
        // The apps never talk to the backend, and --verify counts every backend request against
        // the HTTP metrics: leave the HUD's live view (a backend read) out of this frame.
        const hud = { ...sources, live: () => Promise.reject(new Error('not read by example 17')) };
        // The HUD graph draws call rates: a series born in the last scrape has no rate yet.
        const complete = (m: Awaited<ReturnType<typeof collectModel>>) => TENANTS.every((t) => [NODE_APP, PYTHON_APP].every((a) => m.graph.find((g) => g.project === t.project)?.agents.some((x) => x.name === a)));
        let model = await collectModel(hud, { project: null, previous: null });
        for (const deadline = Date.now() + 20_000; !complete(model) && Date.now() < deadline; ) {
          await new Promise((r) => setTimeout(r, 1000));
          model = await collectModel(hud, { project: null, previous: null });
        }
        for (const t of TENANTS) {
          const node = model.graph.find((g) => g.project === t.project);
          const spend = model.spend.find((s) => s.project === t.project);
          ctx.check(`${t.project} in the HUD with both apps as agents`, node !== undefined && [NODE_APP, PYTHON_APP].every((a) => node.agents.some((x) => x.name === a)), node ? node.agents.map((a) => a.name).join(', ') : 'absent');
          ctx.check(`${t.project}: HUD spend today covers this run`, spend !== undefined && Math.round(spend.costUsd * 1e9) >= expected.get(t.project)!.cost_nusd, spend ? `$${spend.costUsd.toFixed(9)}` : 'absent');
        }
      } finally {
        await sources.close?.();
      }
    }
    const endMs = Date.now();
    return {
      example: '17',
      title: 'external GenAI apps',
      seed: ctx.seed,
      window: { from: from.toISOString(), to: new Date(endMs).toISOString() },
      projects: TENANTS.map((t) => t.project),
      requests: ctx.requestsSummary(endMs),
      checks: ctx.checks,
      apps: [NODE_APP, PYTHON_APP],
      providerCalls: recorded.length,
      tenants,
      python: { venv: venv.dir, created: venv.created },
    };
  } finally {
    await Promise.all(providers.map((p) => p.close()));
    await ctx.close();
  }
}

export function expectedEvents(_r: Example17Result): ExpectedEvent[] {
  // The apps write no audit events; the backend is not involved.
  return [];
}
