import type { CatalogEntry, PanelSpec } from './types.js';

/**
 * THE query catalog. Metric names are the Prometheus-side names pinned in docs/CONTRACT.md.
 * Counters are read with MetricsQL `increase_pure()` (exact, not extrapolated, a new series
 * counts from 0) so a cost sum equals the ledger to the nano-dollar.
 */

// Tenant filter: every tenant query carries it. `=~` is anchored in MetricsQL; `.*` also matches
// series without the label (requests that have no project, e.g. a login).
const P = 'sagewai_project_id=~"$project"';
// Health probes of the API itself must not inflate request panels.
const NO_HEALTH = 'http_route!~"/api/v1/health.*"';
const REQ = `${P}, ${NO_HEALTH}`;
const HTTP_COUNT = `http_server_request_duration_seconds_count{${REQ}}`;
/** The labels that name one budget series (sagewai.budget.utilization). */
export const BUDGET_LABELS = ['sagewai_project_id', 'sagewai_budget_scope', 'sagewai_budget_subject', 'sagewai_budget_window'] as const;
const BUDGET_UTIL = (window: string): string => `sagewai_budget_utilization_ratio{${P}, sagewai_budget_window="${window}"}`;
// Seconds left in the current budget window (windows are UTC days and calendar months, as in
// src/backend/budgets.ts). time() and the calendar functions are label-free, so they act as scalars.
const SECONDS_LEFT: Record<'daily' | 'monthly', string> = {
  daily: '(86400 - time() % 86400)',
  monthly: '((days_in_month() - day_of_month()) * 86400 + 86400 - time() % 86400)',
};
// LogsQL regex filters are unanchored substring matches, so anchor the project explicitly.
const LOG_P = 'sagewai.project_id:~"^($project)$"';
// Ratios (quantiles, averages, error shares) divide increase_pure() windows rather than rate():
// the ratio is the same, and a request series born with a non-zero count (HTTP histograms are
// not pre-registered) still counts its first requests instead of reading as 0/0.
// Collector self-metrics: the `_total` suffix depends on the collector's internal telemetry
// exporter settings (v0.161 exposes them without it), so accept both spellings.
export const otelcol = (name: string, extra = ''): string => `{__name__=~"otelcol_${name}(_total)?"${extra ? `, ${extra}` : ''}}`;

/** The collector's exporter to VictoriaLogs (assets/collector/config.yaml names it otlp_http/victorialogs; older configs spelled it otlphttp). */
export const VL_EXPORTER = 'exporter=~"otlp_?http.*"';

const PIPELINE_NOTE = 'Collector and scrape self-metrics carry no project label: this panel shows the whole pipeline whatever the project variable says.';

const panel = (row: PanelSpec['row'], type: PanelSpec['type'], w: number, h: number, instant: boolean): PanelSpec => ({ row, type, w, h, instant });

/** The dimensions `cost --by` understands, with the labels each one groups by. */
export const COST_DIMENSIONS = {
  project: ['sagewai_project_id'],
  model: ['gen_ai_request_model'],
  agent: ['sagewai_project_id', 'sagewai_agent_name'],
  'token-type': ['gen_ai_token_type'],
  // The exporting app: job = service.namespace/service.name (sagewai/sagewai-admin for the
  // built-in backend, the service name of an external GenAI app; docs/genai.md).
  app: ['job'],
  'price-book': ['sagewai_pricebook_version'],
} as const satisfies Record<string, readonly string[]>;
export type CostDimension = keyof typeof COST_DIMENSIONS;

const by = (labels: readonly string[]): string => labels.join(', ');

