import { ROOT_CONTEXT, SpanKind, SpanStatusCode, propagation, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, METRIC_HTTP_SERVER_REQUEST_DURATION } from '@opentelemetry/semantic-conventions';
import { ATTR_SAGEWAI_BOOT_ID, BOOT_ID } from './boot-id.js';
import { histograms, type HistogramSeries } from './histograms.js';
import * as sc from './semconv.js';

/**
 * The telemetry of one finished HTTP request: its server span and its two HTTP histograms
 * (http.server.request.duration, http.server.response.body.size). Names, units and attributes
 * are CONTRACT.md's.
 *
 * The server (server.ts) only describes a finished request (`FinishedRequest`, plain data) and
 * hands it to `finishedRequest`. By default that records it at once, in this thread, with
 * whatever tracer provider is global and the histograms of histograms.ts (through the global
 * meter provider until serve's SDK set-up takes them over). `serve` with telemetry on sends the
 * descriptions to a worker thread instead (telemetry.ts, telemetry-worker.ts), which records
 * them with this same `recordFinishedRequest`: the span and histogram work, most of telemetry's
 * cost per request, then runs beside the request thread instead of on it.
 *
 * No OpenTelemetry object is created before the SDK is registered: the tracer (and a histogram's
 * API instrument) is taken on first use (this module is imported by server.ts, in both threads).
 */
export interface FinishedRequest {
  method: string;
  /** The route template; absent when no route matched. */
  route?: string | undefined;
  /** The request path (the span's url.path). */
  path: string;
  /** When the request arrived, ms since the epoch (fractional). */
  startMs: number;
  /** Arrival to the end of the response, seconds. */
  seconds: number;
  bodyBytes: number;
  status: number;
  project?: string | undefined;
  actor?: string | undefined;
  /** The error code of a 5xx answer (span status message). */
  errCode?: string | undefined;
  /** The W3C trace-context headers the request came with (the span's parent). */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/** Bucket bounds of every duration histogram of the backend, seconds. */
export const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30];

// The tracer is taken on first use, after serve registered its SDK.
let cachedTracer: Tracer | undefined;
const tracer = (): Tracer => (cachedTracer ??= trace.getTracer('sagewai-admin'));
// Aggregated by histograms.ts, without the SDK's attribute hashing on each of the two records.
const duration = histograms.histogram(METRIC_HTTP_SERVER_REQUEST_DURATION, { unit: 's', description: 'Duration of HTTP server requests.', boundaries: SECONDS_BUCKETS });
const responseSize = histograms.histogram(sc.METRIC_HTTP_SERVER_RESPONSE_BODY_SIZE, { unit: 'By', description: 'Size of HTTP server response bodies.', boundaries: [0, 100, 1000, 10_000, 100_000, 1_000_000] });

/** The attributes of a (method, route): the span's first ones, and http.server.active_requests'. */
export function routeAttributes(method: string, route: string | undefined): Attributes {
  return route === undefined ? { [ATTR_HTTP_REQUEST_METHOD]: method } : { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_HTTP_ROUTE]: route };
}

/**
 * The HTTP histograms of one (method, route). Every request pays for these, so the series of each
 * (status, project), with its attribute set and the boot id, is looked up once and kept.
 */
class RouteSeries {
  readonly attributes: Attributes;
  private readonly finished = new Map<string, { duration: HistogramSeries; responseSize: HistogramSeries }>();

  constructor(
    private readonly key: string,
    method: string,
    route: string | undefined,
  ) {
    this.attributes = routeAttributes(method, route);
  }

  record(seconds: number, bodyBytes: number, status: number, project: string | undefined): void {
    const key = project === undefined ? String(status) : `${status} ${project}`;
    let s = this.finished.get(key);
    if (s === undefined) {
      const attrs = this.finishedAttributes(status, project);
      attrs[ATTR_SAGEWAI_BOOT_ID] = BOOT_ID;
      // The histogram's key: this route's, then status and project (a project has no space).
      const full = `${this.key}\u0000${key}`;
      s = { duration: duration.seriesOf(full, () => attrs), responseSize: responseSize.seriesOf(full, () => attrs) };
      this.finished.set(key, s);
    }
    s.duration.record(seconds);
    s.responseSize.record(bodyBytes);
  }

  private finishedAttributes(status: number, project: string | undefined): Attributes {
    const attrs: Attributes = { ...this.attributes, [ATTR_HTTP_RESPONSE_STATUS_CODE]: status };
    if (project !== undefined) attrs[sc.ATTR_SAGEWAI_PROJECT_ID] = project;
    if (status >= 500) attrs['error.type'] = String(status);
    return attrs;
  }
}

const routeSeries = new Map<string, RouteSeries>();
function seriesOf(method: string, route: string | undefined): RouteSeries {
  const key = route === undefined ? method : `${method} ${route}`;
  let s = routeSeries.get(key);
  if (s === undefined) {
    s = new RouteSeries(key, method, route);
    routeSeries.set(key, s);
  }
  return s;
}

/** Records a finished request: its server span (with its arrival and end times) and HTTP histograms. */
export function recordFinishedRequest(r: FinishedRequest): void {
  const series = seriesOf(r.method, r.route);
  const carrier: Record<string, string> = {};
  if (r.traceparent !== undefined) carrier.traceparent = r.traceparent;
  if (r.tracestate !== undefined) carrier.tracestate = r.tracestate;
  const parent = r.traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, carrier);
  const attributes: Attributes = { ...series.attributes, 'url.path': r.path, [ATTR_HTTP_RESPONSE_STATUS_CODE]: r.status };
  if (r.project) attributes[sc.ATTR_SAGEWAI_PROJECT_ID] = r.project;
  if (r.actor) attributes['sagewai.actor'] = r.actor;
  const span = tracer().startSpan(`${r.method} ${r.route ?? ''}`.trim(), { kind: SpanKind.SERVER, attributes, startTime: r.startMs }, parent);
  if (r.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: r.errCode ?? String(r.status) });
  span.end(r.startMs + r.seconds * 1000);
  series.record(r.seconds, r.bodyBytes, r.status, r.project || undefined);
}

/**
 * Finished requests travel to the worker as one flat array of their fields per batch: cloning
 * plain values across threads costs less than cloning an object (keys included) per request.
 */
const FIELDS = 12;

export function appendFinishedRequest(batch: unknown[], r: FinishedRequest): void {
  batch.push(r.method, r.route, r.path, r.startMs, r.seconds, r.bodyBytes, r.status, r.project, r.actor, r.errCode, r.traceparent, r.tracestate);
}

/** Records every request of a batch made by appendFinishedRequest. */
export function recordFinishedBatch(batch: unknown[]): void {
  for (let i = 0; i + FIELDS <= batch.length; i += FIELDS) {
    const [method, route, path, startMs, seconds, bodyBytes, status, project, actor, errCode, traceparent, tracestate] = batch.slice(i, i + FIELDS) as [string, string | undefined, string, number, number, number, number, string | undefined, string | undefined, string | undefined, string | undefined, string | undefined];
    recordFinishedRequest({ method, route, path, startMs, seconds, bodyBytes, status, project, actor, errCode, traceparent, tracestate });
  }
}

let sink: ((r: FinishedRequest) => void) | undefined;

/** Where finished requests go instead of being recorded in this thread (undefined: back to recording here). */
export function setFinishedRequestSink(fn: ((r: FinishedRequest) => void) | undefined): void {
  sink = fn;
}

/** The server's one call per finished request. */
export function finishedRequest(r: FinishedRequest): void {
  if (sink !== undefined) sink(r);
  else recordFinishedRequest(r);
}
