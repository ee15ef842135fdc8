import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultDashboard } from '@grafana/schema';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { catalog, getEntry, SRE_ROWS } from '../src/queries/index.js';
import { dashboardFile, dashboardJson, DASHBOARD_UID } from '../src/queries/dashboard.js';

const root = path.join(import.meta.dirname, '..');
const committed = fs.readFileSync(dashboardFile(), 'utf8');
const board = JSON.parse(committed) as {
  uid: string;
  refresh: string;
  schemaVersion: number;
  templating: { list: Array<Record<string, unknown>> };
  panels: Array<{ id: number; type: string; title: string; description?: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string; type: string }; targets?: Array<{ expr: string; datasource: { uid: string } }> }>;
};
const provisioned = YAML.parse(fs.readFileSync(path.join(root, 'assets/grafana/provisioning/datasources/sagewai.yaml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };

/** Panels grouped under the row panel that precedes them. */
function panelsByRow(): Map<string, typeof board.panels> {
  const rows = new Map<string, typeof board.panels>();
  let current = '';
  for (const p of board.panels) {
    if (p.type === 'row') {
      current = p.title;
      rows.set(current, []);
    } else rows.get(current)?.push(p);
  }
  return rows;
}

describe('generated Grafana board', () => {
  it('is committed exactly as the catalog generates it (run `npm run dashboard` after changing the catalog)', () => {
    expect(committed).toBe(dashboardJson());
  });

  it("type-checks as Grafana's Dashboard model from @grafana/schema", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-board-'));
    try {
      const file = path.join(dir, 'board.ts');
      // JSON holds enum values as plain strings, so compare against the model with every string
      // enum widened to its literal values (ThresholdsMode → 'absolute' | 'percentage').
      const jsonified = 'type Jsonified<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? Jsonified<U>[] : T extends object ? { [K in keyof T]: Jsonified<T[K]> } : T;';
      fs.writeFileSync(file, `import type { Dashboard } from '@grafana/schema';\n${jsonified}\nexport const board: Jsonified<Dashboard> = ${committed};\n`);
      const program = ts.createProgram([file], {
        strict: true,
        noEmit: true,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        target: ts.ScriptTarget.ES2022,
        skipLibCheck: true,
        typeRoots: [],
        types: [],
        baseUrl: root,
        paths: { '@grafana/schema': [path.join(root, 'node_modules/@grafana/schema/dist/types/index.d.ts')] },
      });
      const diags = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(diags).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('matches the dashboard model version, uid, refresh and project variable', () => {
    expect(board.schemaVersion).toBe(defaultDashboard.schemaVersion);
    expect(board.uid).toBe(DASHBOARD_UID);
    expect(board.refresh).toBe('10s');
    const v = board.templating.list.find((x) => x.name === 'project');
    expect(v).toMatchObject({ type: 'query', includeAll: true, allValue: '.*', query: 'label_values(sagewai_llm_cost_usd_total, sagewai_project_id)' });
  });

  it('gives every panel a type, a provisioned datasource, a grid position and a query', () => {
    const uids = new Map(provisioned.datasources.map((d) => [d.uid, d.type]));
    for (const p of board.panels.filter((x) => x.type !== 'row')) {
      expect(p.type, p.title).toMatch(/^(stat|timeseries|bargauge|piechart|logs|table)$/);
      expect(uids.get(p.datasource!.uid), p.title).toBe(p.datasource!.type);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(uids.has(t.datasource.uid), p.title).toBe(true);
      const g = p.gridPos;
      expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `${p.title} ${JSON.stringify(g)}`).toBe(true);
    }
  });

  it('lays panels out without overlaps', () => {
    const cells = new Set<string>();
    for (const p of board.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const k = `${x},${y}`;
          expect(cells.has(k), `${p.title} overlaps at ${k}`).toBe(false);
          cells.add(k);
        }
      }
    }
  });

  it('has the five SRE rows with 14 panels among them, and the Cost & Tenants row', () => {
    const rows = panelsByRow();
    for (const r of SRE_ROWS) expect(rows.get(r)?.length, r).toBeGreaterThan(0);
    expect(SRE_ROWS.reduce((n, r) => n + (rows.get(r)?.length ?? 0), 0)).toBe(14);
    const cost = (rows.get('Cost & Tenants') ?? []).map((p) => p.title);
    for (const id of ['cost.by_project', 'cost.by_model', 'tokens.by_type', 'budget.utilization', 'cost.unpriced_calls']) expect(cost).toContain(getEntry(id).title);
  });

  it('filters every tenant panel by $project and says so where it cannot', () => {
    for (const p of board.panels.filter((x) => x.type !== 'row')) {
      const id = /\[catalog: ([^\]]+)\]/.exec(p.description ?? '')?.[1];
      const entry = catalog.find((e) => e.id === id);
      expect(entry, p.title).toBeDefined();
      if (entry!.tenant) for (const t of p.targets!) expect(t.expr, p.title).toContain('$project');
      else expect(p.description, p.title).toMatch(/project/);
    }
  });

  it('is provisioned where docker-compose.yml mounts it, against its service names and ports', () => {
    const compose = YAML.parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { volumes?: string[]; command?: string[] }> };
    const mounts = new Map((compose.services.grafana?.volumes ?? []).map((v) => v.split(':') as [string, string]).map(([src, dst]) => [src.replace(/^\.\//, ''), dst]));
    expect(mounts.get('assets/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    const providers = YAML.parse(fs.readFileSync(path.join(root, 'assets/grafana/provisioning/dashboards/sagewai.yaml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    expect(providers.providers[0]!.options.path).toBe(mounts.get('assets/grafana/dashboards'));
    const urls = Object.fromEntries(provisioned.datasources.map((d) => [d.uid, new URL(d.url)]));
    for (const [uid, service] of [['sagewai-vm', 'victoria-metrics'], ['sagewai-vl', 'victoria-logs']] as const) {
      expect(urls[uid]!.hostname).toBe(service);
      expect(compose.services[service]?.command ?? []).toContain(`-httpListenAddr=:${urls[uid]!.port}`);
    }
  });
});
