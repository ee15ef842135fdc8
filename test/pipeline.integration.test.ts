import { randomUUID } from 'node:crypto';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * The whole path with the real binaries: OTel JS SDK → collector (OTLP/HTTP protobuf) →
 * prometheus exporter → VictoriaMetrics scrape, and → otlphttp → VictoriaLogs.
 * Expected values come from what this test sent, never from what the stack returned first.
 */

interface VmSample {
  metric: Record<string, string>;
  value: [number, string];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let stack: TestStack;
let vm: (query: string) => Promise<VmSample[]>;
const instanceId = `pipeline-${randomUUID()}`;
const runId = `run-${randomUUID()}`;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

beforeAll(async () => {
  stack = await startTestStack();
  vm = async (query) => {
    const res = await fetch(`${stack.endpoints.vmUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = (await res.json()) as { status: string; data: { result: VmSample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`VictoriaMetrics rejected ${query}: ${body.error}`);
    return body.data.result;
  };
});

afterAll(async () => {
  await stack?.stop();
});

describe('metrics: SDK → collector → VictoriaMetrics', () => {
  let meterProvider: MeterProvider;

  beforeAll(async () => {
    const resource = resourceFromAttributes({
      'service.name': 'sagewai-admin',
      'service.namespace': 'sagewai',
      'service.version': '0.0.0-test',
      'service.instance.id': instanceId,
    });
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${stack.endpoints.otlpHttp}/v1/metrics` }),
      exportIntervalMillis: 1000,
    });
    meterProvider = new MeterProvider({ resource, readers: [reader] });
    const meter = meterProvider.getMeter('pipeline-smoke');

    const counter = meter.createCounter('pipeline.smoke.requests', { unit: '{request}' });
    counter.add(0, { 'sagewai.project_id': 'acme-support' }); // born at 0
    for (let i = 0; i < 17; i++) counter.add(1, { 'sagewai.project_id': 'acme-support' });

    const hist = meter.createHistogram('pipeline.smoke.duration', { unit: 's', advice: { explicitBucketBoundaries: [0.25, 1, 5] } });
    for (const v of [0.1, 0.2, 0.3, 2.5]) hist.record(v, { 'sagewai.project_id': 'acme-support' });

    // Contract instruments (docs/CONTRACT.md → Metrics): their Prometheus names are pinned below.
    meter
      .createObservableCounter('sagewai.llm.cost.usd', { unit: '{USD}' })
      .addCallback((r) => r.observe(0.0123, { 'sagewai.project_id': 'acme-support', 'gen_ai.request.model': 'gpt-4o-mini' }));
    meter.createHistogram('http.server.request.duration', { unit: 's' }).record(0.05, { 'http.route': '/api/v1/agents', 'http.response.status_code': 200, 'http.request.method': 'GET' });
    meter.createHistogram('http.server.response.body.size', { unit: 'By' }).record(512, { 'http.route': '/api/v1/agents' });
    meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' }).record(42, { 'gen_ai.token.type': 'input' });
    meter.createUpDownCounter('http.server.active_requests', { unit: '{request}' }).add(3, { 'http.route': '/api/v1/agents' });
    meter.createObservableGauge('sagewai.budget.utilization', { unit: '1' }).addCallback((r) => r.observe(0.5, { 'sagewai.project_id': 'acme-support' }));
    meter.createObservableGauge('sagewai.fleet.workers', { unit: '{worker}' }).addCallback((r) => r.observe(2, { 'sagewai.fleet.worker.state': 'online' }));
    meter.createCounter('sagewai.auth.logins', { unit: '{login}' }).add(1, { 'sagewai.auth.outcome': 'success' });
    await meterProvider.forceFlush();
  });

  afterAll(async () => {
    await meterProvider?.shutdown();
  });

  const sel = () => `instance="${instanceId}"`;

  it('a counter incremented 17 times reads 17 through increase_pure(), with the SDK job/instance labels', async () => {
    await until('the counter in VictoriaMetrics', async () => ((await vm(`pipeline_smoke_requests_total{${sel()}}`)).length > 0 ? true : undefined));
    await sleep(4500); // two more scrapes of the same cumulative value must not add to it
    const inc = await vm(`increase_pure(pipeline_smoke_requests_total{${sel()}}[5m])`);
    expect(inc).toHaveLength(1);
    expect(Number(inc[0]?.value[1])).toBe(17);
    const raw = await vm(`pipeline_smoke_requests_total{${sel()}}`);
    expect(raw[0]?.metric).toMatchObject({ job: 'sagewai/sagewai-admin', instance: instanceId, sagewai_project_id: 'acme-support' });
    // honor_labels: the scrape job's own labels did not push the SDK's aside.
    expect(raw[0]?.metric).not.toHaveProperty('exported_job');
  });

  it('a histogram arrives as _bucket/_sum/_count in seconds with exact counts per bucket', async () => {
    const buckets = await until('histogram buckets', async () => {
      const r = await vm(`pipeline_smoke_duration_seconds_bucket{${sel()}}`);
      return r.length >= 4 ? r : undefined;
    });
    const byLe = Object.fromEntries(buckets.map((b) => [b.metric.le, Number(b.value[1])]));
    expect(byLe).toEqual({ '0.25': 2, '1': 3, '5': 4, '+Inf': 4 });
    expect(Number((await vm(`pipeline_smoke_duration_seconds_count{${sel()}}`))[0]?.value[1])).toBe(4);
    expect(Number((await vm(`pipeline_smoke_duration_seconds_sum{${sel()}}`))[0]?.value[1])).toBeCloseTo(3.1, 9);
  });

  it('contract metrics land under the Prometheus names pinned in docs/CONTRACT.md', async () => {
    const expectSeries = async (query: string, value?: number) => {
      const r = await until(query, async () => {
        const res = await vm(`${query.includes('{') ? query.replace('{', `{${sel()},`) : `${query}{${sel()}}`}`);
        return res.length > 0 ? res : undefined;
      });
      if (value !== undefined) expect(Number(r[0]?.value[1]), query).toBeCloseTo(value, 9);
      return r;
    };
    const cost = await expectSeries('sagewai_llm_cost_usd_total', 0.0123);
    expect(cost[0]?.metric).toMatchObject({ job: 'sagewai/sagewai-admin', sagewai_project_id: 'acme-support', gen_ai_request_model: 'gpt-4o-mini' });
    const http = await expectSeries('http_server_request_duration_seconds_count', 1);
    expect(http[0]?.metric).toMatchObject({ http_route: '/api/v1/agents', http_response_status_code: '200', http_request_method: 'GET' });
    await expectSeries('http_server_request_duration_seconds_bucket{le="+Inf"}', 1);
    await expectSeries('http_server_response_body_size_bytes_sum', 512);
    await expectSeries('gen_ai_client_token_usage_sum{gen_ai_token_type="input"}', 42);
    await expectSeries('http_server_active_requests', 3);
    await expectSeries('sagewai_budget_utilization_ratio', 0.5);
    await expectSeries('sagewai_fleet_workers{sagewai_fleet_worker_state="online"}', 2);
    await expectSeries('sagewai_auth_logins_total{sagewai_auth_outcome="success"}', 1);
    // Resource attributes stay off metric labels (no resource_to_telemetry_conversion).
    expect(cost[0]?.metric).not.toHaveProperty('service_name');
  });
});

