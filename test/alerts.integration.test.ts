import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runExample12 } from '../examples/ex12-budget-enforcement.js';
import { BackendClient } from '../src/clients/backend.js';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { VmalertClient } from '../src/clients/vmalert.js';
import { ALL_ALERT_RULES, RECORDING_RULES } from '../src/queries/alerts.js';
import { fetchAlerts } from '../src/report/alerts.js';
import { forecastBudgets } from '../src/report/budget-forecast.js';
import { checkRules } from '../src/verify/rules.js';
import { startTestBackend, type TestBackend } from './helpers/backend.js';
import { bootstrap, eventually } from './helpers/fault.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * vmalert on the real stack, loaded with the rules generated from the catalog: every rule
 * evaluates cleanly, example 12's exhausted caps fire the budget alerts for its project (and
 * only its project) within a stated bound, vmalert posts them to a webhook in the Alertmanager
 * API v2 shape, and raising the caps resolves them.
 */

/** vmalert evaluates the budget group every 10 s; a fired alert must show within two rounds plus a scrape. */
const FIRE_BOUND_MS = 45_000;
/** The cost group runs every 30 s (first round up to 30 s after vmalert starts). */
const COST_BOUND_MS = 75_000;

interface Received {
  path: string;
  alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL?: string }>;
}

let receiver: http.Server;
const received: Received[] = [];
let stack: TestStack;
let backend: TestBackend;
let client: BackendClient;
let vmalert: VmalertClient;

