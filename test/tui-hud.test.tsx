import React from 'react';
import { PassThrough } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, render } from 'ink-testing-library';
import { assembleModel } from '../src/hud/assemble.js';
import type { AuditEvent } from '../src/hud/model.js';
import type { HudQuery, HudSources, LiveSnapshot, MetricsSnapshot } from '../src/hud/sources.js';
import { HudApp } from '../src/tui/hud-app.js';
import { renderFrameToString, renderHud } from '../src/tui/index.js';

afterEach(() => cleanup());

const NOW = new Date('2026-11-26T10:00:00Z');

/** A tenant's plain-data world: agents with calls/s, workers per pool, runs in flight. */
interface World {
  tenants: Array<{ slug: string; spend: number; agents: Array<{ name: string; model: string; callsPerSec: number; usdPerHour: number }>; workers: { pool: string; online: number; busy: number; lost: number }; runs: number }>;
  events?: AuditEvent[];
}

function metricsOf(w: World, project: string | null): MetricsSnapshot {
  const ts = w.tenants.filter((t) => project === null || t.slug === project);
  const agents = ts.flatMap((t) => t.agents.map((a) => ({ ...a, project: t.slug })));
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  return {
    requestRate: ts.length ? sum(agents.map((a) => a.callsPerSec)) * 3 : null,
    latencyP95Seconds: ts.length ? 0.048 : null,
    errorRatio: ts.length ? 0.02 : null,
    spendTotalUsd: ts.length ? sum(ts.map((t) => t.spend)) : null,
    spendRateUsdPerHour: ts.length ? sum(agents.map((a) => a.usdPerHour)) : null,
    budgetUtilizationMax: ts.length ? 0.42 : null,
    workersByState: ts.length ? { online: sum(ts.map((t) => t.workers.online)), busy: sum(ts.map((t) => t.workers.busy)), lost: sum(ts.map((t) => t.workers.lost)) } : { online: null, busy: null, lost: null },
    costByProject: ts.map((t) => ({ project: t.slug, costUsd: t.spend })),
    callsByAgent: agents.map((a) => ({ project: a.project, agent: a.name, model: a.model, callsPerSec: a.callsPerSec })),
    costRateByAgent: agents.map((a) => ({ project: a.project, agent: a.name, usdPerHour: a.usdPerHour })),
    spendRateSeries: ts.map((t) => ({ project: t.slug, points: [1, 2, 3, 4] })),
    workersByPoolState: ts.flatMap((t) =>
      (['online', 'busy', 'lost'] as const).filter((s) => t.workers[s] > 0).map((s) => ({ project: t.slug, pool: t.workers.pool, state: s, count: t.workers[s] })),
    ),
  };
}

function liveOf(w: World, project: string | null): LiveSnapshot {
  const ts = w.tenants.filter((t) => project === null || t.slug === project);
  return {
    generated_at: NOW.toISOString(),
    agents: ts.flatMap((t) => t.agents.map((a) => ({ project: t.slug, name: a.name, model: a.model }))),
    runs_in_flight: ts.flatMap((t) =>
      Array.from({ length: t.runs }, (_, i) => ({ run_id: `${t.slug}-run-${i}`, project: t.slug, agent: t.agents[0]?.name ?? 'a', model: t.agents[0]?.model ?? 'm', started_at: NOW.toISOString(), elapsed_ms: 2000 + i * 1000, cost_usd: 0.0125 })),
    ),
    tasks_in_flight: [],
    workers: [],
  };
}

/** Plain-data sources; `calls` records the tenant filter of every metrics query. */
function sourcesOf(w: World, fail: Partial<Record<'metrics' | 'live' | 'logs', () => Error | null>> = {}) {
  const calls: Array<string | null> = [];
  const sources: HudSources = {
    metrics: async (q: HudQuery) => {
      calls.push(q.project);
      const e = fail.metrics?.();
      if (e) throw e;
      return metricsOf(w, q.project);
    },
    live: async (q) => {
      const e = fail.live?.();
      if (e) throw e;
      return liveOf(w, q.project);
    },
    events: async (q) => {
      const e = fail.logs?.();
      if (e) throw e;
      return (w.events ?? []).filter((x) => q.project === null || x.project === q.project);
    },
  };
  return { sources, calls };
}

const tenant = (slug: string, n = 2, runs = 1) => ({
  slug,
  spend: 1.25,
  agents: Array.from({ length: n }, (_, i) => ({ name: `${slug}-agent${i}`, model: i % 2 ? 'claude-sonnet-4-6' : 'claude-haiku-4-5', callsPerSec: 0.5 + i, usdPerHour: 0.75 })),
  workers: { pool: 'default', online: 3, busy: 1, lost: 0 },
  runs,
});