const hudAndBoard: CatalogEntry[] = [
  // ── System Health (3) ───────────────────────────────────────────────────────────────────
  {
    id: 'kpi.request_rate',
    title: 'Request rate',
    description: 'HTTP requests per second served by the admin backend, excluding /api/v1/health*. Scoped by the project variable (requests without a project count under "All").',
    datasource: 'victoriametrics',
    expr: `sum(rate(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 'reqps',
    legend: 'requests/s',
    groupBy: [],
    tenant: true,
    panel: panel('System Health', 'stat', 8, 4, false),
  },
  {
    id: 'kpi.latency_p95',
    title: 'Latency p95',
    description: '95th percentile of HTTP server request duration across all routes, from the summed histogram buckets; health checks excluded. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `histogram_quantile(0.95, sum by (le) (increase_pure(http_server_request_duration_seconds_bucket{${REQ}}[$__rate_interval])))`,
    unit: 's',
    legend: 'p95',
    groupBy: [],
    tenant: true,
    panel: panel('System Health', 'stat', 8, 4, false),
  },
  {
    id: 'kpi.error_rate',
    title: 'Error rate (5xx)',
    description: 'Share of HTTP responses with a 5xx status. Shows 0 (not "No data") when requests flow and none failed. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `(sum(increase_pure(http_server_request_duration_seconds_count{${REQ}, http_response_status_code=~"5.."}[$__rate_interval])) or (0 * sum(increase_pure(${HTTP_COUNT}[$__rate_interval])))) / sum(increase_pure(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 'percentunit',
    legend: '5xx share',
    groupBy: [],
    tenant: true,
    panel: panel('System Health', 'stat', 8, 4, false),
  },
  // ── HTTP Performance (3) ────────────────────────────────────────────────────────────────
  {
    id: 'http.latency_p95_by_route',
    title: 'Latency p95 by route',
    description: '95th percentile request duration per route template (health checks excluded). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `histogram_quantile(0.95, sum by (le, http_route) (increase_pure(http_server_request_duration_seconds_bucket{${REQ}}[$__rate_interval])))`,
    unit: 's',
    legend: '{{http_route}}',
    groupBy: ['http_route'],
    tenant: true,
    panel: panel('HTTP Performance', 'timeseries', 8, 8, false),
  },
  {
    id: 'http.latency_avg_by_route',
    title: 'Average latency by route',
    description: 'Mean request duration per route: sum of durations / number of requests in each window, both summed over series before dividing. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (http_route) (increase_pure(http_server_request_duration_seconds_sum{${REQ}}[$__rate_interval])) / sum by (http_route) (increase_pure(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 's',
    legend: '{{http_route}}',
    groupBy: ['http_route'],
    tenant: true,
    panel: panel('HTTP Performance', 'timeseries', 8, 8, false),
  },
  {
    id: 'http.throughput_by_route',
    title: 'Throughput by route',
    description: 'Requests per second per method and route template (health checks excluded). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (http_request_method, http_route) (rate(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 'reqps',
    legend: '{{http_request_method}} {{http_route}}',
    groupBy: ['http_request_method', 'http_route'],
    tenant: true,
    panel: panel('HTTP Performance', 'timeseries', 8, 8, false),
  },
  // ── Requests by Status (3) ──────────────────────────────────────────────────────────────
  {
    id: 'http.requests_by_status',
    title: 'Requests by status code',
    description: 'Requests per second per HTTP status code (health checks excluded). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (http_response_status_code) (rate(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 'reqps',
    legend: '{{http_response_status_code}}',
    groupBy: ['http_response_status_code'],
    tenant: true,
    panel: panel('Requests by Status', 'timeseries', 10, 8, false),
  },
  {
    id: 'http.errors_by_route',
    title: 'Client and server errors by route',
    description: '4xx and 5xx responses per second per route and status (401 probes, 404 unknown projects, 402 budget stops, 429 throttles). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (http_route, http_response_status_code) (rate(http_server_request_duration_seconds_count{${REQ}, http_response_status_code=~"[45].."}[$__rate_interval]))`,
    unit: 'reqps',
    legend: '{{http_response_status_code}} {{http_route}}',
    groupBy: ['http_route', 'http_response_status_code'],
    tenant: true,
    panel: panel('Requests by Status', 'timeseries', 8, 8, false),
  },
  {
    id: 'http.status_share',
    title: 'Status code share',
    description: 'Requests per status code over the dashboard range (exact counter increase). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (http_response_status_code) (increase_pure(${HTTP_COUNT}[$__range]))`,
    unit: 'short',
    legend: '{{http_response_status_code}}',
    groupBy: ['http_response_status_code'],
    tenant: true,
    panel: panel('Requests by Status', 'piechart', 6, 8, true),
  },
  // ── OTel Pipeline Health (3) ────────────────────────────────────────────────────────────
  {
    id: 'pipeline.scrape_up',
    title: 'Scrape targets up',
    description: `1 when VictoriaMetrics scraped the target successfully (collector exporter, collector self-metrics, VictoriaMetrics itself). ${PIPELINE_NOTE}`,
    datasource: 'victoriametrics',
    expr: 'max by (job) (up{job=~"otel-collector|otelcol-internal|victoria-metrics"})',
    unit: 'none',
    legend: '{{job}}',
    groupBy: ['job'],
    tenant: false,
    panel: panel('OTel Pipeline Health', 'stat', 8, 6, false),
  },
  {
    id: 'pipeline.metric_points',
    title: 'Metric points: accepted vs exported',
    description: `Metric points per second the collector's OTLP receiver accepted and its prometheus exporter handed on; the two lines should overlap. ${PIPELINE_NOTE}`,
    datasource: 'victoriametrics',
    expr: `label_set(sum(rate(${otelcol('receiver_accepted_metric_points')}[$__rate_interval])), "stage", "accepted") or label_set(sum(rate(${otelcol('exporter_sent_metric_points')}[$__rate_interval])), "stage", "exported")`,
    unit: 'short',
    legend: '{{stage}}',
    groupBy: ['stage'],
    tenant: false,
    panel: panel('OTel Pipeline Health', 'timeseries', 8, 6, false),
  },
  {
    id: 'pipeline.log_records',
    title: 'Log records: accepted vs sent to VictoriaLogs',
    description: `Log records per second the collector accepted and the otlphttp exporter delivered to VictoriaLogs (health-probe noise is filtered in between). ${PIPELINE_NOTE}`,
    datasource: 'victoriametrics',
    expr: `label_set(sum(rate(${otelcol('receiver_accepted_log_records')}[$__rate_interval])), "stage", "accepted") or label_set(sum(rate(${otelcol('exporter_sent_log_records', VL_EXPORTER)}[$__rate_interval])), "stage", "sent")`,
    unit: 'short',
    legend: '{{stage}}',
    groupBy: ['stage'],
    tenant: false,
    panel: panel('OTel Pipeline Health', 'timeseries', 8, 6, false),
  },
  // ── Application Logs (2) ────────────────────────────────────────────────────────────────
  {
    id: 'logs.by_level',
    title: 'Log records by severity',
    description: 'Backend log records (audit events and 4xx/5xx request logs) per severity in VictoriaLogs. Scoped by the project variable; under "All" records without a project (logins) are included.',
    datasource: 'victorialogs',
    expr: `${LOG_P} | stats by (severity_text) count() records`,
    unit: 'short',
    legend: '{{severity_text}}',
    groupBy: ['severity_text'],
    tenant: true,
    panel: panel('Application Logs', 'timeseries', 8, 10, false),
  },
  {
    id: 'logs.audit_events',
    title: 'Audit events',
    description: 'Business events (event.name) from VictoriaLogs, newest first: logins, projects, agents, runs, budgets, fleet. Scoped by the project variable; under "All" org-level events (logins, setup) are included.',
    datasource: 'victorialogs',
    expr: `event.name:* ${LOG_P}`,
    unit: 'short',
    legend: '',
    groupBy: [],
    tenant: true,
    panel: panel('Application Logs', 'logs', 16, 10, false),
  },
  // ── Cost & Tenants ──────────────────────────────────────────────────────────────────────
  {
    id: 'kpi.spend_total',
    title: 'Spend in range',
    description: 'LLM spend in USD over the selected range: exact counter increase of the ledger-backed cost counter. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum(increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
    unit: 'currencyUSD',
    legend: 'spend',
    groupBy: [],
    tenant: true,
    panel: panel('Cost & Tenants', 'stat', 4, 8, true),
  },
  {
    id: 'cost.by_project',
    title: 'Spend by project',
    description: 'LLM spend in USD per project over the selected range (exact increase; equals the ledger). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (${by(COST_DIMENSIONS.project)}) (increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
    unit: 'currencyUSD',
    legend: '{{sagewai_project_id}}',
    groupBy: COST_DIMENSIONS.project,
    tenant: true,
    panel: panel('Cost & Tenants', 'bargauge', 4, 8, true),
  },
  {
    id: 'cost.by_model',
    title: 'Spend by model',
    description: 'LLM spend in USD per requested model over the selected range. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (${by(COST_DIMENSIONS.model)}) (increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
    unit: 'currencyUSD',
    legend: '{{gen_ai_request_model}}',
    groupBy: COST_DIMENSIONS.model,
    tenant: true,
    panel: panel('Cost & Tenants', 'bargauge', 4, 8, true),
  },
  {
    id: 'tokens.by_type',
    title: 'Tokens by type',
    description: 'Input, cached input, output and reasoning tokens over the selected range (disjoint: output excludes reasoning). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range]))`,
    unit: 'short',
    legend: '{{gen_ai_token_type}}',
    groupBy: ['gen_ai_token_type'],
    tenant: true,
    panel: panel('Cost & Tenants', 'piechart', 4, 8, true),
  },
  {
    id: 'cost.by_token_type',
    title: 'Spend by token type',
    description: 'LLM spend in USD per token type (input, cached input, output, reasoning) over the selected range, each call priced by the book in effect when it was made (exact increase; equals the ledger). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (gen_ai_token_type) (increase_pure(sagewai_llm_token_cost_usd_total{${P}}[$__range]))`,
    unit: 'currencyUSD',
    legend: '{{gen_ai_token_type}}',
    groupBy: ['gen_ai_token_type'],
    tenant: true,
    panel: panel('Cost & Tenants', 'bargauge', 4, 8, true),
  },
  {
    id: 'budget.utilization',
    title: 'Budget utilisation',
    description: 'Spend as a share of each budget cap in its current window (1 = cap reached). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `max by (sagewai_project_id, sagewai_budget_scope, sagewai_budget_subject, sagewai_budget_window) (sagewai_budget_utilization_ratio{${P}})`,
    unit: 'percentunit',
    legend: '{{sagewai_project_id}} {{sagewai_budget_scope}}:{{sagewai_budget_subject}} ({{sagewai_budget_window}})',
    groupBy: ['sagewai_project_id', 'sagewai_budget_scope', 'sagewai_budget_subject', 'sagewai_budget_window'],
    tenant: true,
    panel: panel('Cost & Tenants', 'bargauge', 4, 8, false),
  },
  {
    id: 'cost.unpriced_calls',
    title: 'Unpriced calls',
    description: 'LLM calls whose model has no price in the price book over the selected range: their cost is unknown, not $0. Shows 0 only when calls were made and all were priced. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum(increase_pure(sagewai_llm_calls_total{${P}, sagewai_priced="false"}[$__range])) or (0 * sum(increase_pure(sagewai_llm_calls_total{${P}}[$__range])))`,
    unit: 'short',
    legend: 'unpriced calls',
    groupBy: [],
    tenant: true,
    panel: panel('Cost & Tenants', 'stat', 4, 8, true),
  },
  {
    id: 'genai.rejected_spans',
    title: 'Rejected GenAI spans',
    description: 'gen_ai.* spans of external apps the collector refused to price over the selected range, by reason (missing model or tokens, non-integer, negative or absurd counts, cached above input, reasoning above output; docs/genai.md). They add nothing to cost, tokens or calls. Shows 0 when calls were counted and none was rejected. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_genai_reject_reason) (increase_pure(sagewai_genai_rejected_spans_total{${P}}[$__range])) or (0 * sum(increase_pure(sagewai_llm_calls_total{${P}}[$__range])))`,
    unit: 'short',
    legend: '{{sagewai_genai_reject_reason}}',
    groupBy: ['sagewai_genai_reject_reason'],
    tenant: true,
    panel: panel('Cost & Tenants', 'stat', 4, 8, true),
  },
  // ── Agents, Fleet & Access ──────────────────────────────────────────────────────────────
  {
    id: 'cost.rate_by_agent',
    title: 'Spend rate by agent',
    description: 'USD per hour per project and agent. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, sagewai_agent_name) (rate(sagewai_llm_cost_usd_total{${P}}[$__rate_interval])) * 3600`,
    unit: 'currencyUSD',
    legend: '{{sagewai_project_id}}/{{sagewai_agent_name}}',
    groupBy: ['sagewai_project_id', 'sagewai_agent_name'],
    tenant: true,
    panel: panel('Agents, Fleet & Access', 'timeseries', 8, 8, false),
  },
  {
    id: 'agents.runs_by_outcome',
    title: 'Agent runs by outcome',
    description: 'Agent runs completed, failed or denied by a budget over the selected range. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_run_outcome) (increase_pure(sagewai_agent_runs_total{${P}}[$__range]))`,
    unit: 'short',
    legend: '{{sagewai_run_outcome}}',
    groupBy: ['sagewai_run_outcome'],
    tenant: true,
    panel: panel('Agents, Fleet & Access', 'bargauge', 4, 8, true),
  },
  {
    id: 'fleet.workers_by_pool_state',
    title: 'Fleet workers by pool and state',
    description: 'Workers online, busy or lost per project and pool, now. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, sagewai_fleet_pool, sagewai_fleet_worker_state) (sagewai_fleet_workers{${P}})`,
    unit: 'short',
    legend: '{{sagewai_project_id}}/{{sagewai_fleet_pool}} {{sagewai_fleet_worker_state}}',
    groupBy: ['sagewai_project_id', 'sagewai_fleet_pool', 'sagewai_fleet_worker_state'],
    tenant: true,
    panel: panel('Agents, Fleet & Access', 'bargauge', 4, 8, false),
  },
  {
    id: 'fleet.tasks_by_event',
    title: 'Fleet tasks by event',
    description: 'Tasks queued, claimed, completed and failed per second. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_fleet_task_event) (rate(sagewai_fleet_tasks_total{${P}}[$__rate_interval]))`,
    unit: 'short',
    legend: '{{sagewai_fleet_task_event}}',
    groupBy: ['sagewai_fleet_task_event'],
    tenant: true,
    panel: panel('Agents, Fleet & Access', 'timeseries', 4, 8, false),
  },
  {
    id: 'auth.logins_by_outcome',
    title: 'Logins by outcome',
    description: 'Successful, failed and throttled logins over the selected range. Logins happen before a project is chosen, so this organisation-level counter has no project label and ignores the project variable.',
    datasource: 'victoriametrics',
    expr: 'sum by (sagewai_auth_outcome) (increase_pure(sagewai_auth_logins_total[$__range]))',
    unit: 'short',
    legend: '{{sagewai_auth_outcome}}',
    groupBy: ['sagewai_auth_outcome'],
    tenant: false,
    panel: panel('Agents, Fleet & Access', 'bargauge', 4, 8, true),
  },
  // ── Pipeline probes for doctor/verify (no board panel) ──────────────────────────────────
  {
    id: 'pipeline.backend_series',
    title: 'Backend series arriving',
    description: `Series the admin backend (job sagewai/sagewai-admin) exported through the collector in the last 5 minutes. ${PIPELINE_NOTE}`,
    datasource: 'victoriametrics',
    expr: 'count(last_over_time({job="sagewai/sagewai-admin"}[5m]))',
    unit: 'short',
    legend: 'series',
    groupBy: [],
    tenant: false,
  },
  // ── HUD-only KPIs and graph edges (no board panel) ─────────────────────────────────────
  {
    id: 'kpi.spend_rate_per_hour',
    title: 'Spend rate',
    description: 'Current LLM spend rate in USD per hour. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum(rate(sagewai_llm_cost_usd_total{${P}}[$__rate_interval])) * 3600`,
    unit: 'currencyUSD',
    legend: 'USD/h',
    groupBy: [],
    tenant: true,
  },
  {
    id: 'kpi.workers_by_state',
    title: 'Workers by state',
    description: 'Fleet workers per state (online, busy, lost), now. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_fleet_worker_state) (sagewai_fleet_workers{${P}})`,
    unit: 'short',
    legend: '{{sagewai_fleet_worker_state}}',
    groupBy: ['sagewai_fleet_worker_state'],
    tenant: true,
  },
  {
    id: 'kpi.budget_utilization_max',
    title: 'Highest budget utilisation',
    description: 'The most-used budget cap in its current window (1 = cap reached). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `max(sagewai_budget_utilization_ratio{${P}})`,
    unit: 'percentunit',
    legend: 'max utilisation',
    groupBy: [],
    tenant: true,
  },
  {
    id: 'cost.by_project_model',
    title: 'Spend by project and model',
    description: 'LLM spend in USD per project and model over the range, from every exporter: the admin backend and external GenAI apps priced by the collector (docs/genai.md). The hourly recording rule project_model:sagewai_llm_cost_usd:increase1h stores it per hour. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, gen_ai_request_model) (increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
    unit: 'currencyUSD',
    legend: '{{sagewai_project_id}}/{{gen_ai_request_model}}',
    groupBy: ['sagewai_project_id', 'gen_ai_request_model'],
    tenant: true,
  },
  {
    id: 'ledger.cost_by_project_model',
    title: 'Backend spend by project and model (the ledger reconciliation)',
    description: "The admin backend's own LLM spend in USD per project and model over the range; `verify` reconciles it with the backend ledger to the nano-dollar. Only job sagewai/sagewai-admin: external apps priced by the collector have no ledger. Scoped by the project variable.",
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, gen_ai_request_model) (increase_pure(sagewai_llm_cost_usd_total{${P}, job="sagewai/sagewai-admin"}[$__range]))`,
    unit: 'currencyUSD',
    legend: '{{sagewai_project_id}}/{{gen_ai_request_model}}',
    groupBy: ['sagewai_project_id', 'gen_ai_request_model'],
    tenant: true,
  },
  // ── Alerting rules and budget forecasts (src/queries/alerts.ts; no board panel) ──────────
  {
    id: 'budget.utilization_slope',
    title: 'Budget burn rate',
    description: 'How fast each budget fills: the per-second slope of its utilisation over the rate interval (deriv). `budget status` turns it into a date of exhaustion. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `max by (${by(BUDGET_LABELS)}) (deriv(sagewai_budget_utilization_ratio{${P}}[$__rate_interval]))`,
    unit: 'short',
    legend: '{{sagewai_project_id}} {{sagewai_budget_scope}}:{{sagewai_budget_subject}}',
    groupBy: BUDGET_LABELS,
    tenant: true,
  },
  {
    id: 'budget.projected_utilization',
    title: 'Projected budget utilisation at window end',
    description: 'Utilisation now plus its slope over the rate interval times the seconds left in the budget window (daily: to UTC midnight; monthly: to the 1st, UTC). ≥ 1 means the budget runs out before its window ends. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `max by (${by(BUDGET_LABELS)}) ((${BUDGET_UTIL('daily')} + clamp_min(deriv(${BUDGET_UTIL('daily')}[$__rate_interval]), 0) * ${SECONDS_LEFT.daily}) or (${BUDGET_UTIL('monthly')} + clamp_min(deriv(${BUDGET_UTIL('monthly')}[$__rate_interval]), 0) * ${SECONDS_LEFT.monthly}))`,
    unit: 'percentunit',
    legend: '{{sagewai_project_id}} {{sagewai_budget_scope}}:{{sagewai_budget_subject}} ({{sagewai_budget_window}})',
    groupBy: BUDGET_LABELS,
    tenant: true,
  },
  {
    id: 'slo.error_ratio_by_project',
    title: 'Error ratio (5xx) by project',
    description: 'Share of HTTP responses with a 5xx status per project over the rate interval; 0 where requests flowed and none failed. The error-budget burn alerts read it over two windows. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `(sum by (sagewai_project_id) (increase_pure(http_server_request_duration_seconds_count{${REQ}, http_response_status_code=~"5.."}[$__rate_interval])) or (0 * sum by (sagewai_project_id) (increase_pure(${HTTP_COUNT}[$__rate_interval])))) / sum by (sagewai_project_id) (increase_pure(${HTTP_COUNT}[$__rate_interval]))`,
    unit: 'percentunit',
    legend: '{{sagewai_project_id}}',
    groupBy: ['sagewai_project_id'],
    tenant: true,
  },
  {
    id: 'http.latency_p95_by_project',
    title: 'Latency p95 by project',
    description: '95th percentile HTTP request duration per project over the rate interval (health checks excluded). Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `histogram_quantile(0.95, sum by (le, sagewai_project_id) (increase_pure(http_server_request_duration_seconds_bucket{${REQ}}[$__rate_interval])))`,
    unit: 's',
    legend: '{{sagewai_project_id}}',
    groupBy: ['sagewai_project_id'],
    tenant: true,
  },
  {
    id: 'tokens.by_project_model',
    title: 'Tokens by project, model and type',
    description: 'Tokens per project, model and token type over the range; the hourly recording rule project_model_type:sagewai_llm_tokens:increase1h stores it per hour; `cost predict` prices it with another model or price book, `cost savings` with the cached and uncached input price. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, gen_ai_request_model, gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range]))`,
    unit: 'short',
    legend: '{{sagewai_project_id}}/{{gen_ai_request_model}} {{gen_ai_token_type}}',
    groupBy: ['sagewai_project_id', 'gen_ai_request_model', 'gen_ai_token_type'],
    tenant: true,
  },
  {
    id: 'calls.by_project_model',
    title: 'LLM calls by project and model, priced or not',
    description: 'LLM calls per project and model over the range, split by whether the model had a price; the hourly recording rule project_model:sagewai_llm_calls:increase1h stores it per hour. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, gen_ai_request_model, sagewai_priced) (increase_pure(sagewai_llm_calls_total{${P}}[$__range]))`,
    unit: 'short',
    legend: '{{sagewai_project_id}}/{{gen_ai_request_model}} priced={{sagewai_priced}}',
    groupBy: ['sagewai_project_id', 'gen_ai_request_model', 'sagewai_priced'],
    tenant: true,
  },
  {
    id: 'traffic.calls_by_agent',
    title: 'LLM calls by agent and model',
    description: 'LLM calls per second per project, agent and model: the edges of the HUD graph. Scoped by the project variable.',
    datasource: 'victoriametrics',
    expr: `sum by (sagewai_project_id, sagewai_agent_name, gen_ai_request_model) (rate(sagewai_llm_calls_total{${P}}[$__rate_interval]))`,
    unit: 'short',
    legend: '{{sagewai_project_id}}/{{sagewai_agent_name}} → {{gen_ai_request_model}}',
    groupBy: ['sagewai_project_id', 'sagewai_agent_name', 'gen_ai_request_model'],
    tenant: true,
  },
];

/**
 * Cost report entries, one set per `cost --by` dimension: spend, tokens by type, calls by
 * priced flag. Spend by token type comes from its own counter (sagewai_llm_token_cost_usd_total,
 * the ledger's per-type costs), never from token counts re-priced with today's book.
 */
function reportEntries(): CatalogEntry[] {
  const out: CatalogEntry[] = [];
  for (const [dim, labels] of Object.entries(COST_DIMENSIONS) as [CostDimension, readonly string[]][]) {
    const key = dim.replace('-', '_');
    const legend = labels.map((l) => `{{${l}}}`).join('/');
    if (dim !== 'token-type') {
      if (dim === 'price-book') {
        out.push({
          id: 'cost.by_price_book',
          title: 'Spend by price book',
          description: 'LLM spend in USD per price book version (the book that priced each call) over the range. Scoped by the project variable.',
          datasource: 'victoriametrics',
          expr: `sum by (${by(labels)}) (increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
          unit: 'currencyUSD',
          legend,
          groupBy: labels,
          tenant: true,
        });
      }
      if (dim === 'agent' || dim === 'app') {
        out.push({
          id: `cost.by_${key}`,
          title: dim === 'agent' ? 'Spend by agent' : 'Spend by app',
          description: dim === 'agent'
            ? 'LLM spend in USD per project and agent over the range. Scoped by the project variable.'
            : "LLM spend in USD per exporting app (label job: the app's service.namespace/service.name; sagewai/sagewai-admin is the built-in backend) over the range. Scoped by the project variable.",
          datasource: 'victoriametrics',
          expr: `sum by (${by(labels)}) (increase_pure(sagewai_llm_cost_usd_total{${P}}[$__range]))`,
          unit: 'currencyUSD',
          legend,
          groupBy: labels,
          tenant: true,
        });
      }
      out.push({
        id: `tokens.by_${key}`,
        title: `Tokens by ${dim} and type`,
        description: `Tokens per ${dim} and token type over the range. Scoped by the project variable.`,
        datasource: 'victoriametrics',
        expr: `sum by (${by(labels)}, gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range]))`,
        unit: 'short',
        legend: `${legend} {{gen_ai_token_type}}`,
        groupBy: [...labels, 'gen_ai_token_type'],
        tenant: true,
      });
      out.push({
        id: `calls.by_${key}`,
        title: `LLM calls by ${dim}, priced or not`,
        description: `LLM calls per ${dim} over the range, split by whether the model had a price. Scoped by the project variable.`,
        datasource: 'victoriametrics',
        expr: `sum by (${by(labels)}, sagewai_priced) (increase_pure(sagewai_llm_calls_total{${P}}[$__range]))`,
        unit: 'short',
        legend: `${legend} priced={{sagewai_priced}}`,
        groupBy: [...labels, 'sagewai_priced'],
        tenant: true,
      });
    } else {
      out.push({
        id: 'tokens.by_token_type',
        title: 'Tokens by type',
        description: 'Tokens per token type over the range (for `cost --by token-type`; the spend is cost.by_token_type). Scoped by the project variable.',
        datasource: 'victoriametrics',
        expr: `sum by (gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range]))`,
        unit: 'short',
        legend: '{{gen_ai_token_type}}',
        groupBy: ['gen_ai_token_type'],
        tenant: true,
      });
      out.push({
        id: 'tokens.unpriced_by_token_type',
        title: 'Unpriced tokens by type',
        description: 'Tokens per token type of the series whose calls had no price (their cost is unknown, not $0); 0 per type when every call was priced. Scoped by the project variable.',
        datasource: 'victoriametrics',
        expr: `sum by (gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range]) and on (sagewai_project_id, sagewai_agent_name, gen_ai_request_model, sagewai_pricebook_version) sagewai_llm_calls_total{${P}, sagewai_priced="false"}) or (0 * sum by (gen_ai_token_type) (increase_pure(sagewai_llm_tokens_total{${P}}[$__range])))`,
        unit: 'short',
        legend: '{{gen_ai_token_type}}',
        groupBy: ['gen_ai_token_type'],
        tenant: true,
      });
    }
  }
  return out;
}

export const catalog: readonly CatalogEntry[] = Object.freeze([...hudAndBoard, ...reportEntries()]);
