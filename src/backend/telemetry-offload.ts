import { Worker } from 'node:worker_threads';
import { TraceFlags, type Attributes, type HrTime, type SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { LogRecordProcessor, ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Span and log export off the request thread. The SDK's batch processors encode OTLP protobuf and
 * send it on the thread that serves requests, and keep every ended span and emitted log record
 * alive until its batch goes (up to a second), so the young-generation GC copies and promotes
 * them. Here a processor copies each record into a plain object (what the OTLP transformer
 * reads, nothing else) and hands a batch to a worker thread (telemetry-export-worker.ts) every
 * BATCH records or HANDOVER_MS; the worker rebuilds the records and runs the same OTLP/HTTP
 * exporters. Every record is exported, in order; forceFlush() and shutdown() resolve only after
 * the worker has sent everything handed over before the call (what `run-example --verify` and
 * `serve`'s stop rely on). The SDK (spans, log records, sampling, limits) is unchanged.
 */
const BATCH = 256;
const HANDOVER_MS = 200;
/** A flush that the worker does not confirm in this time resolves anyway (the exporters time out after 10 s each). */
const FLUSH_TIMEOUT_MS = 30_000;

export interface ScopeMessage {
  name: string;
  version?: string | undefined;
  schemaUrl?: string | undefined;
}
interface LinkMessage {
  context: { traceId: string; spanId: string; traceFlags: number; isRemote?: boolean | undefined; traceState?: string | undefined };
  attributes?: Attributes | undefined;
  droppedAttributesCount?: number | undefined;
}
export interface SpanMessage {
  scope: number;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState: string | undefined;
  parentSpanId: string | undefined;
  parentIsRemote: boolean | undefined;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  events: ReadableSpan['events'];
  links: LinkMessage[];
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
}
export interface LogRecordMessage {
  scope: number;
  hrTime: HrTime;
  hrTimeObserved: HrTime;
  spanContext: { traceId: string; spanId: string; traceFlags: number } | undefined;
  severityText: string | undefined;
  severityNumber: number | undefined;
  body: ReadWriteLogRecord['body'];
  eventName: string | undefined;
  attributes: ReadWriteLogRecord['attributes'];
  droppedAttributesCount: number;
}
export type ToWorker =
  | { kind: 'resource'; id: number; attributes: Attributes }
  | { kind: 'spans'; resource: number; scopes: ScopeMessage[]; records: SpanMessage[] }
  | { kind: 'logs'; resource: number; scopes: ScopeMessage[]; records: LogRecordMessage[] }
  | { kind: 'flush' | 'shutdown'; id: number };

interface Pending<T> {
  resource: Resource | undefined;
  scopes: Map<object, number>;
  scopeList: ScopeMessage[];
  records: T[];
}
const pending = <T>(): Pending<T> => ({ resource: undefined, scopes: new Map(), scopeList: [], records: [] });

/** The main thread's end: buffers, hands batches over, and waits for flushes. One per SDK. */
export class OffloadedExport {
  private readonly worker: Worker;
  private readonly pend: { spans: Pending<SpanMessage>; logs: Pending<LogRecordMessage> } = { spans: pending(), logs: pending() };
  private readonly resourceIds = new Map<Resource, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<number, () => void>();
  private nextId = 1;
  private dead = false;
  private stopped: Promise<void> | undefined;

  constructor() {
    this.worker = new Worker(new URL('./telemetry-export-worker.js', import.meta.url));
    // Idle, the worker does not keep `serve` alive; flush/shutdown hold a reference while they wait.
    this.worker.unref();
    this.worker.on('message', (m: { kind: 'flushed'; id: number }) => this.settle(m.id));
    this.worker.on('error', (err) => {
      process.stderr.write(`[sagewai-admin] telemetry export worker failed: ${err.stack ?? String(err)}\n`);
      this.dead = true;
      for (const id of [...this.waiting.keys()]) this.settle(id);
    });
  }

  readonly spanProcessor: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => this.addSpan(span),
    forceFlush: () => this.flush(),
    shutdown: () => this.shutdown(),
  };

  readonly logRecordProcessor: LogRecordProcessor = {
    onEmit: (r) => this.addLog(r),
    forceFlush: () => this.flush(),
    shutdown: () => this.shutdown(),
  };

  private addSpan(span: ReadableSpan): void {
    if (this.stopped || this.dead) return;
    const ctx = span.spanContext();
    // As the SDK's batch processor: only sampled spans are exported.
    if ((ctx.traceFlags & TraceFlags.SAMPLED) === 0) return;
    const p = this.batchFor('spans', span.resource);
    const parent = span.parentSpanContext;
    p.records.push({
      scope: this.scopeIndex(p, span.instrumentationScope),
      name: span.name,
      kind: span.kind,
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      traceFlags: ctx.traceFlags,
      traceState: ctx.traceState?.serialize(),
      parentSpanId: parent?.spanId,
      parentIsRemote: parent?.isRemote,
      startTime: span.startTime,
      endTime: span.endTime,
      duration: span.duration,
      status: span.status,
      attributes: span.attributes,
      events: span.events,
      links: span.links.length === 0 ? [] : span.links.map((l) => ({ context: { traceId: l.context.traceId, spanId: l.context.spanId, traceFlags: l.context.traceFlags, isRemote: l.context.isRemote, traceState: l.context.traceState?.serialize() }, attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount })),
      droppedAttributesCount: span.droppedAttributesCount,
      droppedEventsCount: span.droppedEventsCount,
      droppedLinksCount: span.droppedLinksCount,
    });
    this.added(p);
  }

  private addLog(r: ReadWriteLogRecord): void {
    if (this.stopped || this.dead) return;
    const p = this.batchFor('logs', r.resource);
    const sc = r.spanContext;
    p.records.push({
      scope: this.scopeIndex(p, r.instrumentationScope),
      hrTime: r.hrTime,
      hrTimeObserved: r.hrTimeObserved,
      spanContext: sc ? { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags } : undefined,
      severityText: r.severityText,
      severityNumber: r.severityNumber,
      body: r.body,
      eventName: r.eventName,
      attributes: r.attributes,
      droppedAttributesCount: r.droppedAttributesCount,
    });
    this.added(p);
  }

  /** The pending batch of a signal; a record of another resource than the batch's sends the batch first. */
  private batchFor<K extends 'spans' | 'logs'>(kind: K, resource: Resource): OffloadedExport['pend'][K] {
    if (this.pend[kind].resource !== resource) {
      if (this.pend[kind].records.length > 0) this.handOver();
      if (!this.resourceIds.has(resource)) {
        const id = this.resourceIds.size + 1;
        this.resourceIds.set(resource, id);
        this.post({ kind: 'resource', id, attributes: resource.attributes });
      }
      this.pend[kind].resource = resource;
    }
    return this.pend[kind];
  }

  private scopeIndex<T>(p: Pending<T>, scope: { name: string; version?: string | undefined; schemaUrl?: string | undefined }): number {
    let i = p.scopes.get(scope);
    if (i === undefined) {
      i = p.scopeList.length;
      p.scopeList.push({ name: scope.name, version: scope.version, schemaUrl: scope.schemaUrl });
      p.scopes.set(scope, i);
    }
    return i;
  }

  private added<T>(p: Pending<T>): void {
    if (p.records.length >= BATCH) this.handOver();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.handOver(), HANDOVER_MS);
      this.timer.unref();
    }
  }

  /** Posts both signals' pending records to the worker. */
  private handOver(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const s = this.pend.spans;
    if (s.records.length > 0 && s.resource) {
      this.post({ kind: 'spans', resource: this.resourceIds.get(s.resource) as number, scopes: s.scopeList, records: s.records });
      this.pend.spans = { ...pending<SpanMessage>(), resource: s.resource };
    }
    const l = this.pend.logs;
    if (l.records.length > 0 && l.resource) {
      this.post({ kind: 'logs', resource: this.resourceIds.get(l.resource) as number, scopes: l.scopeList, records: l.records });
      this.pend.logs = { ...pending<LogRecordMessage>(), resource: l.resource };
    }
  }

  private post(m: ToWorker): void {
    // As JSON text: V8 serialises plain objects to JSON faster than it structured-clones them
    // (key strings are written once per object either way, but JSON.stringify is the tuned path),
    // and a string crosses to the worker as one flat copy. Record values are strings, finite
    // numbers, booleans and arrays of them (the SDK's attribute rules), so JSON keeps them exactly.
    if (!this.dead) this.worker.postMessage(JSON.stringify(m));
  }

  private request(kind: 'flush' | 'shutdown'): Promise<void> {
    this.handOver();
    if (this.dead) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.settle(id), FLUSH_TIMEOUT_MS);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.ref();
      this.post({ kind, id });
    });
  }

  private settle(id: number): void {
    const f = this.waiting.get(id);
    if (!f) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    f();
  }

  flush(): Promise<void> {
    return this.stopped ?? this.request('flush');
  }

  /** Sends everything, shuts the exporters down and stops the worker; safe to call twice (span and log providers both call it). */
  shutdown(): Promise<void> {
    this.stopped ??= this.request('shutdown').then(() => this.worker.terminate().then(() => undefined));
    return this.stopped;
  }
}