type Inst = ReturnType<typeof render>;
const frame = (i: Inst): string => stripVTControlCharacters(i.lastFrame() ?? '');

/** Wait until the last frame satisfies `ok` (polls the rendered frames; no fixed sleeps). */
async function waitForFrame(i: Inst, ok: (f: string) => boolean, timeoutMs = 5000): Promise<string> {
  const start = Date.now();
  for (;;) {
    const f = frame(i);
    if (ok(f)) return f;
    if (Date.now() - start > timeoutMs) throw new Error(`frame never matched; last frame:\n${f}`);
    await new Promise((r) => setImmediate(r));
  }
}

async function modelOf(w: World, project: string | null = null) {
  return assembleModel({
    now: NOW,
    project,
    spendWindow: { from: new Date('2026-11-26T00:00:00Z'), to: NOW },
    metrics: { ok: true, value: metricsOf(w, project) },
    live: { ok: true, value: liveOf(w, project) },
    logs: { ok: true, value: w.events ?? [] },
    previous: null,
  });
}

describe('HUD frames (ink-testing-library)', () => {
  it('empty system: every panel says there is nothing yet, KPIs show no number', async () => {
    const { sources } = sourcesOf({ tenants: [] });
    const i = render(<HudApp sources={sources} project={null} refreshMs={60_000} />);
    const f = await waitForFrame(i, (x) => x.includes('no agents yet'));
    expect(f).toContain('req —');
    expect(f).toContain('spend —');
    expect(f).toContain('runs 0');
    for (const empty of ['no runs or tasks in flight', 'no workers registered', 'no spend recorded today', 'no audit events yet']) expect(f).toContain(empty);
    expect(f).not.toMatch(/\$\d/); // no invented money
  });

  it('one tenant: real numbers from the sources in the graph, missions, fleet and spend', async () => {
    const { sources } = sourcesOf({
      tenants: [tenant('acme-support', 1, 1)],
      events: [{ time: '2026-11-26T09:59:58Z', name: 'agent.run.completed', project: 'acme-support', actor: 'usr_1', detail: 'acme-support-agent0' }],
    });
    const i = render(<HudApp sources={sources} project={null} refreshMs={60_000} />);
    const f = await waitForFrame(i, (x) => x.includes('acme-support-agent0'));
    expect(f).toContain('◆ acme-support');
    expect(f).toContain('$0.75/h ──0.50/s──▶ claude-haiku-4-5');
    expect(f).toContain('req 1.50/s');
    expect(f).toContain('spend $1.25');
    expect(f).toContain('workers on/busy/lost 3/1/0');
    expect(f).toContain('09:59:58 agent.run.completed acme-support usr_1');
  });

  it('many tenants: the graph shares its rows and says how many are not shown', async () => {
    const w: World = { tenants: Array.from({ length: 12 }, (_, k) => tenant(`tenant-${String(k).padStart(2, '0')}`, 3, 2)) };
    const m = await modelOf(w);
    const f = renderFrameToString(m, { columns: 140, rows: 40 });
    expect(f).toContain('(12 tenants, 36 agents)');
    expect(f).toMatch(/… \d+ more tenants \(p to pick one\)/);
    expect(f).toContain('Missions in flight (24)');
    expect(f).toMatch(/… \d+ more in flight/);
    for (const line of f.split('\n')) expect(line.length).toBeLessThanOrEqual(140);
  });

  it('a source down: its panels say down with the reason and the last good time', async () => {
    let metricsUp = true;
    const { sources } = sourcesOf({ tenants: [tenant('acme-support')] }, {
      metrics: () => (metricsUp ? null : new Error('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8428'), { code: 'ECONNREFUSED' }) })),
      logs: () => new Error('VictoriaLogs at http://127.0.0.1:9428 is unreachable'),
    });
    const i = render(<HudApp sources={sources} project={null} refreshMs={30} />);
    const first = await waitForFrame(i, (x) => x.includes('$1.25'));
    const lastGood = /(\d\d:\d\d:\d\d) UTC/.exec(first)?.[1];
    expect(first).toContain('down: VictoriaLogs at http://127.0.0.1:9428 is unreachable (last good never)');
    metricsUp = false;
    const f = await waitForFrame(i, (x) => x.includes('down: connection refused 127.0.0.1:8428'));
    expect(f).toContain(`down: connection refused 127.0.0.1:8428 (last good ${lastGood})`);
    expect(f).toContain('metrics ✕');
    expect(f).not.toContain('$1.25'); // nothing stale passed off as live
    expect(f).toContain('req —');
  });

  it('tenant filter: p switches every panel and the queries to one tenant, then the next, then all', async () => {
    const { sources, calls } = sourcesOf({ tenants: [tenant('acme-support', 2, 1), tenant('globex-codereview', 2, 1)] });
    const i = render(<HudApp sources={sources} project={null} refreshMs={60_000} />);
    await waitForFrame(i, (x) => x.includes('globex-codereview-agent1') && x.includes('acme-support-agent1'));
    i.stdin.write('p');
    const f = await waitForFrame(i, (x) => x.includes('tenant acme-support ·') && x.includes('spend $1.25'));
    expect(f).not.toContain('globex');
    expect(calls).toContain('acme-support');
    i.stdin.write('p');
    const g = await waitForFrame(i, (x) => x.includes('tenant globex-codereview ·') && x.includes('globex-codereview-agent1'));
    expect(g).not.toContain('acme-support');
    i.stdin.write('p');
    await waitForFrame(i, (x) => x.includes('tenant all ·') && x.includes('acme-support') && x.includes('globex-codereview'));
    expect(calls.at(-1)).toBeNull();
  });

  it('keys: tab moves focus between panels, ? toggles help', async () => {
    const { sources } = sourcesOf({ tenants: [tenant('acme-support')] });
    const i = render(<HudApp sources={sources} project={null} refreshMs={60_000} />);
    await waitForFrame(i, (x) => x.includes('▶ Agents graph'));
    i.stdin.write('\t');
    await waitForFrame(i, (x) => x.includes('▶ Missions in flight') && !x.includes('▶ Agents graph'));
    i.stdin.write('?');
    const help = await waitForFrame(i, (x) => x.includes('Keys'));
    expect(help).toContain('pick tenant');
    i.stdin.write('?');
    await waitForFrame(i, (x) => !x.includes('Keys') && x.includes('▶ Missions in flight'));
  });

  it('narrow terminal (80×24): panels stack, nothing wider than 80 columns or taller than the screen', async () => {
    const m = await modelOf({ tenants: [tenant('acme-support', 4, 3), tenant('globex-codereview', 2, 1), tenant('initech-sales', 3, 2)] });
    const f = renderFrameToString(m, { columns: 80, rows: 24 });
    const lines = f.split('\n');
    expect(lines.length).toBeLessThanOrEqual(23);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    for (const title of ['Agents graph', 'Missions in flight (6)', 'Fleet posture', 'Spend per tenant', 'Event ticker']) expect(f).toContain(title);
    expect(f).not.toContain('╭'); // stacked, no side-by-side boxes
    const wide = renderFrameToString(m, { columns: 140, rows: 40 });
    expect(wide).toContain('╭');
    expect(wide.split('\n').length).toBeLessThanOrEqual(39);
  });
});

