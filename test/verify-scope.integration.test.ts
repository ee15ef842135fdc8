import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VictoriaMetricsClient } from '../src/clients/victoria-metrics.js';
import { emptyClassCounts } from '../src/driver/counter.js';
import { checkStatusClasses } from '../src/run-example/verify.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * A run's status-class check counts only the backend process the run started. The case that
 * made it necessary: the backend of the example before it, stopped a moment earlier, delivers its
 * last export inside this run's window, and a window over every process counts that request too.
 * Both processes' request counters go into the real VictoriaMetrics through /api/v1/import.
 */
let stack: TestStack;
let vm: VictoriaMetricsClient;
const now = Date.now();
const from = now - 60_000;

beforeAll(async () => {
  stack = await startTestStack();
  vm = new VictoriaMetricsClient(stack.endpoints.vmUrl);
  const base = { __name__: 'http_server_request_duration_seconds_count', job: 'sagewai/sagewai-admin', http_request_method: 'POST', http_route: '/api/v1/fleet/heartbeat', sagewai_project_id: 'acme-fleet' };
  const ts = [from - 30_000, from + 5_000, from + 20_000, now - 5_000];
  const series = [
    // This run's backend: a new series, 0 → 404 requests answered 200 over the window.
    { metric: { ...base, instance: 'this-run', http_response_status_code: '200' }, values: [0, 100, 300, 404], timestamps: ts },
    // The earlier example's backend: 50 requests before the window, its last one exported inside it.
    { metric: { ...base, instance: 'earlier-run', http_response_status_code: '200' }, values: [50, 50, 51, 51], timestamps: ts },
  ];
  const res = await fetch(`${stack.endpoints.vmUrl}/api/v1/import`, { method: 'POST', body: series.map((s) => JSON.stringify(s)).join('\n') });
  expect(res.status).toBe(204);
  await fetch(`${stack.endpoints.vmUrl}/internal/force_flush`);
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe('verify: requests by status class, scoped to the run\'s backend process', () => {
  const driver = { ...emptyClassCounts(), '2xx': 404 };
  const range = `${Math.ceil((now - from) / 1000)}s`;

  it('over every process the earlier backend\'s late request makes 405 and the exact check fails', async () => {
    const checks = await checkStatusClasses(vm, driver, range, now, true, []);
    const c2 = checks.find((c) => c.name === 'requests 2xx: driver == HTTP metrics');
    expect(c2?.ok).toBe(false);
    expect(c2?.detail).toContain('reports 405');
    expect(c2?.detail).toContain('earlier-run');
  });

  it('scoped to the instance the run started, the counts are exactly the driver\'s', async () => {
    const checks = await checkStatusClasses(vm, driver, range, now, true, ['{instance="this-run"}']);
    expect(checks.every((c) => c.ok), JSON.stringify(checks)).toBe(true);
    expect(checks.find((c) => c.name === 'requests 2xx: driver == HTTP metrics')?.detail).toContain('driver saw 404, http.status_share reports 404');
  });
});