describe('traces: spanmetrics connector → VictoriaMetrics', () => {
  it('turns spans into per-project call counts', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'sagewai-admin', 'service.namespace': 'sagewai', 'service.instance.id': instanceId }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${stack.endpoints.otlpHttp}/v1/traces` }))],
    });
    const tracer = provider.getTracer('pipeline-smoke');
    for (let i = 0; i < 3; i++) tracer.startSpan('GET /api/v1/agents', { attributes: { 'sagewai.project_id': 'globex' } }).end();
    await provider.forceFlush();
    await provider.shutdown();
    const r = await until('span metrics', async () => {
      const res = await vm(`sagewai_spans_calls_total{instance="${instanceId}",sagewai_project_id="globex"}`);
      return res.length > 0 && Number(res[0]?.value[1]) === 3 ? res : undefined;
    });
    expect(r[0]?.metric).toMatchObject({ job: 'sagewai/sagewai-admin', span_name: 'GET /api/v1/agents' });
    const duration = await vm(`{__name__=~"sagewai_spans_duration.*_count",instance="${instanceId}",sagewai_project_id="globex"}`);
    expect(duration.map((d) => [d.metric.__name__, Number(d.value[1])])).toEqual([['sagewai_spans_duration_milliseconds_count', 3]]);
  });
});

describe('logs: SDK → collector → VictoriaLogs', () => {
  interface VlRow {
    _msg: string;
    [field: string]: string;
  }
  const logsql = async (query: string): Promise<VlRow[]> => {
    const res = await fetch(`${stack.endpoints.vlUrl}/select/logsql/query`, { method: 'POST', body: new URLSearchParams({ query }) });
    if (!res.ok) throw new Error(`VictoriaLogs rejected ${query}: HTTP ${res.status} ${await res.text()}`);
    return (await res.text())
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map((l) => JSON.parse(l) as VlRow);
  };

  beforeAll(async () => {
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'sagewai-admin', 'service.namespace': 'sagewai', 'service.instance.id': instanceId }),
      processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${stack.endpoints.otlpHttp}/v1/logs` }) })],
    });
    const logger = provider.getLogger('pipeline-smoke');
    logger.emit({
      body: 'agent.run.completed',
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      attributes: { 'event.name': 'agent.run.completed', 'sagewai.project_id': 'acme-support', 'sagewai.run.id': runId, 'sagewai.cost.usd': 0.0123 },
    });
    logger.emit({ body: `GET /healthz 200`, attributes: { 'http.route': '/healthz', 'sagewai.run.id': runId, kind: 'probe' } });
    logger.emit({
      body: 'login by alice@example.com with Authorization: Bearer eyJhbGciOi.abc-123',
      attributes: { 'sagewai.run.id': runId, kind: 'secret', 'user.contact': 'bob@example.org' },
    });
    await provider.forceFlush();
    await provider.shutdown();
  });

  it('keeps the record with its attributes', async () => {
    const rows = await until('the audit record in VictoriaLogs', async () => {
      const r = await logsql(`sagewai.run.id:"${runId}" event.name:"agent.run.completed"`);
      return r.length > 0 ? r : undefined;
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ _msg: 'agent.run.completed', 'event.name': 'agent.run.completed', 'sagewai.project_id': 'acme-support', 'sagewai.cost.usd': '0.0123', 'service.name': 'sagewai-admin' });
  });

  it('drops health-probe logs and redacts e-mail addresses and bearer tokens', async () => {
    const secret = await until('the redacted record', async () => {
      const r = await logsql(`sagewai.run.id:"${runId}" kind:"secret"`);
      return r.length > 0 ? r : undefined;
    });
    expect(secret[0]?._msg).toBe('login by [redacted-email] with Authorization: Bearer [redacted]');
    expect(secret[0]?.['user.contact']).toBe('[redacted-email]');
    // Sent in the same batch as the two records above, so it had every chance to arrive.
    expect(await logsql(`sagewai.run.id:"${runId}" kind:"probe"`)).toEqual([]);
    expect((await logsql(`sagewai.run.id:"${runId}"`)).length).toBe(2);
  });
});