describe('--once and non-TTY output', () => {
  it('prints one plain frame with no ANSI codes when stdout is not a terminal', async () => {
    const { sources } = sourcesOf({ tenants: [tenant('acme-support')] });
    const out = new PassThrough() as unknown as NodeJS.WriteStream & PassThrough;
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const { model } = await renderHud({ sources, project: null, refreshMs: 2000, once: false, json: false, stdout: out });
    expect(model?.spend[0]?.costUsd).toBe(1.25);
    expect(text).toContain('Agents graph');
    expect(text).toContain('acme-support-agent0');
    expect(text).not.toContain('\u001b');
  });

  it('--json returns the data model', async () => {
    const { sources } = sourcesOf({ tenants: [tenant('acme-support')] });
    const { model } = await renderHud({ sources, project: 'acme-support', refreshMs: 2000, once: false, json: true });
    expect(model?.project).toBe('acme-support');
    expect(model?.graph[0]?.agents.map((a) => a.name)).toEqual(['acme-support-agent1', 'acme-support-agent0']);
  });
});

describe('live redraw renderer (the bench path)', () => {
  it('draws the same text as the one-shot frame, frame after frame, as the model changes', async () => {
    const { createLiveFrameRenderer } = await import('../src/tui/index.js');
    const r = createLiveFrameRenderer({ columns: 120, rows: 40 });
    try {
      const one = await modelOf({ tenants: [tenant('acme-support')] });
      const many = await modelOf({ tenants: [tenant('acme-support', 3, 2), tenant('globex-codereview', 5, 1), tenant('initech-sales', 1, 0)] });
      for (const m of [one, many, one]) {
        const live = r.draw(m);
        expect(live).toBe(renderFrameToString(m, { columns: 120, rows: 40 }));
      }
      expect(r.draw(many)).toContain('globex-codereview');
      expect(r.draw(one)).not.toContain('globex-codereview');
    } finally {
      r.unmount();
    }
  });
});
