import { describe, expect, it } from 'vitest';
import { assembleModel, type AssembleInput } from '../src/hud/assemble.js';
import { collectModel } from '../src/hud/collect.js';
import { computeTrend, filterModel, nextTenantFilter, type HudModel } from '../src/hud/model.js';
import type { HudSources, LiveSnapshot, MetricsSnapshot } from '../src/hud/sources.js';

const T0 = new Date('2026-11-26T10:00:00Z');
const T1 = new Date('2026-11-26T10:00:02Z');
const DAY = new Date('2026-11-26T00:00:00Z');

function metrics(over: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    requestRate: 10,
    latencyP95Seconds: 0.05,
    errorRatio: 0,
    spendTotalUsd: 3,
    spendRateUsdPerHour: 1.2,
    budgetUtilizationMax: 0.5,
    workersByState: { online: 2, busy: 1, lost: 0 },
    costByProject: [
      { project: 'acme', costUsd: 2 },
      { project: 'globex', costUsd: 1 },
    ],
    callsByAgent: [
      { project: 'acme', agent: 'acme-triager', model: 'haiku', callsPerSec: 0.5 },
      { project: 'globex', agent: 'globex-reviewer', model: 'sonnet', callsPerSec: 0.1 },
    ],
    costRateByAgent: [
      { project: 'acme', agent: 'acme-triager', usdPerHour: 0.9 },
      { project: 'globex', agent: 'globex-reviewer', usdPerHour: 0.3 },
    ],
    spendRateSeries: [{ project: 'acme', points: [0.5, 0.7, 0.9] }],
    workersByPoolState: [
      { project: 'acme', pool: 'default', state: 'online', count: 2 },
      { project: 'acme', pool: 'default', state: 'busy', count: 1 },
      { project: 'globex', pool: 'reviewers', state: 'lost', count: 1 },
    ],
    ...over,
  };
}

const live: LiveSnapshot = {
  generated_at: T0.toISOString(),
  agents: [
    { project: 'acme', name: 'acme-triager', model: 'haiku' },
    { project: 'acme', name: 'acme-drafter', model: 'haiku' },
    { project: 'globex', name: 'globex-reviewer', model: 'sonnet' },
  ],
  runs_in_flight: [
    { run_id: 'r1', project: 'acme', agent: 'acme-triager', model: 'haiku', started_at: T0.toISOString(), elapsed_ms: 1500, cost_usd: 0.002 },
    { run_id: 'r2', project: 'globex', agent: 'globex-reviewer', model: 'sonnet', started_at: T0.toISOString(), elapsed_ms: 4000, cost_usd: 0.01 },
  ],
  tasks_in_flight: [{ task_id: 't1', project: 'globex', pool: 'reviewers', worker_id: 'w1', state: 'claimed', elapsed_ms: 800 }],
  workers: [{ worker_id: 'w1', name: 'w1', project: 'globex', pool: 'reviewers', state: 'busy', last_heartbeat_at: T0.toISOString() }],
};

function input(over: Partial<AssembleInput> = {}): AssembleInput {
  return {
    now: T0,
    project: null,
    spendWindow: { from: DAY, to: T0 },
    metrics: { ok: true, value: metrics() },
    live: { ok: true, value: live },
    logs: { ok: true, value: [{ time: T0.toISOString(), name: 'agent.run.completed', project: 'acme', actor: 'u1', detail: null }] },
    previous: null,
    ...over,
  };
}

const kpi = (m: HudModel, id: string) => m.kpis.find((k) => k.id === id);

describe('computeTrend', () => {
  it('says up, down or flat from two samples and none when one is missing', () => {
    expect(computeTrend(11, 10)).toBe('up');
    expect(computeTrend(9, 10)).toBe('down');
    expect(computeTrend(10, 10)).toBe('flat');
    expect(computeTrend(10.05, 10)).toBe('flat'); // within 1 %
    expect(computeTrend(0, 0)).toBe('flat');
    expect(computeTrend(1, 0)).toBe('up');
    expect(computeTrend(null, 10)).toBe('none');
    expect(computeTrend(10, null)).toBe('none');
    expect(computeTrend(Number.NaN, 1)).toBe('none');
  });
});

