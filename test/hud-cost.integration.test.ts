import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { collectModel } from '../src/hud/collect.js';
import { startOfUtcDay, type HudModel } from '../src/hud/model.js';
import { createRealSources } from '../src/hud/real-sources.js';
import { buildCostReport } from '../src/report/cost.js';
import { renderFrameToString } from '../src/tui/index.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * The HUD and `cost` read the same live stack and must agree: spend per tenant for the same
 * window, to the nano-dollar. Both are also checked against the backend's ledger, which is
 * the independent truth (the workload below is priced by the backend, not by this test).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** USD → whole nano-dollars, the ledger's exact unit (micro-dollar rounding splits at half-micros). */
const nano = (v: number): number => Math.round(v * 1e9);

let stack: TestStack;
let backend: TestBackend;
let api: BackendClient;
const TENANTS = { 'hud-alpha': 3, 'hud-beta': 2 } as const;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(500);
  }
}

beforeAll(async () => {
  stack = await startTestStack();
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  api = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken });
  for (const [slug, runs] of Object.entries(TENANTS)) {
    await api.createProject({ slug, name: slug, environment: 'test' });
    await api.createAgent(slug, { name: `${slug}-writer`, model: 'claude-haiku-4-5', system_prompt: 'w', strategy: 'direct', temperature: 0, tools: [], metadata: {} });
    await api.createAgent(slug, { name: `${slug}-reviewer`, model: 'claude-sonnet-4-6', system_prompt: 'r', strategy: 'direct', temperature: 0, tools: [], metadata: {} });
    for (let i = 0; i < runs; i++) {
      await api.run(slug, { agent_name: `${slug}-writer`, message: `call ${i}`, simulate: { input_tokens: 1000 + i * 37, output_tokens: 300 + i * 11 } });
      await api.run(slug, { agent_name: `${slug}-reviewer`, message: `review ${i}`, simulate: { input_tokens: 2200 + i * 13, output_tokens: 700 + i } });
    }
  }
}, 180_000);

afterAll(async () => {
  await api?.close();
  await backend?.stop();
  await stack?.stop();
});

describe('hud and cost agree on the same live stack', () => {
  it('spend per tenant over the UTC day: HUD == cost --by project == ledger', async () => {
    const vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
    const sources = createRealSources({ vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, backendUrl: backend.url, token: backend.operatorToken });
    try {
      const ledger = await api.costs({ from: startOfUtcDay(new Date()), to: new Date(Date.now() + 60_000), group_by: ['project'] });
      const expected = new Map(ledger.groups.map((g) => [g.project ?? '', g.cost_nusd]));
      expect([...expected.keys()].sort()).toEqual(Object.keys(TENANTS).sort());
      for (const v of expected.values()) expect(v).toBeGreaterThan(0);

      // Wait until the scrape has the whole ledger, then compare both views at one instant.
      let model: HudModel | undefined;
      const now = await until('VictoriaMetrics to hold the ledger total', async () => {
        const t = new Date();
        const m = await collectModel(sources, { project: null, previous: null, now: t });
        const ok = m.spend.length === expected.size && m.spend.every((s) => nano(s.costUsd) === (expected.get(s.project) ?? -1));
        if (!ok) return undefined;
        model = m;
        return t;
      });
      const report = await buildCostReport(vm, { by: 'project', window: { from: startOfUtcDay(now), to: now } });
      const fromCost = Object.fromEntries(report.rows.map((r) => [r.labels.sagewai_project_id, nano(r.cost_usd)]));
      const fromHud = Object.fromEntries(model!.spend.map((s) => [s.project, nano(s.costUsd)]));
      const fromLedger = Object.fromEntries([...expected].map(([p, v]) => [p, v]));
      expect(fromHud).toEqual(fromCost);
      expect(fromHud).toEqual(fromLedger);
      // the "spend today" KPI is the same total
      expect(nano(model!.kpis.find((k) => k.id === 'spendToday')!.value!)).toBe(nano(report.total.cost_usd));

      // Tenant-scoped: the same agreement, and nothing of the other tenant on screen.
      const alpha = await collectModel(sources, { project: 'hud-alpha', previous: null, now });
      const alphaCost = await buildCostReport(vm, { by: 'project', window: { from: startOfUtcDay(now), to: now }, project: 'hud-alpha' });
      expect(alpha.spend.map((s) => [s.project, nano(s.costUsd)])).toEqual(alphaCost.rows.map((r) => [r.labels.sagewai_project_id, nano(r.cost_usd)]));
      const frame = renderFrameToString(alpha, { columns: 140, rows: 40 });
      expect(frame).toContain('hud-alpha');
      expect(frame).not.toContain('hud-beta');
    } finally {
      await sources.close?.();
    }
  });

  it('the live frame shows the tenants, their agents and their audit events from the real sources', async () => {
    const sources = createRealSources({ vmUrl: stack.endpoints.vmUrl, vlUrl: stack.endpoints.vlUrl, backendUrl: backend.url, token: backend.operatorToken });
    try {
      const m = await until('audit events in VictoriaLogs', async () => {
        const x = await collectModel(sources, { project: null, previous: null });
        return x.events.some((e) => e.name === 'agent.run.completed' && e.project === 'hud-beta') ? x : undefined;
      });
      expect(m.sources).toMatchObject({ metrics: { state: 'ok' }, live: { state: 'ok' }, logs: { state: 'ok' } });
      expect(m.graph.map((t) => t.project)).toEqual(['hud-alpha', 'hud-beta']);
      expect(m.graph[0]!.agents.map((a) => a.name).sort()).toEqual(['hud-alpha-reviewer', 'hud-alpha-writer']);
      const times = m.events.map((e) => e.time);
      expect([...times].sort().reverse()).toEqual(times); // newest first
      const text = renderFrameToString(m, { columns: 140, rows: 40 });
      expect(text).toContain('agent.run.completed');
      expect(text).toContain('hud-alpha-writer');
    } finally {
      await sources.close?.();
    }
  });
});