beforeAll(async () => {
  // A webhook receiver speaking Alertmanager's API v2 (what vmalert's notifier posts to).
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      try {
        received.push({ path: req.url ?? '', alerts: JSON.parse(body) as Received['alerts'] });
      } catch {
        received.push({ path: req.url ?? '', alerts: [] });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const port = (receiver.address() as AddressInfo).port;
  stack = await startTestStack({ alertWebhookUrl: `http://127.0.0.1:${port}` });
  backend = await startTestBackend({ otlpHttp: stack.endpoints.otlpHttp });
  client = new BackendClient({ baseUrl: backend.url, token: backend.operatorToken, timeoutMs: 20_000 });
  vmalert = new VmalertClient(stack.endpoints.vmalertUrl as string);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await backend?.stop();
  await stack?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
});

describe('alerts from the catalog on the real stack', () => {
  it('loads every generated rule into vmalert, and every rule expression runs on VictoriaMetrics', async () => {
    const rules = await vmalert.rules();
    expect(rules.map((r) => r.name).sort()).toEqual([...ALL_ALERT_RULES.map((r) => r.alert), ...RECORDING_RULES.map((r) => r.record)].sort());
    const report = await checkRules({ vm: new VictoriaMetricsClient(stack.endpoints.vmUrl), vmalert });
    expect(report.filter((r) => !r.ok)).toEqual([]);
    // vmalert itself has evaluated the alert groups without an error.
    const { value } = await eventually('alert rules evaluated', () => vmalert.rules(), (rs) => rs.filter((r) => r.type === 'alerting').every((r) => !r.lastEvaluation.startsWith('0001')), 30_000, 1000);
    expect(value.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('example 12: the budget alerts fire for its project within the bound, reach the webhook, and resolve when the caps are raised', async () => {
    const result = await runExample12({ backendUrl: backend.url, token: backend.operatorToken });
    const project = result.project;
    const finishedAt = Date.now();
    // What the backend's own budget API says (independent of the metrics path).
    const exhausted = result.budgets.filter((b) => b.utilization >= 1).map((b) => b.subject).sort();
    const over80 = result.budgets.filter((b) => b.utilization >= 0.8 && b.utilization < 1).map((b) => b.subject).sort();
    expect(exhausted.length + over80.length).toBeGreaterThan(0);

    const subjects = (name: string, alerts: Awaited<ReturnType<typeof fetchAlerts>>['alerts']): string[] =>
      alerts.filter((a) => a.name === name && a.state === 'firing').map((a) => a.labels.sagewai_budget_subject ?? '').sort();
    const { value: fired } = await eventually(
      `budget alerts for ${project}`,
      () => fetchAlerts(vmalert, { project }),
      (r) => JSON.stringify(subjects('SagewaiBudgetExhausted', r.alerts)) === JSON.stringify(exhausted) && JSON.stringify(subjects('SagewaiBudget80Percent', r.alerts)) === JSON.stringify(over80),
      FIRE_BOUND_MS,
      1000,
    );
    const firedMs = Date.now() - finishedAt;
    process.stdout.write(`[alerts] budget alerts for ${project} firing ${firedMs} ms after example 12 ended: exhausted ${exhausted.join(', ')}; ≥80 % ${over80.join(', ') || '-'}\n`);
    for (const a of fired.alerts.filter((x) => x.name.startsWith('SagewaiBudget'))) {
      expect(a.project).toBe(project);
      expect(a.summary).toContain(project);
      expect(a.runbook.length).toBeGreaterThan(20);
    }
    // Another tenant's view does not see them.
    expect((await fetchAlerts(vmalert, { project: 'some-other-project' })).alerts.filter((a) => a.project === project)).toEqual([]);

    // The notifier posted them to the webhook, Alertmanager API v2 shape.
    const { value: posted } = await eventually(
      'webhook received the budget alerts',
      async () => received.flatMap((r) => r.alerts.map((a) => ({ ...a, path: r.path }))),
      (as) => as.some((a) => a.labels.alertname?.startsWith('SagewaiBudget') && a.labels.sagewai_project_id === project),
      20_000,
      500,
    );
    const one = posted.find((a) => a.labels.alertname?.startsWith('SagewaiBudget') && a.labels.sagewai_project_id === project);
    expect(one?.path).toBe('/api/v2/alerts');
    expect(one?.annotations.summary).toContain(project);
    expect(one?.annotations.runbook).toBeTruthy();
    expect(Number.isNaN(Date.parse(one?.startsAt ?? ''))).toBe(false);

    // budget status's forecast: the capped subjects that are used up run out now; every
    // projection is at least what was spent (spend never goes back within a window).
    const status = await client.budgetStatus(project);
    const { items, warning } = await forecastBudgets(new VictoriaMetricsClient(stack.endpoints.vmUrl), status, { project });
    expect(warning).toBeUndefined();
    for (const b of items) {
      expect(b.forecast.projected_spend_usd, b.subject).not.toBeNull();
      expect(b.forecast.projected_spend_usd as number, b.subject).toBeGreaterThanOrEqual(b.spent_usd - 1e-6);
      // A cap filled between two exports shows as one step, which can leave a flat slope: ≥ 0, never missing.
      expect(b.forecast.burn_usd_per_hour as number, b.subject).toBeGreaterThanOrEqual(0);
      if (exhausted.includes(b.subject)) expect(b.forecast.exhausts_at, b.subject).not.toBeNull();
      if (b.forecast.exhausts_at) expect(Date.parse(b.forecast.exhausts_at), b.subject).toBeLessThanOrEqual(Date.parse(b.resets_at));
    }

    // Raise every cap a hundredfold: utilisation falls under 80 % and the alerts resolve.
    for (const b of result.budgets) {
      const current = (await client.budgetStatus(project, { scope: b.scope as 'user' | 'team', subject: b.subject }))[0];
      await client.setBudget(project, { scope: b.scope as 'user' | 'team', subject: b.subject, window: 'daily', limit_usd: b.limitUsd * 100, action: current?.action ?? 'warn', ...(current?.fallback_model ? { fallback_model: current.fallback_model } : {}) });
    }
    const raisedAt = Date.now();
    await eventually(`budget alerts for ${project} resolved`, () => fetchAlerts(vmalert, { project }), (r) => !r.alerts.some((a) => a.name.startsWith('SagewaiBudget') && a.project === project), FIRE_BOUND_MS, 1000);
    process.stdout.write(`[alerts] resolved ${Date.now() - raisedAt} ms after the caps were raised\n`);
    // vmalert tells the receiver too: a resolved alert is re-sent with endsAt in the past.
    await eventually(
      'webhook received the resolution',
      async () => received.flatMap((r) => r.alerts),
      (as) => as.some((a) => a.labels.sagewai_project_id === project && a.labels.alertname?.startsWith('SagewaiBudget') && Date.parse(a.endsAt) <= Date.now() && Date.parse(a.endsAt) >= raisedAt - 1000),
      30_000,
      500,
    );
  });

  it('calls to a model without a price fire SagewaiUnpricedCalls naming the project and the model; priced calls do not', async () => {
    const tenants = [
      { project: 'alerts-unpriced', agent: 'explorer', model: 'mystery-model-x' },
      { project: 'alerts-priced', agent: 'helper', model: 'claude-haiku-4-5' },
    ];
    await bootstrap(client, tenants);
    for (const t of tenants) for (let i = 0; i < 2; i++) await client.run(t.project, { agent_name: t.agent, message: `call ${i}`, simulate: { input_tokens: 500, output_tokens: 100 } });
    const started = Date.now();
    const { value } = await eventually(
      'SagewaiUnpricedCalls for alerts-unpriced',
      () => fetchAlerts(vmalert, { state: 'firing' }),
      (r) => r.alerts.some((a) => a.name === 'SagewaiUnpricedCalls' && a.project === 'alerts-unpriced'),
      COST_BOUND_MS,
      1000,
    );
    const unpriced = value.alerts.filter((a) => a.name === 'SagewaiUnpricedCalls');
    process.stdout.write(`[alerts] SagewaiUnpricedCalls firing ${Date.now() - started} ms after the calls\n`);
    expect(unpriced.map((a) => [a.project, a.labels.gen_ai_request_model, a.value])).toEqual([['alerts-unpriced', 'mystery-model-x', 2]]);
    expect(unpriced[0]?.summary).toContain('mystery-model-x');
  }, 120_000);
});
