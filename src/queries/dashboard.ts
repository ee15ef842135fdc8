import path from 'node:path';
// Types only: @grafana/schema is a dev dependency, erased at build time.
import type { DataSourceRef, Dashboard, Panel, RowPanel, VariableModel } from '@grafana/schema';
import { assetsDir } from '../paths.js';
import { catalog } from './catalog.js';
import { ROWS, type CatalogEntry, type Datasource } from './types.js';

/**
 * The Grafana board, generated from the catalog (STYLE 5). The committed JSON under
 * assets/grafana/dashboards/ is this function's output; a test fails when they differ.
 */

export const DASHBOARD_UID = 'sagewai-admin';
export const DASHBOARD_FILE = 'sagewai-admin.json';

/** Datasource uids and types; assets/grafana/provisioning/datasources/sagewai.yaml provisions exactly these. */
export const GRAFANA_DATASOURCES: Record<Datasource, Required<Pick<DataSourceRef, 'type' | 'uid'>>> = {
  // VictoriaMetrics speaks the Prometheus query API, so Grafana's built-in prometheus type
  // needs no plugin; MetricsQL-only functions (increase_pure, label_set) pass through to VM.
  victoriametrics: { type: 'prometheus', uid: 'sagewai-vm' },
  victorialogs: { type: 'victoriametrics-logs-datasource', uid: 'sagewai-vl' },
};

export function dashboardFile(): string {
  return path.join(assetsDir(), 'grafana', 'dashboards', DASHBOARD_FILE);
}

const GRID_WIDTH = 24;

function panelOptions(entry: CatalogEntry): Record<string, unknown> {
  const reduce = { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } };
  switch (entry.panel?.type) {
    case 'stat':
      return { ...reduce, colorMode: 'value', graphMode: entry.panel.instant ? 'none' : 'area', justifyMode: 'auto', orientation: 'auto', textMode: 'auto' };
    case 'bargauge':
      return { ...reduce, displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true, valueMode: 'color', namePlacement: 'auto' };
    case 'piechart':
      return { ...reduce, pieType: 'donut', legend: { displayMode: 'table', placement: 'right', showLegend: true, values: ['value', 'percent'] }, tooltip: { mode: 'single', sort: 'none' } };
    case 'logs':
      return { showTime: true, wrapLogMessage: true, sortOrder: 'Descending', enableLogDetails: true, dedupStrategy: 'none', prettifyLogMessage: false, showCommonLabels: false, showLabels: false };
    case 'table':
      return { showHeader: true, cellHeight: 'sm' };
    default:
      return { legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] }, tooltip: { mode: 'multi', sort: 'desc' } };
  }
}

function target(entry: CatalogEntry): Record<string, unknown> {
  const datasource = GRAFANA_DATASOURCES[entry.datasource];
  const instant = entry.panel?.instant ?? false;
  if (entry.datasource === 'victorialogs') {
    // Raw records for a logs panel; stats over time (or at the end of the range) otherwise.
    const queryType = entry.panel?.type === 'logs' ? 'instant' : instant ? 'stats' : 'statsRange';
    return { refId: 'A', datasource, editorMode: 'code', expr: entry.expr, queryType, legendFormat: entry.legend, maxLines: 1000 };
  }
  return { refId: 'A', datasource, editorMode: 'code', expr: entry.expr, legendFormat: entry.legend, range: !instant, instant, format: 'time_series' };
}

function toPanel(entry: CatalogEntry, id: number, gridPos: { x: number; y: number; w: number; h: number }): Panel {
  const spec = entry.panel!;
  const thresholds =
    entry.unit === 'percentunit'
      ? { mode: 'absolute', steps: [{ color: 'green', value: null }, { color: 'orange', value: 0.8 }, { color: 'red', value: 1 }] }
      : { mode: 'absolute', steps: [{ color: 'green', value: null }] };
  return {
    id,
    type: spec.type,
    title: entry.title,
    description: `${entry.description} [catalog: ${entry.id}]`,
    datasource: GRAFANA_DATASOURCES[entry.datasource],
    gridPos,
    fieldConfig: {
      defaults: { unit: entry.unit, decimals: entry.unit === 'currencyUSD' ? 4 : undefined, color: { mode: spec.type === 'stat' ? 'thresholds' : 'palette-classic' }, thresholds, custom: {} },
      overrides: [],
    },
    options: panelOptions(entry),
    targets: [target(entry)],
  } as Panel;
}

// VariableHide.dontHide; the enum's runtime value lives in the dev-only package.
const VARIABLE_HIDE_DONT_HIDE = 0 as VariableModel['hide'];

const projectVariable: VariableModel = {
  name: 'project',
  label: 'Project',
  type: 'query',
  description: 'Tenant (sagewai.project_id). "All" matches every project and data without one.',
  datasource: GRAFANA_DATASOURCES.victoriametrics,
  query: 'label_values(sagewai_llm_cost_usd_total, sagewai_project_id)',
  refresh: 2,
  includeAll: true,
  allValue: '.*',
  multi: false,
  sort: 1,
  current: { selected: true, text: 'All', value: '$__all' },
  options: [],
  hide: VARIABLE_HIDE_DONT_HIDE,
};

export function buildDashboard(entries: readonly CatalogEntry[] = catalog): Dashboard {
  const panels: Array<Panel | RowPanel> = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    const inRow = entries.filter((e) => e.panel?.row === row);
    if (inRow.length === 0) continue;
    panels.push({ id: id++, type: 'row', title: row, collapsed: false, gridPos: { x: 0, y, w: GRID_WIDTH, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const e of inRow) {
      const { w, h } = e.panel!;
      if (x + w > GRID_WIDTH) {
        y += rowHeight;
        x = 0;
        rowHeight = 0;
      }
      panels.push(toPanel(e, id++, { x, y, w, h }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  return {
    id: null,
    uid: DASHBOARD_UID,
    title: 'Sagewai Admin',
    description: 'Generated by `sagewai-obs dashboard export` from the query catalog (src/queries). Do not edit by hand.',
    tags: ['sagewai', 'observability', 'cost'],
    timezone: 'utc',
    editable: true,
    graphTooltip: 1,
    refresh: '10s',
    schemaVersion: 42,
    version: 1,
    time: { from: 'now-1h', to: 'now' },
    timepicker: { refresh_intervals: ['5s', '10s', '30s', '1m', '5m'] },
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [],
    annotations: { list: [] },
    templating: { list: [projectVariable] },
    panels,
  };
}

/** The exact text of the committed board file. */
export function dashboardJson(entries: readonly CatalogEntry[] = catalog): string {
  return `${JSON.stringify(buildDashboard(entries), null, 2)}\n`;
}
