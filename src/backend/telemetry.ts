import { Worker } from 'node:worker_threads';
import { ROOT_CONTEXT, type Context, type ContextManager } from '@opentelemetry/api';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { AggregationTemporality, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME, ATTR_SERVICE_NAMESPACE, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { BOOT_ID } from './boot-id.js';
import { histograms } from './histograms.js';
import { setExportSoonHandler } from './export-soon.js';
import { appendFinishedRequest, setFinishedRequestSink } from './http-telemetry.js';

/**
 * The only file that wires the OpenTelemetry SDK (STYLE 4): OTLP/HTTP protobuf exporters for
 * metrics (cumulative), logs and traces. Endpoints, headers, timeouts and OTEL_SDK_DISABLED come
 * from the standard OTEL_* variables. Must run before src/backend/instruments.ts is imported.
 *
 * Two SDKs with the same resource: this thread's (every metric but the HTTP histograms, the
 * logs) and the telemetry worker's (telemetry-worker.ts: the HTTP server spans and the HTTP
 * histograms, recorded from the finished requests this thread sends it in batches).
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

/**
 * Used instead of the SDK's default AsyncLocalStorage context manager. Nothing in the backend
 * needs an implicit context to follow it across awaits: server spans take their parent
 * explicitly (propagation.extract), logs are emitted outside any span's scope, and there are no
 * auto-instrumentations (the only readers of the exporters' suppressTracing context). On Node 20
 * AsyncLocalStorage installs promise hooks once the exporters first call context.with(), and
 * from then on every promise of every request pays for them (about a tenth of telemetry's CPU
 * cost in a profile under example 43's mix). This keeps context.with() exact for the
 * synchronous extent of its callback, which is all the SDK's own calls need.
 */
class SynchronousContextManager implements ContextManager {
  private current: Context = ROOT_CONTEXT;

  active(): Context {
    return this.current;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(context: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    const previous = this.current;
    this.current = context;
    try {
      return fn.call(thisArg, ...args);
    } finally {
      this.current = previous;
    }
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (thisArg: unknown, args: unknown[]): unknown => this.with(context, () => Reflect.apply(target, thisArg, args));
    return function bound(this: unknown, ...args: unknown[]): unknown {
      return run(this, args);
    } as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.current = ROOT_CONTEXT;
    return this;
  }
}

/** How long an early export waits for the rest of the same change (a run moves cost, tokens and calls together). */
export const EARLY_EXPORT_DELAY_MS = 100;

/**
 * Early exports for new series (src/backend/export-soon.ts): one forceFlush EARLY_EXPORT_DELAY_MS
 * after the first hint, covering every hint until it starts. Values are cumulative, so an extra
 * export never changes a number, only when the collector sees it.
 */
export function earlyExports(reader: Pick<PeriodicExportingMetricReader, 'forceFlush'>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  setExportSoonHandler(() => {
    if (timer !== undefined || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      reader.forceFlush().catch(() => undefined);
    }, EARLY_EXPORT_DELAY_MS);
    timer.unref();
  });
  return {
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      setExportSoonHandler(undefined);
    },
  };
}

/** The resource and exporters both SDKs share; `logs` only for this thread's. */
export function createSdk(opts: Pick<TelemetryOptions, 'serviceVersion' | 'instanceId'>, parts: { logs: boolean }): { sdk: NodeSDK; metricReader: PeriodicExportingMetricReader } {
  const interval = metricExportIntervalMs();
  const metricReader = new PeriodicExportingMetricReader({
    exporter: new OTLPMetricExporter({ temporalityPreference: AggregationTemporality.CUMULATIVE }),
    exportIntervalMillis: interval,
    exportTimeoutMillis: Math.min(interval, 30_000),
    // The histograms of this thread (histograms.ts), exported with the SDK's own instruments.
    metricProducers: [histograms],
  });
  histograms.enable();
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'sagewai-admin',
      [ATTR_SERVICE_NAMESPACE]: 'sagewai',
      [ATTR_SERVICE_VERSION]: opts.serviceVersion,
      [ATTR_SERVICE_INSTANCE_ID]: opts.instanceId,
    }),
    // OTEL_RESOURCE_ATTRIBUTES may add attributes; host/process detectors would add noise labels.
    resourceDetectors: [envDetector],
    metricReaders: [metricReader],
    logRecordProcessors: parts.logs ? [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter(), scheduledDelayMillis: 1000 })] : [],
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1000 })],
    instrumentations: [],
    contextManager: new SynchronousContextManager(),
  });
  return { sdk, metricReader };
}

/** Finished requests per message to the worker at most, and the longest a request waits to be sent. */
const BATCH_MAX = 512;
const BATCH_MS = 50;

/**
 * Starts the telemetry worker and sends it this thread's finished requests. If the worker fails
 * to start or dies, requests are recorded in this thread again from then on (its SDK has the same
 * exporters), so a dead worker loses at most the batch it had not recorded yet.
 */
function startWorker(opts: TelemetryOptions): { stop(): Promise<void> } {
  const worker = new Worker(new URL('./telemetry-worker.js', import.meta.url), { workerData: { bootId: BOOT_ID, serviceVersion: opts.serviceVersion, instanceId: opts.instanceId } });
  let batch: unknown[] = [];
  let count = 0;
  let alive = true;
  const send = (): void => {
    if (count === 0 || !alive) return;
    worker.postMessage(batch);
    batch = [];
    count = 0;
  };
  const timer = setInterval(send, BATCH_MS);
  timer.unref();
  worker.unref();
  const fallBack = (why: string): void => {
    if (!alive) return;
    alive = false;
    clearInterval(timer);
    setFinishedRequestSink(undefined);
    process.stderr.write(`[sagewai-admin] telemetry worker ${why}; recording HTTP spans and metrics on the request thread from now on\n`);
  };
  worker.on('error', (err) => fallBack(`failed: ${err.message}`));
  worker.on('exit', (code) => fallBack(`exited (code ${code})`));
  setFinishedRequestSink((r) => {
    appendFinishedRequest(batch, r);
    if (++count >= BATCH_MAX) send();
  });
  return {
    stop: async () => {
      if (!alive) return;
      send();
      clearInterval(timer);
      setFinishedRequestSink(undefined);
      alive = false;
      worker.removeAllListeners('exit');
      // The worker flushes its exporters, answers, and is then ended; until then it keeps this process alive.
      worker.ref();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 30_000);
        t.unref();
        worker.once('message', () => {
          clearTimeout(t);
          resolve();
        });
        worker.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        worker.postMessage({ shutdown: true });
      });
      await worker.terminate();
    },
  };
}

export function startTelemetry(opts: TelemetryOptions): Telemetry {
  const disabled = !opts.enabled || ['true', '1'].includes(String(process.env.OTEL_SDK_DISABLED).toLowerCase());
  if (disabled) return { enabled: false, shutdown: async () => undefined };
  const { sdk, metricReader } = createSdk(opts, { logs: true });
  sdk.start();
  const early = earlyExports(metricReader);
  const worker = startWorker(opts);
  let done: Promise<void> | undefined;
  return {
    enabled: true,
    shutdown: () => {
      early.stop();
      done ??= (async () => {
        await worker.stop().catch(() => undefined);
        await sdk.shutdown().catch(() => undefined);
      })();
      return done;
    },
  };
}
