/**
 * The shape of one catalog entry. Every number the CLI, the HUD and the Grafana board show is
 * one of these; only src/queries/ holds query strings.
 */
export type Datasource = 'victoriametrics' | 'victorialogs';

/** Board rows, in the order they appear on the Grafana board. */
export const ROWS = [
  'System Health',
  'HTTP Performance',
  'Requests by Status',
  'OTel Pipeline Health',
  'Application Logs',
  'Cost & Tenants',
  'Agents, Fleet & Access',
] as const;
export type RowTitle = (typeof ROWS)[number];

/** The five rows the reference board had (14 panels among them). */
export const SRE_ROWS: readonly RowTitle[] = ['System Health', 'HTTP Performance', 'Requests by Status', 'OTel Pipeline Health', 'Application Logs'];

export type PanelType = 'stat' | 'timeseries' | 'bargauge' | 'piechart' | 'logs' | 'table';

export interface PanelSpec {
  row: RowTitle;
  type: PanelType;
  /** Width and height in grid units (24 columns); x and y are laid out by the generator in catalog order. */
  w: number;
  h: number;
  /**
   * Instant panels evaluate the expression once at the end of the dashboard range
   * (`$__range` windows); range panels draw it over time (`$__rate_interval` windows).
   */
  instant: boolean;
}

export interface CatalogEntry {
  /** Stable id used by the HUD, cost, verify and tests. Never rename. */
  id: string;
  title: string;
  /** Shown as the Grafana panel description; says how the project variable applies. */
  description: string;
  datasource: Datasource;
  /**
   * MetricsQL (datasource victoriametrics) or LogsQL (victorialogs). Placeholders: `$project`
   * (a regex; `.*` for all), `$__range`, `$__rate_interval` — the same ones Grafana fills in.
   */
  expr: string;
  /** Grafana unit id (`currencyUSD`, `s`, `reqps`, `percentunit`, `short`, …). */
  unit: string;
  /** Grafana legend format, e.g. `{{sagewai_project_id}}`. */
  legend: string;
  /** Labels (or LogsQL fields) the result is grouped by; empty for a single number. */
  groupBy: readonly string[];
  /**
   * True when the data carries `sagewai_project_id` and the expression filters by `$project`.
   * False only for pipeline self-metrics and org-level data that have no project.
   */
  tenant: boolean;
  /** Where it sits on the Grafana board; absent for entries used only by the CLI/HUD. */
  panel?: PanelSpec;
}
