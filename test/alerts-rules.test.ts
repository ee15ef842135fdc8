import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ALL_ALERT_RULES, BUDGET_ALERTS, RECORDING_RULES, RULE_GROUPS } from '../src/queries/alerts.js';
import { getEntry, renderExpr } from '../src/queries/index.js';
import { ruleFiles, rulesDir } from '../src/queries/rules.js';
import { alertsTable, visibleTo, type AlertsReport } from '../src/report/alerts.js';
import { commandLine } from '../src/stack/native.js';
import { DEFAULT_PORTS } from '../src/stack/ports.js';
import { alertingConfig, dryRunProblem, generatedRulesGlob } from '../src/stack/vmalert.js';

interface RuleFile {
  groups: Array<{ name: string; interval: string; rules: Array<{ alert?: string; record?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

describe('assets/vmalert (rules generated from the catalog)', () => {
  it('is committed exactly as src/queries generates it (run `npm run rules` after changing the catalog)', () => {
    const generated = ruleFiles();
    const committed = fs.readdirSync(rulesDir()).filter((f) => f.endsWith('.yml')).sort();
    expect(committed).toEqual(Object.keys(generated).sort());
    for (const [file, text] of Object.entries(generated)) expect(fs.readFileSync(path.join(rulesDir(), file), 'utf8'), file).toBe(text);
  });

  it('turns a catalog change into a rule change: the budget alert is the board panel\'s own expression', () => {
    const parsed = YAML.parse(ruleFiles()['alerts.yml'] ?? '') as RuleFile;
    const budget = parsed.groups.flatMap((g) => g.rules).find((r) => r.alert === 'SagewaiBudgetExhausted');
    const panel = renderExpr(getEntry('budget.utilization'), { range: '1h' }).replace(/\{sagewai_project_id=~"\.\*"\}/, '');
    expect(budget?.expr).toBe(`${panel} >= 1`);
    // The hourly cost recording rule is the reconciliation's own query over one hour.
    const rec = (YAML.parse(ruleFiles()['recording.yml'] ?? '') as RuleFile).groups[0]?.rules.find((r) => r.record === 'project_model:sagewai_llm_cost_usd:increase1h');
    expect(rec?.expr).toBe('sum by (sagewai_project_id, gen_ai_request_model) (increase_pure(sagewai_llm_cost_usd_total[1h]))');
  });

  it('gives every alert a severity, a summary and a runbook line; tenant alerts are grouped by sagewai_project_id', () => {
    const parsed = Object.values(ruleFiles()).map((t) => YAML.parse(t) as RuleFile);
    const alerts = parsed.flatMap((p) => p.groups.flatMap((g) => g.rules)).filter((r) => r.alert);
    expect(alerts.map((a) => a.alert).sort()).toEqual(ALL_ALERT_RULES.map((a) => a.alert).sort());
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.length, a.alert).toBeGreaterThan(20);
      expect(a.annotations?.runbook?.length, a.alert).toBeGreaterThan(20);
    }
    for (const a of ALL_ALERT_RULES.filter((r) => r.tenant)) {
      expect(a.expr, a.alert).toMatch(/by \([^)]*sagewai_project_id/);
      expect(a.summary, a.alert).toContain('{{ $labels.sagewai_project_id }}');
    }
    // The list: budget 80 %, 100 % and forecast; two-window error burn; p95; unpriced; pipeline; drift.
    expect(BUDGET_ALERTS).toEqual(['SagewaiBudgetExhausted', 'SagewaiBudget80Percent', 'SagewaiBudgetBurnForecast']);
    for (const name of ['SagewaiErrorBudgetBurnFast', 'SagewaiLatencyP95High', 'SagewaiUnpricedCalls', 'SagewaiScrapeTargetDown', 'SagewaiCollectorRefusedOrDropped', 'SagewaiLogsNotArriving', 'SagewaiLedgerMetricsDrift']) {
      expect(ALL_ALERT_RULES.map((a) => a.alert)).toContain(name);
    }
    expect(ALL_ALERT_RULES.find((a) => a.alert === 'SagewaiErrorBudgetBurnFast')?.expr).toMatch(/\[5m\].*\) > 0\.144 and .*\[1h\].*\) > 0\.144$/);
  });

