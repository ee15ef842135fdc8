import { otelcol, VL_EXPORTER } from './catalog.js';
import { getEntry, renderExpr } from './render.js';

/**
 * Recording rules and alerts, built from the catalog's own entries (DESIGN "Rules come from the
 * catalog"): a budget alert reads exactly the number the board's budget panel and the HUD show.
 * src/queries/rules.ts writes them as vmalert rule files into assets/vmalert/.
 */

export interface RecordingRule {
  /** Prometheus naming: level:metric:operation (labels kept : counter without _total : window). */
  record: string;
  expr: string;
  /** The catalog entry the expression is, rendered over one hour for every project (none for the evaluation marker). */
  from: string | null;
  help: string;
}

export type Severity = 'warning' | 'critical';

export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold before the alert fires (vmalert `for`). */
  for: string;
  severity: Severity;
  /** True when the alert carries sagewai_project_id (it is grouped by project). */
  tenant: boolean;
  /** Go-template summary (vmalert fills {{ $labels.x }} and {{ $value }}). */
  summary: string;
  /** One line: what to look at or do first. */
  runbook: string;
  /** Catalog entries the expression is built from. */
  from: readonly string[];
}

export interface RuleGroup {
  name: string;
  /** vmalert evaluation interval of the group. */
  interval: string;
  /** The committed file under assets/vmalert/ that holds this group. */
  file: string;
  rules: ReadonlyArray<RecordingRule | AlertRule>;
}

/** Every project: the rules watch all tenants; `alerts --project` and the HUD filter afterwards. */
function everyProject(id: string, range: string, rateInterval = range): string {
  return renderExpr(getEntry(id), { range, rateInterval })
    .replace(/sagewai_project_id=~"\.\*", /g, '')
    .replace(/, sagewai_project_id=~"\.\*"/g, '')
    .replace(/\{sagewai_project_id=~"\.\*"\}/g, '');
}

/** The SLO behind the error-budget alerts: 99 % of requests answer without a 5xx. */
export const ERROR_SLO = 0.99;
/** p95 latency above this, per project, for 5 minutes, alerts. Streaming runs and fleet long-polls sit well under it. */
export const LATENCY_P95_SECONDS = 5;

const BUDGET_SUMMARY = '{{ $labels.sagewai_budget_scope }} budget {{ $labels.sagewai_budget_subject }} of project {{ $labels.sagewai_project_id }} ({{ $labels.sagewai_budget_window }})';

/** The hourly group's evaluation marker (src/report/cost-recorded.ts checks the hours it covers). */
export const HOURLY_EVALUATED = 'sagewai_cost_hourly:evaluated:1h';

export const RECORDING_RULES: readonly RecordingRule[] = [
  {
    record: 'project_model:sagewai_llm_cost_usd:increase1h',
    expr: everyProject('cost.by_project_model', '1h'),
    from: 'cost.by_project_model',
    help: 'USD spent per project and model in the hour before each evaluation (exact increase of the ledger-backed counter).',
  },
  {
    record: 'project_model_type:sagewai_llm_tokens:increase1h',
    expr: everyProject('tokens.by_project_model', '1h'),
    from: 'tokens.by_project_model',
    help: 'Tokens per project, model and token type in the hour before each evaluation.',
  },
  {
    record: 'project_model:sagewai_llm_calls:increase1h',
    expr: everyProject('calls.by_project_model', '1h'),
    from: 'calls.by_project_model',
    help: 'LLM calls per project, model and priced flag in the hour before each evaluation.',
  },
  // Per project only: `cost --by project` (the finance view of every tenant) reads one series per
  // project (and token type / priced flag) instead of one per project and model, 20 × fewer at
  // 20 models. The catalog's own by-project report entries, over one hour.
  {
    record: 'project:sagewai_llm_cost_usd:increase1h',
    expr: everyProject('cost.by_project', '1h'),
    from: 'cost.by_project',
    help: 'USD spent per project in the hour before each evaluation (the sum of the per-model rule; `cost --by project` reads it).',
  },
  {
    record: 'project_type:sagewai_llm_tokens:increase1h',
    expr: everyProject('tokens.by_project', '1h'),
    from: 'tokens.by_project',
    help: 'Tokens per project and token type in the hour before each evaluation.',
  },
  {
    record: 'project:sagewai_llm_calls:increase1h',
    expr: everyProject('calls.by_project', '1h'),
    from: 'calls.by_project',
    help: 'LLM calls per project and priced flag in the hour before each evaluation.',
  },
  {
    record: HOURLY_EVALUATED,
    expr: 'vector(1)',
    from: null,
    help: 'One sample per evaluation of the group, even in an hour without usage: `cost` sums the hourly totals only over hours that have exactly one (no gap, no duplicate), else it reads the raw counters.',
  },
];