describe('assembleModel', () => {
  it('computes each KPI trend from the previous sample, not a fixed label', () => {
    const first = assembleModel(input());
    expect(kpi(first, 'requestRate')).toMatchObject({ value: 10, previous: null, trend: 'none' });
    const second = assembleModel(input({ now: T1, previous: first, metrics: { ok: true, value: metrics({ requestRate: 15, latencyP95Seconds: 0.02, errorRatio: 0 }) } }));
    expect(kpi(second, 'requestRate')).toMatchObject({ value: 15, previous: 10, trend: 'up' });
    expect(kpi(second, 'latencyP95')).toMatchObject({ value: 0.02, previous: 0.05, trend: 'down' });
    expect(kpi(second, 'errorRate')?.trend).toBe('flat');
    expect(kpi(second, 'runsInFlight')).toMatchObject({ value: 2, trend: 'flat' });
  });

  it('lists each model of an agent once, busiest first then by name, however many models it calls', () => {
    // 2 models (the common case) and 12 (past the few an agent is assumed to have), each model
    // seen in live state and (all but m00, which has no traffic series) in two call series.
    for (const n of [2, 12]) {
      const models = Array.from({ length: n }, (_, i) => `m${String((i * 5) % n).padStart(2, '0')}`);
      const rate = (m: string): number | null => (m === 'm00' ? null : Number(m.slice(1)) % 3);
      const calls = [...models, ...models.slice().reverse()].filter((model) => model !== 'm00').map((model) => ({ project: 'acme', agent: 'a', model, callsPerSec: Number(model.slice(1)) % 3 }));
      const m = assembleModel(
        input({
          metrics: { ok: true, value: metrics({ callsByAgent: calls, costRateByAgent: [] }) },
          live: { ok: true, value: { ...live, agents: models.map((model) => ({ project: 'acme', name: 'a', model })) } },
        }),
      );
      const edges = m.graph[0]?.agents.find((a) => a.name === 'a')?.models ?? [];
      const expected = models
        .map((model) => ({ model, callsPerSec: rate(model) }))
        .sort((a, b) => (b.callsPerSec ?? -1) - (a.callsPerSec ?? -1) || (a.model < b.model ? -1 : 1));
      expect(edges).toEqual(expected);
    }
  });

  it('does not compare samples taken under different tenant filters', () => {
    const all = assembleModel(input());
    const acme = assembleModel(input({ now: T1, project: 'acme', previous: all }));
    expect(acme.kpis.every((k) => k.trend === 'none' && k.previous === null)).toBe(true);
  });

  it('builds tenant → agent → model edges with calls/s and the agent spend rate', () => {
    const m = assembleModel(input());
    expect(m.graph.map((t) => t.project)).toEqual(['acme', 'globex']);
    const acme = m.graph[0]!;
    expect(acme.agents[0]).toEqual({ name: 'acme-triager', callsPerSec: 0.5, usdPerHour: 0.9, models: [{ model: 'haiku', callsPerSec: 0.5 }] });
    // an agent the backend knows but that has no traffic series yet: no invented zero
    expect(acme.agents[1]).toEqual({ name: 'acme-drafter', callsPerSec: null, usdPerHour: null, models: [{ model: 'haiku', callsPerSec: null }] });
    expect(acme.pools).toEqual([{ pool: 'default', online: 2, busy: 1, lost: 0 }]);
    expect(m.fleet).toEqual([
      { project: 'acme', pool: 'default', online: 2, busy: 1, lost: 0 },
      { project: 'globex', pool: 'reviewers', online: 0, busy: 0, lost: 1 },
    ]);
    expect(m.missions.map((x) => x.id)).toEqual(['r2', 'r1', 't1']); // longest-running first: 4.0 s, 1.5 s, 0.8 s
    expect(m.spend).toEqual([
      { project: 'acme', costUsd: 2, usdPerHour: 0.9, series: [0.5, 0.7, 0.9] },
      { project: 'globex', costUsd: 1, usdPerHour: 0.3, series: [] },
    ]);
    expect(m.tenants).toEqual(['acme', 'globex']);
  });

  it('keeps only the filtered tenant in every panel, even if a source over-answers', () => {
    const m = assembleModel(input({ project: 'acme' }));
    const text = JSON.stringify({ graph: m.graph, missions: m.missions, fleet: m.fleet, spend: m.spend, events: m.events });
    expect(text).not.toContain('globex');
    expect(kpi(m, 'runsInFlight')?.value).toBe(1);
  });

  it('reports a down source with its reason and the last time it answered', () => {
    const up = assembleModel(input());
    const down = assembleModel(input({ now: T1, previous: up, metrics: { ok: false, reason: 'connection refused 127.0.0.1:8428' } }));
    expect(down.sources.metrics).toEqual({ state: 'down', reason: 'connection refused 127.0.0.1:8428', lastGoodAt: T0.toISOString() });
    expect(down.sources.live).toEqual({ state: 'ok', at: T1.toISOString() });
    expect(kpi(down, 'requestRate')?.value).toBeNull();
    expect(down.spend).toEqual([]);
    expect(down.fleet).toEqual([]);
    const stillDown = assembleModel(input({ now: new Date(T1.getTime() + 2000), previous: down, metrics: { ok: false, reason: 'x' } }));
    expect(stillDown.sources.metrics).toMatchObject({ lastGoodAt: T0.toISOString() });
    const never = assembleModel(input({ logs: { ok: false, reason: 'nope' } }));
    expect(never.sources.logs).toEqual({ state: 'down', reason: 'nope', lastGoodAt: null });
  });

  it('remembers tenants seen earlier for the tenant picker', () => {
    const all = assembleModel(input());
    const acme = assembleModel(input({ project: 'acme', previous: all }));
    expect(acme.tenants).toEqual(['acme', 'globex']);
  });
});

