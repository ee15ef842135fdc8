import type { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import type { VmalertClient } from '../clients/vmalert.js';
import { UserError, describeCause } from '../errors.js';
import { ALL_ALERT_RULES, BUDGET_ALERTS, RECORDING_RULES } from '../queries/alerts.js';
import type { Probe } from './pipeline.js';

/**
 * Rule checks for `verify` and `run-example --verify`: every generated rule expression runs on
 * VictoriaMetrics; when vmalert is there, it has loaded every rule and evaluates each without
 * an error; and nothing fires that the workload does not explain.
 */

export interface RuleCheck {
  name: string;
  kind: 'alerting' | 'recording';
  ok: boolean;
  /** Series the expression returns now (for an alert: how many would be active ignoring `for`). */
  results: number;
  error?: string;
}

export async function checkRules(opts: { vm: VictoriaMetricsClient; vmalert?: VmalertClient | undefined }): Promise<RuleCheck[]> {
  const rules = [
    ...RECORDING_RULES.map((r) => ({ name: r.record, kind: 'recording' as const, expr: r.expr })),
    ...ALL_ALERT_RULES.map((r) => ({ name: r.alert, kind: 'alerting' as const, expr: r.expr })),
  ];
  const out: RuleCheck[] = [];
  // Sequential, like the catalog checks: a 2-core machine, and the store is what is under test.
  for (const r of rules) {
    try {
      const samples = await opts.vm.query(r.expr);
      out.push({ name: r.name, kind: r.kind, ok: true, results: samples.length });
    } catch (err) {
      if (err instanceof UserError) throw err;
      out.push({ name: r.name, kind: r.kind, ok: false, results: 0, error: describeCause(err) });
    }
  }
  if (opts.vmalert) {
    const loaded = new Map((await opts.vmalert.rules()).map((r) => [r.name, r]));
    for (const c of out) {
      const l = loaded.get(c.name);
      if (!l) Object.assign(c, { ok: false, error: 'not loaded by vmalert (an old assets/vmalert? run sagewai-obs alerts export and restart the stack)' });
      else if (l.health !== 'ok') Object.assign(c, { ok: false, error: `vmalert: ${l.lastError || l.health}` });
    }
  }
  return out;
}

export interface UnexpectedAlerts {
  ok: boolean;
  /** Firing alerts outside the allowed set, as "name{project}". */
  unexpected: string[];
  allowedFiring: string[];
}

/** Firing alerts other than `allowed` (by default the budget alerts, which a workload with caps provokes on purpose). */
export async function checkFiringAlerts(vmalert: VmalertClient, allowed: readonly string[] = BUDGET_ALERTS): Promise<UnexpectedAlerts> {
  const firing = (await vmalert.alerts()).filter((a) => a.state === 'firing');
  const label = (a: (typeof firing)[number]): string => `${a.name}${a.labels.sagewai_project_id ? `{${a.labels.sagewai_project_id}}` : a.labels.job ? `{${a.labels.job}}` : ''}`;
  const unexpected = firing.filter((a) => !allowed.includes(a.name)).map(label);
  return { ok: unexpected.length === 0, unexpected, allowedFiring: firing.filter((a) => allowed.includes(a.name)).map(label) };
}

/** doctor's vmalert probes: reachable, every generated rule loaded, none failing to evaluate. */
export async function vmalertProbes(vmalert: VmalertClient): Promise<Probe[]> {
  let loaded;
  try {
    loaded = await vmalert.rules();
  } catch (err) {
    return [{ name: 'vmalert reachable', status: 'fail', detail: `${vmalert.baseUrl}: ${describeCause(err)}`, hint: 'alerts are not evaluated: `sagewai-obs status` shows whether vmalert runs; `sagewai-obs down && sagewai-obs up` starts it' }];
  }
  const want = [...RECORDING_RULES.map((r) => r.record), ...ALL_ALERT_RULES.map((r) => r.alert)];
  const names = new Set(loaded.map((r) => r.name));
  const missing = want.filter((n) => !names.has(n));
  const failing = loaded.filter((r) => r.health !== 'ok');
  return [
    { name: 'vmalert reachable', status: 'ok', detail: `${vmalert.baseUrl}, ${loaded.length} rules loaded` },
    missing.length === 0 && failing.length === 0
      ? { name: 'alerting rules healthy', status: 'ok', detail: `${want.length} generated rules loaded, none failing` }
      : { name: 'alerting rules healthy', status: 'fail', detail: [missing.length > 0 ? `not loaded: ${missing.join(', ')}` : '', ...failing.map((r) => `${r.name}: ${r.lastError}`)].filter(Boolean).join('; '), hint: 'regenerate the rules (sagewai-obs alerts export) and restart the stack; a failing rule names its error above' },
  ];
}
