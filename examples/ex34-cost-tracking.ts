/**
 * Example 34 — cost tracking. A fixed workload (exact token counts per call, local ollama models
 * free) runs through the backend, so every call lands in the ledger, the metrics and the board.
 * Then every figure — project and model roll-ups, tokens, local vs cloud, what-if, the budget
 * pre-flight — is read back through the catalog from VictoriaMetrics and checked against the same
 * figure computed here from the price book.
 */
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { getEntry, renderExpr } from '../src/queries/index.js';
import type { ExpectedEvent } from '../src/run-example/verify.js';
import { ExampleContext, idempotent, type ExampleOptions, type ExampleResultBase } from '../src/driver/context.js';
import { sleep } from '../src/driver/pace.js';
import { callNusd, isLocal, loadBook } from '../src/driver/pricebook.js';
import { signIn } from '../src/driver/session.js';

export const DEFAULT_SEED = 34;
export const WHAT_IF_CLOUD_MODEL = 'claude-sonnet-4-5';

export interface Call {
  project: string;
  agent: string;
  model: string;
  input: number;
  output: number;
}

const W: Array<[string, string, Array<[string, number, number]>]> = [
  ['acme-prod', 'customer-support', [['claude-sonnet-4-5', 3200, 800], ['claude-sonnet-4-5', 1800, 400]]],
  ['acme-prod', 'legal-reviewer', [['claude-opus-4-6', 5000, 1200], ['claude-opus-4-6', 4200, 800]]],
  ['acme-prod', 'email-triage', [['claude-haiku-4-5', 800, 200], ['claude-haiku-4-5', 600, 150], ['claude-haiku-4-5', 700, 180]]],
  ['globex-prod', 'docs-search', [['ollama/llama3:70b', 2000, 500], ['gpt-4o-mini', 1200, 300]]],
  ['globex-prod', 'code-reviewer', [['gpt-4o-mini', 3500, 900], ['gpt-4o-mini', 2800, 700]]],
  ['initech-prod', 'local-summariser', [['ollama/llama3:70b', 4000, 1000], ['ollama/llama3:70b', 3200, 800]]],
  ['initech-prod', 'prototype-bot', [['ollama/llama3:70b', 1500, 400], ['gpt-4o-mini', 600, 150]]],
  ['initech-prod', 'batch-classifier', [['ollama/llama3:70b', 8000, 2000]]],
];

/** The reference's fixed workload, call by call. */
export const WORKLOAD: readonly Call[] = W.flatMap(([project, agent, calls]) => calls.map(([model, input, output]) => ({ project, agent, model, input, output })));
export const PROJECTS = [...new Set(WORKLOAD.map((c) => c.project))];
/** Daily warn caps for the budget pre-flight. */
export const BUDGETS: Record<string, number> = { 'acme-prod': 0.25, 'globex-prod': 0.01, 'initech-prod': 0.001 };

const usd = (nusd: number): number => nusd / 1e9;
const micro = (x: number): number => Math.round(x * 1e6);

export interface Rollup {
  key: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  expectedUsd: number;
  ledgerUsd: number;
  catalogUsd: number;
}

export interface Example34Result extends ExampleResultBase {
  example: '34';
  trace: Array<Call & { runId: string; costUsd: number; expectedUsd: number }>;
  byProject: Rollup[];
  byModel: Rollup[];
  tokens: { input: number; output: number; catalogInput: number; catalogOutput: number };
  localVsCloud: { localTokens: number; cloudTokens: number; localTokenShare: number; localUsd: number; cloudUsd: number };
  whatIf: { actualUsd: number; allLocalUsd: number; allCloudModel: string; allCloudUsd: number; allCloudFromCatalogUsd: number };
  preflight: Array<{ project: string; limitUsd: number; spentUsd: number; nextRunUsd: number; verdict: 'fits' | 'would exceed'; catalogUtilization: number | null; backendUtilization: number }>;
  totalUsd: number;
}