describe('filterModel and the tenant picker', () => {
  it('filters lists at once and blanks KPIs until the sources answer for the new filter', () => {
    const all = assembleModel(input());
    expect(filterModel(all, null)).toBe(all);
    const acme = filterModel(all, 'acme');
    expect(acme.graph.map((t) => t.project)).toEqual(['acme']);
    expect(acme.missions.every((x) => x.project === 'acme')).toBe(true);
    expect(acme.fleet.every((x) => x.project === 'acme')).toBe(true);
    expect(acme.kpis.every((k) => k.value === null)).toBe(true);
  });

  it('cycles all → each tenant → all', () => {
    const t = ['a', 'b'];
    expect(nextTenantFilter(t, null)).toBe('a');
    expect(nextTenantFilter(t, 'a')).toBe('b');
    expect(nextTenantFilter(t, 'b')).toBeNull();
    expect(nextTenantFilter([], null)).toBeNull();
    expect(nextTenantFilter(t, 'gone')).toBe('a');
  });
});

describe('collectModel', () => {
  it('asks every source with the filter and the UTC-day spend window, and survives one failing', async () => {
    const seen: Array<{ project: string | null; from: string; to: string }> = [];
    const sources: HudSources = {
      metrics: async (q) => {
        seen.push({ project: q.project, from: q.spendWindow.from.toISOString(), to: q.spendWindow.to.toISOString() });
        return metrics();
      },
      live: async () => {
        throw Object.assign(new Error('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }) }));
      },
      events: async () => [],
    };
    const m = await collectModel(sources, { project: 'acme', previous: null, now: T0 });
    expect(seen).toEqual([{ project: 'acme', from: DAY.toISOString(), to: T0.toISOString() }]);
    expect(m.sources.live).toEqual({ state: 'down', reason: 'connection refused 127.0.0.1:8000', lastGoodAt: null });
    expect(m.sources.metrics.state).toBe('ok');
  });

  it('reports a source that hangs as down after the timeout', async () => {
    const sources: HudSources = { metrics: () => new Promise(() => {}), live: async () => live, events: async () => [] };
    const m = await collectModel(sources, { project: null, previous: null, now: T0, timeoutMs: 50 });
    expect(m.sources.metrics).toMatchObject({ state: 'down', reason: 'no answer within 0.1 s' });
  });
});
