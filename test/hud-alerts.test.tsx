import { describe, expect, it } from 'vitest';
import { assembleModel, type SourceResult } from '../src/hud/assemble.js';
import { filterModel, type HudAlert } from '../src/hud/model.js';
import { renderFrameToString } from '../src/tui/index.js';

const NOW = new Date('2026-12-01T10:00:00Z');
const down = { ok: false as const, reason: 'not in this test' };
const ALERTS: HudAlert[] = [
  { name: 'SagewaiBudgetExhausted', severity: 'critical', project: 'acme', summary: 'user budget intern of project acme (daily) is used up', since: '2026-12-01T09:59:00Z' },
  { name: 'SagewaiBudget80Percent', severity: 'warning', project: 'globex', summary: 'team budget eng of project globex (daily) is 85% used', since: '2026-12-01T09:58:00Z' },
  { name: 'SagewaiScrapeTargetDown', severity: 'critical', project: null, summary: 'VictoriaMetrics cannot scrape otel-collector', since: '2026-12-01T09:59:30Z' },
];
const model = (project: string | null, alerts?: SourceResult<HudAlert[]>) =>
  assembleModel({ now: NOW, project, spendWindow: { from: new Date('2026-12-01T00:00:00Z'), to: NOW }, metrics: down, live: down, logs: down, previous: null, ...(alerts ? { alerts } : {}) });
const alertLine = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('alerts '));

describe('HUD alerts line', () => {
  it('lists every firing alert under "all tenants", critical first, with its project', () => {
    const line = alertLine(renderFrameToString(model(null, { ok: true, value: ALERTS }), { columns: 160 }));
    expect(line).toBe('alerts 3 firing: BudgetExhausted acme · ScrapeTargetDown pipeline · Budget80Percent globex');
  });

  it("shows a tenant its own alerts and the pipeline's, never another tenant's, whether queried or filtered afterwards", () => {
    const queried = alertLine(renderFrameToString(model('acme', { ok: true, value: ALERTS }), { columns: 160 }));
    expect(queried).toBe('alerts 2 firing: BudgetExhausted acme · ScrapeTargetDown pipeline');
    const filtered = filterModel(model(null, { ok: true, value: ALERTS }), 'globex');
    expect(filtered.alerts?.map((a) => a.name)).toEqual(['SagewaiBudget80Percent', 'SagewaiScrapeTargetDown']);
    expect(alertLine(renderFrameToString(filtered, { columns: 160 }))).not.toContain('acme');
  });

  it('says when none fire or vmalert is down, and draws no line without a vmalert', () => {
    expect(alertLine(renderFrameToString(model(null, { ok: true, value: [] }), { columns: 120 }))).toBe('alerts ● none firing');
    expect(alertLine(renderFrameToString(model(null, { ok: false, reason: 'connection refused' }), { columns: 120 }))).toBe('alerts ✕ vmalert did not answer');
    expect(alertLine(renderFrameToString(model(null), { columns: 120 }))).toBeUndefined();
  });
});
