import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalog, getEntry, renderExpr, SRE_ROWS } from '../src/queries/index.js';

const contract = fs.readFileSync(path.join(import.meta.dirname, '..', 'docs', 'CONTRACT.md'), 'utf8');

describe('query catalog', () => {
  it('has unique ids and the ids the HUD and cost report import', () => {
    const ids = catalog.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ['kpi.request_rate', 'kpi.latency_p95', 'kpi.error_rate', 'kpi.spend_total', 'kpi.spend_rate_per_hour', 'kpi.workers_by_state', 'kpi.budget_utilization_max', 'cost.by_project', 'cost.by_model', 'cost.by_agent', 'cost.by_token_type', 'tokens.by_type', 'cost.unpriced_calls', 'traffic.calls_by_agent', 'cost.rate_by_agent', 'fleet.workers_by_pool_state', 'logs.audit_events', 'logs.by_level']) {
      expect(() => getEntry(id), id).not.toThrow();
    }
    expect(() => getEntry('no.such')).toThrow(/no catalog entry/);
  });

  it('filters every tenant query by the project variable; the rest explain why not', () => {
    for (const e of catalog) {
      if (e.tenant) expect(e.expr, e.id).toContain('$project');
      else expect(e.description, e.id).toMatch(/project/);
    }
    // Only pipeline self-metrics and the org-level login counter are exempt.
    expect(catalog.filter((e) => !e.tenant).map((e) => e.id).sort()).toEqual(['auth.logins_by_outcome', 'pipeline.backend_series', 'pipeline.log_records', 'pipeline.metric_points', 'pipeline.scrape_up']);
  });

  it('puts exactly 14 panels in the five SRE rows and the five cost panels in Cost & Tenants', () => {
    const sre = catalog.filter((e) => e.panel && SRE_ROWS.includes(e.panel.row));
    expect(sre).toHaveLength(14);
    for (const row of SRE_ROWS) expect(sre.some((e) => e.panel?.row === row), row).toBe(true);
    const cost = catalog.filter((e) => e.panel?.row === 'Cost & Tenants').map((e) => e.id);
    expect(cost).toEqual(expect.arrayContaining(['cost.by_project', 'cost.by_model', 'tokens.by_type', 'budget.utilization', 'cost.unpriced_calls']));
  });

  it('keeps health probes out of every request panel and aggregates averages before dividing', () => {
    for (const e of catalog.filter((x) => x.expr.includes('http_server_request_duration'))) {
      const selectors = e.expr.match(/http_server_request_duration_seconds_\w+\{[^}]*\}/g) ?? [];
      expect(selectors.length, e.id).toBeGreaterThan(0);
      for (const s of selectors) expect(s, e.id).toContain('http_route!~"/api/v1/health.*"');
    }
    expect(getEntry('http.latency_avg_by_route').expr).toMatch(/^sum by \(http_route\) \((rate|increase_pure)\(.*_sum\{.*\/ sum by \(http_route\) \((rate|increase_pure)\(.*_count\{/);
  });

  it('reads counters with exact increases and uses only metric names pinned in CONTRACT.md', () => {
    for (const e of catalog.filter((x) => x.datasource === 'victoriametrics')) {
      expect(e.expr, e.id).not.toMatch(/(^|[^_])increase\(/);
      const names = e.expr.match(/\b[a-z_]+(?=\{)/g) ?? [];
      for (const n of names) {
        if (n === 'up') continue;
        const base = n.replace(/_(bucket|sum|count)$/, '');
        expect(contract.includes(n) || contract.includes(`${base}_{bucket,sum,count}`), `${e.id}: ${n}`).toBe(true);
      }
    }
  });
});

describe('renderExpr', () => {
  const entry = getEntry('cost.by_project');

  it('matches every project when none is given and fills the range', () => {
    const q = renderExpr(entry, { range: '3600s' });
    expect(q).toBe('sum by (sagewai_project_id) (increase_pure(sagewai_llm_cost_usd_total{sagewai_project_id=~".*"}[3600s]))');
  });

  it('escapes a project so it matches only itself', () => {
    const q = renderExpr(entry, { project: 'acme.prod+1', range: '60s' });
    expect(q).toContain('sagewai_project_id=~"acme\\\\.prod\\\\+1"');
    const logs = renderExpr(getEntry('logs.audit_events'), { project: 'a"b', range: '60s' });
    expect(logs).toBe('event.name:* sagewai.project_id:~"^(a\\"b)$"');
  });

  it('leaves no placeholder behind in any entry', () => {
    for (const e of catalog) expect(renderExpr(e, { project: 'acme-support', range: '300s', rateInterval: '30s' }), e.id).not.toMatch(/\$(project|__)/);
  });

  it('rejects a malformed window instead of sending it', () => {
    expect(() => renderExpr(entry, { range: '1 hour' })).toThrow(/invalid range/);
  });
});

describe('docs/queries.md', () => {
  it('is the catalog as generated (run `npm run dashboard`)', async () => {
    const { catalogMarkdown } = await import('../src/queries/docs.js');
    expect(fs.readFileSync(path.join(import.meta.dirname, '..', 'docs', 'queries.md'), 'utf8')).toBe(catalogMarkdown());
  });
});