const errorBurn = (factor: number, short: string, long: string): string =>
  `(${everyProject('slo.error_ratio_by_project', short)}) > ${+(factor * (1 - ERROR_SLO)).toFixed(6)} and (${everyProject('slo.error_ratio_by_project', long)}) > ${+(factor * (1 - ERROR_SLO)).toFixed(6)}`;

const DRIFT_WINDOW = '5m';

export const ALERT_RULES: Record<'budget' | 'slo' | 'cost' | 'pipeline', readonly AlertRule[]> = {
  budget: [
    {
      alert: 'SagewaiBudgetExhausted',
      expr: `${everyProject('budget.utilization', '1h')} >= 1`,
      for: '0s',
      severity: 'critical',
      tenant: true,
      summary: `${BUDGET_SUMMARY} is used up ({{ $value | humanizePercentage }})`,
      runbook: 'Calls under a stop cap now answer 402 until the window resets: raise the cap (sagewai-obs budget set) or wait; `sagewai-obs budget status --project <p>` shows who spent it.',
      from: ['budget.utilization'],
    },
    {
      alert: 'SagewaiBudget80Percent',
      expr: `${everyProject('budget.utilization', '1h')} >= 0.8 < 1`,
      for: '0s',
      severity: 'warning',
      tenant: true,
      summary: `${BUDGET_SUMMARY} is {{ $value | humanizePercentage }} used`,
      runbook: 'Check the spend rate with `sagewai-obs budget status --project <p>` (projected spend at window end) and raise the cap or slow the agents before it stops calls.',
      from: ['budget.utilization'],
    },
    {
      alert: 'SagewaiBudgetBurnForecast',
      expr: `(${everyProject('budget.projected_utilization', '1h', '30m')} >= 1) and (${everyProject('budget.utilization', '1h')} < 1)`,
      for: '5m',
      severity: 'warning',
      tenant: true,
      summary: `${BUDGET_SUMMARY} will run out before its window ends at the current spend rate (projected {{ $value | humanizePercentage }})`,
      runbook: '`sagewai-obs budget status --project <p>` shows the projected spend and the date of exhaustion; find the agent behind the rate with `sagewai-obs cost --by agent --since 1h --project <p>`.',
      from: ['budget.projected_utilization', 'budget.utilization'],
    },
  ],
  slo: [
    {
      alert: 'SagewaiErrorBudgetBurnFast',
      expr: errorBurn(14.4, '5m', '1h'),
      for: '2m',
      severity: 'critical',
      tenant: true,
      summary: 'Project {{ $labels.sagewai_project_id }} burns its 99 % availability error budget 14× too fast (5xx share {{ $value | humanizePercentage }} over 5m and 1h)',
      runbook: 'Look at the failing routes (`sagewai-obs audit --project <p> --since 1h`, board row "Requests by Status") and the provider: at this rate a month\'s error budget is gone in two days.',
      from: ['slo.error_ratio_by_project'],
    },
    {
      alert: 'SagewaiErrorBudgetBurnSlow',
      expr: errorBurn(6, '30m', '6h'),
      for: '15m',
      severity: 'warning',
      tenant: true,
      summary: 'Project {{ $labels.sagewai_project_id }} burns its 99 % availability error budget 6× too fast (5xx share {{ $value | humanizePercentage }} over 30m and 6h)',
      runbook: 'A steady trickle of 5xx: check "Client and server errors by route" on the board for the route, then the backend log (`sagewai-obs audit --event "agent.run.error" --project <p>`).',
      from: ['slo.error_ratio_by_project'],
    },
    {
      alert: 'SagewaiLatencyP95High',
      expr: `${everyProject('http.latency_p95_by_project', '5m')} > ${LATENCY_P95_SECONDS}`,
      for: '5m',
      severity: 'warning',
      tenant: true,
      summary: `p95 latency of project {{ $labels.sagewai_project_id }} is {{ $value | humanizeDuration }} (over ${LATENCY_P95_SECONDS} s for 5 minutes)`,
      runbook: 'Open "Latency p95 by route" on the board filtered to the project: a slow provider model, a saturated backend (`sagewai-obs status`) or a fleet long-poll storm.',
      from: ['http.latency_p95_by_project'],
    },
  ],
  cost: [
    {
      alert: 'SagewaiUnpricedCalls',
      expr: `label_match(${everyProject('calls.by_project_model', '15m')}, "sagewai_priced", "false") > 0`,
      for: '0s',
      severity: 'warning',
      tenant: true,
      summary: 'Project {{ $labels.sagewai_project_id }} made {{ $value }} call(s) to {{ $labels.gen_ai_request_model }}, which has no price: their cost is unknown, not $0',
      runbook: 'Add the model to the price book (assets/pricebook.json, or the backend\'s --pricebook) and restart `serve`; `sagewai-obs cost --by model --project <p>` lists the unpriced calls.',
      from: ['calls.by_project_model'],
    },
    {
      alert: 'SagewaiLedgerMetricsDrift',
      // Two paths to the same number: the per-call GenAI histogram (recorded as the call ends)
      // and the ledger-backed counter. A backend restart re-bases the counter, which shows as
      // drift for at most one window; `for` is longer than the window so that never fires.
      expr: `abs(sum by (sagewai_project_id) (increase_pure(gen_ai_client_token_usage_sum{gen_ai_token_type="output"}[${DRIFT_WINDOW}])) - sum by (sagewai_project_id) (increase_pure(sagewai_llm_tokens_total{gen_ai_token_type="output"}[${DRIFT_WINDOW}]))) > 0`,
      for: '10m',
      severity: 'critical',
      tenant: true,
      summary: 'Project {{ $labels.sagewai_project_id }}: output tokens in the ledger-backed counter and in gen_ai.client.token.usage differ by {{ $value }} over 5 minutes',
      runbook: 'Run `sagewai-obs verify --project <p> --backend-url <url>` to compare the ledger with VictoriaMetrics pair by pair; a persistent gap means a lost export or a second backend writing the same ledger.',
      from: ['tokens.by_project_model'],
    },
  ],
  pipeline: [
    {
      alert: 'SagewaiScrapeTargetDown',
      expr: `${everyProject('pipeline.scrape_up', '1m')} == 0`,
      for: '10s',
      severity: 'critical',
      tenant: false,
      summary: 'VictoriaMetrics cannot scrape {{ $labels.job }}: no new metrics arrive from it',
      runbook: '`sagewai-obs status` names the component that is down; `sagewai-obs doctor` says what to fix (a dead collector: sagewai-obs down && sagewai-obs up).',
      from: ['pipeline.scrape_up'],
    },
    {
      alert: 'SagewaiCollectorRefusedOrDropped',
      expr: `(label_set(sum(increase_pure(${otelcol('receiver_refused_(metric_points|log_records|spans)')}[5m])), "stage", "refused") or label_set(sum(increase_pure(${otelcol('exporter_send_failed_(metric_points|log_records|spans)')}[5m])), "stage", "send_failed") or label_set(sum(increase_pure(${otelcol('processor_dropped_(metric_points|log_records|spans)')}[5m])), "stage", "dropped")) > 0`,
      for: '0s',
      severity: 'warning',
      tenant: false,
      summary: 'The collector {{ $labels.stage }} {{ $value }} telemetry item(s) in the last 5 minutes',
      runbook: 'refused: the memory limiter is shedding load (raise its limit or add a collector); send_failed: a store is down (`sagewai-obs status`); read the collector log named by `sagewai-obs status`.',
      from: ['pipeline.metric_points', 'pipeline.log_records'],
    },
    {
      alert: 'SagewaiLogsNotArriving',
      expr: `(sum(increase_pure(${otelcol('receiver_accepted_log_records')}[5m])) > 0) unless (sum(increase_pure(${otelcol('exporter_sent_log_records', VL_EXPORTER)}[5m])) > 0)`,
      for: '2m',
      severity: 'warning',
      tenant: false,
      summary: 'The collector accepts log records but has sent none to VictoriaLogs for 5 minutes',
      runbook: 'Check VictoriaLogs (`sagewai-obs status`) and the collector\'s otlphttp exporter errors in its log; `sagewai-obs audit --since 10m` shows whether events still land.',
      from: ['pipeline.log_records'],
    },
  ],
};

/** The groups, in the files they are written to. Recording rules run hourly; budget and pipeline alerts every 10 s (they show within seconds), the slower-moving SLO and cost alerts every 30 s. */
export const RULE_GROUPS: readonly RuleGroup[] = [
  { name: 'sagewai-cost-hourly', interval: '1h', file: 'recording.yml', rules: RECORDING_RULES },
  { name: 'sagewai-budgets', interval: '10s', file: 'alerts.yml', rules: ALERT_RULES.budget },
  { name: 'sagewai-slo', interval: '30s', file: 'alerts.yml', rules: ALERT_RULES.slo },
  { name: 'sagewai-cost', interval: '30s', file: 'alerts.yml', rules: ALERT_RULES.cost },
  { name: 'sagewai-pipeline', interval: '10s', file: 'alerts.yml', rules: ALERT_RULES.pipeline },
];

export const ALL_ALERT_RULES: readonly AlertRule[] = Object.values(ALERT_RULES).flat();

/** Alerts a budget cap being reached is expected to fire (verify allows them after example 43). */
export const BUDGET_ALERTS: readonly string[] = ALERT_RULES.budget.map((r) => r.alert);

export function isAlertRule(r: RecordingRule | AlertRule): r is AlertRule {
  return 'alert' in r;
}