export async function run(options: ExampleOptions & { whatIfModel?: string }): Promise<Example34Result> {
  const ctx = new ExampleContext(options, DEFAULT_SEED);
  const { api, progress } = ctx;
  const book = loadBook();
  const whatIfModel = options.whatIfModel ?? WHAT_IF_CLOUD_MODEL;
  try {
    progress.phase = 'setup';
    await signIn(ctx);
    for (const p of PROJECTS) {
      await idempotent(() => api.createProject({ slug: p, name: p, environment: 'production' }));
      await idempotent(() => api.setBudget(p, { scope: 'project', subject: p, window: 'daily', limit_usd: BUDGETS[p] as number, action: 'warn' }));
    }
    for (const c of WORKLOAD) {
      await idempotent(() => api.createAgent(c.project, { name: c.agent, model: c.model, system_prompt: `${c.agent} of ${c.project}`, strategy: 'direct', temperature: 0, tools: [], metadata: {} }));
    }

    progress.phase = 'workload';
    const trace: Example34Result['trace'] = [];
    for (const c of WORKLOAD) {
      const fin = await api.run(c.project, { agent_name: c.agent, model: c.model, message: `fixed workload call ${trace.length + 1}`, simulate: { input_tokens: c.input, output_tokens: c.output } });
      const expected = usd(callNusd(book, c.model, c.input, c.output));
      const got = fin.usage?.cost_usd ?? Number.NaN;
      trace.push({ ...c, runId: fin.run_id, costUsd: got, expectedUsd: expected });
      progress.runs++;
      progress.spendUsd += Number.isFinite(got) ? got : 0;
      ctx.log(`${c.project.padEnd(13)} ${c.agent.padEnd(17)} ${c.model.padEnd(18)} ${String(c.input).padStart(5)}/${String(c.output).padEnd(5)} $${got.toFixed(6)}`);
      const u = fin.usage;
      ctx.check(`call ${trace.length} ${c.agent}/${c.model} priced from the price book`, fin.status === 'completed' && u !== undefined && u.input_tokens === c.input && u.output_tokens === c.output && u.cost_nusd === callNusd(book, c.model, c.input, c.output), u ? `${u.input_tokens}/${u.output_tokens} tokens, ${u.cost_nusd} nUSD; price book ${callNusd(book, c.model, c.input, c.output)} nUSD` : `run ${fin.status} without usage`);
    }
    const endMs = Date.now();
    const fromMs = (ctx.counter.firstRequestAt ?? endMs) - 1000;

    // Expected roll-ups from the price book.
    const roll = (key: (c: Call) => string): Map<string, Rollup> => {
      const m = new Map<string, Rollup>();
      for (const c of WORKLOAD) {
        const k = key(c);
        const r = m.get(k) ?? { key: k, calls: 0, inputTokens: 0, outputTokens: 0, expectedUsd: 0, ledgerUsd: 0, catalogUsd: 0 };
        r.calls++;
        r.inputTokens += c.input;
        r.outputTokens += c.output;
        r.expectedUsd += usd(callNusd(book, c.model, c.input, c.output));
        m.set(k, r);
      }
      return m;
    };
    const byProject = roll((c) => c.project);
    const byModel = roll((c) => c.model);

    // The ledger for the window, our projects only.
    const ledger = await api.costs({ from: new Date(fromMs), to: new Date(Date.now() + 1000), group_by: ['project', 'model'] });
    for (const g of ledger.groups) {
      if (!g.project || !PROJECTS.includes(g.project)) continue;
      const p = byProject.get(g.project);
      if (p) p.ledgerUsd += usd(g.cost_nusd);
      const m = g.model ? byModel.get(g.model) : undefined;
      if (m) m.ledgerUsd += usd(g.cost_nusd);
    }

    // Budget status now (the daily window includes this run).
    const statuses = new Map<string, { limit: number; spent: number; utilization: number }>();
    for (const p of PROJECTS) {
      const st = (await api.budgetStatus(p, { scope: 'project', subject: p })).find((s) => s.subject === p && s.window === 'daily');
      if (st) statuses.set(p, { limit: st.limit_usd, spent: st.spent_usd, utilization: st.utilization });
    }

    // Read every figure back through the catalog; wait for the scrape that carries the last call.
    progress.phase = 'read back';
    const vmUrl = options.vmUrl;
    const catalogCost = new Map<string, number>();
    const catalogModel = new Map<string, number>();
    const catalogTokens = new Map<string, Map<string, number>>(); // model → type → tokens
    const catalogUtil = new Map<string, number>();
    if (vmUrl) {
      const vm = new VictoriaMetricsClient(vmUrl);
      const deadline = Date.now() + 45_000;
      for (;;) {
        const now = Date.now();
        const range = `${Math.ceil((now - fromMs) / 1000) + 1}s`;
        catalogCost.clear();
        catalogModel.clear();
        catalogTokens.clear();
        for (const p of PROJECTS) {
          for (const s of await vm.query(renderExpr(getEntry('cost.by_project'), { project: p, range }), { time: now / 1000 })) catalogCost.set(p, (catalogCost.get(p) ?? 0) + s.value);
          for (const s of await vm.query(renderExpr(getEntry('cost.by_model'), { project: p, range }), { time: now / 1000 })) {
            const m = s.metric.gen_ai_request_model ?? '';
            catalogModel.set(m, (catalogModel.get(m) ?? 0) + s.value);
          }
          for (const s of await vm.query(renderExpr(getEntry('tokens.by_model'), { project: p, range }), { time: now / 1000 })) {
            const m = s.metric.gen_ai_request_model ?? '';
            const t = s.metric.gen_ai_token_type ?? '';
            const inner = catalogTokens.get(m) ?? new Map<string, number>();
            inner.set(t, (inner.get(t) ?? 0) + s.value);
            catalogTokens.set(m, inner);
          }
          for (const s of await vm.query(renderExpr(getEntry('budget.utilization'), { project: p, range }), { time: now / 1000 })) {
            if (s.metric.sagewai_budget_scope === 'project' && s.metric.sagewai_budget_window === 'daily') catalogUtil.set(p, s.value);
          }
        }
        const settled = [...byProject.values()].every((r) => micro(catalogCost.get(r.key) ?? 0) === micro(r.expectedUsd)) && [...byModel.values()].every((r) => Math.round(catalogTokens.get(r.key)?.get('input') ?? 0) === r.inputTokens);
        if (settled || Date.now() > deadline) break;
        await sleep(1000);
      }
    }
    for (const r of byProject.values()) r.catalogUsd = catalogCost.get(r.key) ?? 0;
    for (const r of byModel.values()) r.catalogUsd = catalogModel.get(r.key) ?? 0;

    const rollups: Array<[string, Rollup]> = [...[...byProject.values()].map((x): [string, Rollup] => ['project', x]), ...[...byModel.values()].map((x): [string, Rollup] => ['model', x])];
    for (const [dim, x] of rollups) {
      ctx.check(`${dim} ${x.key}: ledger == price book`, micro(x.ledgerUsd) === micro(x.expectedUsd), `ledger $${x.ledgerUsd.toFixed(6)}, price book $${x.expectedUsd.toFixed(6)}`);
      if (vmUrl) ctx.check(`${dim} ${x.key}: catalog == price book`, micro(x.catalogUsd) === micro(x.expectedUsd), `catalog $${x.catalogUsd.toFixed(6)}, price book $${x.expectedUsd.toFixed(6)}`);
    }

    const sumTokens = (type: string): number => [...catalogTokens.values()].reduce((a, m) => a + (m.get(type) ?? 0), 0);
    const tokens = {
      input: WORKLOAD.reduce((a, c) => a + c.input, 0),
      output: WORKLOAD.reduce((a, c) => a + c.output, 0),
      catalogInput: Math.round(sumTokens('input')),
      catalogOutput: Math.round(sumTokens('output')),
    };
    if (vmUrl) ctx.check('tokens by type: catalog == workload', tokens.catalogInput === tokens.input && tokens.catalogOutput === tokens.output, `input ${tokens.catalogInput}/${tokens.input}, output ${tokens.catalogOutput}/${tokens.output}`);

    // Local vs cloud, from the catalog's tokens per model (the workload when no store is given).
    const tokensOf = (model: string): { input: number; output: number } => {
      const m = catalogTokens.get(model);
      // Reasoning tokens are billed like output (the what-if prices them at the other model's output price).
      if (vmUrl && m) return { input: Math.round(m.get('input') ?? 0), output: Math.round((m.get('output') ?? 0) + (m.get('reasoning') ?? 0)) };
      const r = byModel.get(model);
      return { input: r?.inputTokens ?? 0, output: r?.outputTokens ?? 0 };
    };
    let localTokens = 0;
    let cloudTokens = 0;
    let localUsd = 0;
    let cloudUsd = 0;
    let allCloudFromCatalog = 0;
    for (const model of byModel.keys()) {
      const t = tokensOf(model);
      const cost = vmUrl ? (catalogModel.get(model) ?? 0) : (byModel.get(model)?.expectedUsd ?? 0);
      if (isLocal(book, model)) {
        localTokens += t.input + t.output;
        localUsd += cost;
      } else {
        cloudTokens += t.input + t.output;
        cloudUsd += cost;
      }
      allCloudFromCatalog += usd(callNusd(book, whatIfModel, t.input, t.output));
    }
    const totalExpected = [...byProject.values()].reduce((a, r) => a + r.expectedUsd, 0);
    const allCloudExpected = usd(WORKLOAD.reduce((a, c) => a + callNusd(book, whatIfModel, c.input, c.output), 0));
    ctx.check('local models cost $0', micro(localUsd) === 0, `local spend $${localUsd.toFixed(6)}`);
    ctx.check(`what-if all cloud at ${whatIfModel}: catalog tokens == workload`, micro(allCloudFromCatalog) === micro(allCloudExpected), `from catalog $${allCloudFromCatalog.toFixed(6)}, from price book $${allCloudExpected.toFixed(6)}`);

    const preflight: Example34Result['preflight'] = PROJECTS.map((p) => {
      const st = statuses.get(p);
      const next = byProject.get(p)?.expectedUsd ?? 0;
      const limit = st?.limit ?? BUDGETS[p] ?? 0;
      const spent = st?.spent ?? 0;
      return { project: p, limitUsd: limit, spentUsd: spent, nextRunUsd: next, verdict: spent + next <= limit ? 'fits' : 'would exceed', catalogUtilization: catalogUtil.get(p) ?? null, backendUtilization: st?.utilization ?? 0 };
    });
    for (const pf of preflight) {
      ctx.check(`budget ${pf.project}: today's spend includes this run`, micro(pf.spentUsd) >= micro(byProject.get(pf.project)?.expectedUsd ?? 0), `spent today $${pf.spentUsd.toFixed(6)}, this run $${(byProject.get(pf.project)?.expectedUsd ?? 0).toFixed(6)}`);
      if (vmUrl) ctx.check(`budget ${pf.project}: catalog utilisation == backend`, pf.catalogUtilization !== null && Math.abs(pf.catalogUtilization - pf.backendUtilization) < 1e-6, `catalog ${pf.catalogUtilization ?? 'no data'}, backend ${pf.backendUtilization}`);
    }
    progress.phase = 'done';

    return {
      example: '34',
      title: 'cost tracking',
      seed: ctx.seed,
      window: ctx.window(endMs),
      projects: PROJECTS,
      requests: ctx.requestsSummary(endMs),
      checks: ctx.checks,
      trace,
      byProject: [...byProject.values()],
      byModel: [...byModel.values()],
      tokens,
      localVsCloud: { localTokens, cloudTokens, localTokenShare: localTokens + cloudTokens > 0 ? localTokens / (localTokens + cloudTokens) : 0, localUsd, cloudUsd },
      whatIf: { actualUsd: totalExpected, allLocalUsd: 0, allCloudModel: whatIfModel, allCloudUsd: allCloudExpected, allCloudFromCatalogUsd: allCloudFromCatalog },
      preflight,
      totalUsd: totalExpected,
    };
  } finally {
    await ctx.close();
  }
}

export function expectedEvents(r: Example34Result): ExpectedEvent[] {
  return r.projects.flatMap((p) => [
    { event: 'agent.run.started', project: p },
    { event: 'agent.run.completed', project: p },
  ]);
}