  it('records hourly cost, token and call totals per project and model, and per project alone', () => {
    expect(RECORDING_RULES.map((r) => r.record)).toEqual(['project_model:sagewai_llm_cost_usd:increase1h', 'project_model_type:sagewai_llm_tokens:increase1h', 'project_model:sagewai_llm_calls:increase1h', 'project:sagewai_llm_cost_usd:increase1h', 'project_type:sagewai_llm_tokens:increase1h', 'project:sagewai_llm_calls:increase1h', 'sagewai_cost_hourly:evaluated:1h']);
    // The evaluation marker: one sample per evaluation, usage or not (cost checks the hours it covers).
    expect(RECORDING_RULES.find((r) => r.from === null)?.expr).toBe('vector(1)');
    for (const r of RECORDING_RULES.filter((x) => x.from !== null)) {
      expect(r.expr, r.record).toMatch(r.record.startsWith('project_model') ? /^sum by \(sagewai_project_id, gen_ai_request_model[,)]/ : /^sum by \(sagewai_project_id[,)]/);
      expect(r.expr, r.record).toContain('[1h]');
    }
    // The per-project rule is the by-project report's own query over one hour.
    expect(RECORDING_RULES.find((r) => r.record === 'project:sagewai_llm_cost_usd:increase1h')?.expr).toBe('sum by (sagewai_project_id) (increase_pure(sagewai_llm_cost_usd_total[1h]))');
    expect(RULE_GROUPS.find((g) => g.rules === RECORDING_RULES)?.interval).toBe('1h');
  });
});

describe('vmalert in the native stack', () => {
  it('loads the generated rules plus --rules files, and posts to --alert-webhook or nowhere', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-rules-'));
    try {
      const extra = path.join(dir, 'team.yml');
      fs.writeFileSync(extra, 'groups: []\n');
      const cfg = alertingConfig({ extraRules: [extra], alertWebhookUrl: 'http://127.0.0.1:9093/' });
      expect(cfg).toEqual({ ruleFiles: [generatedRulesGlob(), extra], notifierUrl: 'http://127.0.0.1:9093' });
      const args = commandLine('vmalert', DEFAULT_PORTS, dir, cfg);
      expect(args).toEqual(expect.arrayContaining(['-httpListenAddr=127.0.0.1:8880', '-datasource.url=http://127.0.0.1:8428', '-remoteWrite.url=http://127.0.0.1:8428', `-rule=${extra}`, '-notifier.url=http://127.0.0.1:9093']));
      expect(args.filter((a) => a.startsWith('-httpListenAddr=')).every((a) => a.includes('127.0.0.1:'))).toBe(true);
      expect(commandLine('vmalert', DEFAULT_PORTS, dir, alertingConfig({}))).toContain('-notifier.blackhole');
      expect(() => alertingConfig({ extraRules: [path.join(dir, 'missing.yml')] })).toThrow(/does not exist/);
      expect(() => alertingConfig({ alertWebhookUrl: 'ftp://x' })).toThrow(/not an http\(s\) URL/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps the file, group and rule from vmalert's dry-run error", () => {
    const out = [
      '2026-01-01T00:00:00.000Z\tinfo\tlib/logger/flag.go:12\tbuild version:',
      '2026-01-01T00:00:00.000Z\tfatal\tapp/vmalert/main.go:110\tfailed to parse "[a.yml]": errors(1): ',
      'invalid group "team" in file "/x/team.yml": invalid expression for rule "TeamDown": bad MetricsQL expr: "sum(rate(foo[5m])"',
    ].join('\n');
    expect(dryRunProblem(out)).toBe('invalid group "team" in file "/x/team.yml": invalid expression for rule "TeamDown": bad MetricsQL expr: "sum(rate(foo[5m])"');
  });
});

describe('alerts report', () => {
  const report: AlertsReport = {
    vmalertUrl: 'http://127.0.0.1:8880',
    project: null,
    firing: 1,
    pending: 1,
    alerts: [
      { name: 'SagewaiBudgetExhausted', state: 'firing', severity: 'critical', project: 'acme', summary: 'user budget intern of project acme (daily) is used up', runbook: 'raise the cap', since: new Date(90_000).toISOString(), value: 1, labels: {} },
      { name: 'SagewaiScrapeTargetDown', state: 'pending', severity: 'critical', project: null, summary: 'cannot scrape otel-collector', runbook: 'sagewai-obs status', since: new Date(100_000).toISOString(), value: 0, labels: {} },
    ],
  };

  it('shows a tenant its own alerts and the pipeline ones, never another tenant\'s', () => {
    expect(visibleTo({ project: 'acme' }, 'acme')).toBe(true);
    expect(visibleTo({ project: null }, 'acme')).toBe(true);
    expect(visibleTo({ project: 'globex' }, 'acme')).toBe(false);
    expect(visibleTo({ project: 'globex' }, undefined)).toBe(true);
  });

  it('prints state, severity, name, project, age and summary, then one runbook line per alert', () => {
    const text = alertsTable(report, { colour: false, now: 120_000 });
    expect(text.split('\n')[0]).toBe('1 firing, 1 pending');
    expect(text).toMatch(/firing\s+│ critical\s+│ SagewaiBudgetExhausted\s+│ acme\s+│ 30s/);
    expect(text).toMatch(/pending\s+│ critical\s+│ SagewaiScrapeTargetDown\s+│ \(pipeline\)\s+│ 20s/);
    expect(text).toContain('SagewaiBudgetExhausted: raise the cap');
    expect(alertsTable({ ...report, project: 'acme', alerts: [], firing: 0, pending: 0 }, { colour: false })).toBe('no alerts firing or pending for project acme (vmalert http://127.0.0.1:8880)');
  });
});
