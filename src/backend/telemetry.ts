import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { AggregationTemporality, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_NAMESPACE, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

/**
 * The only file that wires the OpenTelemetry SDK (STYLE 4): OTLP/HTTP protobuf exporters for
 * metrics (cumulative), logs and traces. Endpoints, headers, timeouts and OTEL_SDK_DISABLED come
 * from the standard OTEL_* variables. Must run before src/backend/instruments.ts is imported.
 */
export interface TelemetryOptions {
  serviceVersion: string;
  instanceId: string;
  /** false → nothing is registered; the API stays no-op. */
  enabled: boolean;
}

export interface Telemetry {
  enabled: boolean;
  /** Flushes and stops exporters; safe to call twice. */
  shutdown(): Promise<void>;
}

export function metricExportIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.OTEL_METRIC_EXPORT_INTERVAL;
  const n = raw !== undefined && raw !== '' ? Number(raw) : NaN;
  return Number.isFinite(n) && n > 0 ? n : 2000;
}

export function startTelemetry(opts: TelemetryOptions): Telemetry {
  const disabled = !opts.enabled || ['true', '1'].includes(String(process.env.OTEL_SDK_DISABLED).toLowerCase());
  if (disabled) return { enabled: false, shutdown: async () => undefined };
  const interval = metricExportIntervalMs();
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'sagewai-admin',
      [ATTR_SERVICE_NAMESPACE]: 'sagewai',
      [ATTR_SERVICE_VERSION]: opts.serviceVersion,
      [ATTR_SERVICE_INSTANCE_ID]: opts.instanceId,
    }),
    // OTEL_RESOURCE_ATTRIBUTES may add attributes; host/process detectors would add noise labels.
    resourceDetectors: [envDetector],
    metricReaders: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ temporalityPreference: AggregationTemporality.CUMULATIVE }),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, 30_000),
      }),
    ],
    logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter(), scheduledDelayMillis: 1000 })],
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1000 })],
    instrumentations: [],
  });
  sdk.start();
  let done: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown: () => {
      done ??= sdk.shutdown().catch(() => undefined);
      return done;
    },
  };
}
