import { parentPort } from 'node:worker_threads';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { LogRecordMessage, ScopeMessage, SpanMessage, ToWorker } from './telemetry-offload.js';

/**
 * The OTLP span and log exporters, on a worker thread (see telemetry-offload.ts): the request
 * thread hands over plain records in batches; this thread rebuilds what the OTLP transformer
 * reads, encodes protobuf and POSTs, one export per signal at a time, up to MAX_BATCH records
 * each, in arrival order. Exporter settings come from the same OTEL_* variables as before (a
 * worker sees the process's environment).
 */
const MAX_BATCH = 512;
const port = parentPort;
if (!port) throw new Error('telemetry-export-worker must run as a worker thread');

interface Exporter<T> {
  export(items: T[], done: (r: ExportResult) => void): void;
  forceFlush?(): Promise<void>;
  shutdown(): Promise<void>;
}

/** One signal's queue: exports in order, one at a time; drained() resolves when nothing is queued or in flight. */
class Queue<T> {
  private readonly items: T[] = [];
  private exporting = false;
  private waiters: Array<() => void> = [];
  constructor(private readonly exporter: Exporter<T>) {}

  push(xs: T[]): void {
    for (const x of xs) this.items.push(x);
    this.pump();
  }

  private pump(): void {
    if (this.exporting) return;
    if (this.items.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      return;
    }
    this.exporting = true;
    const batch = this.items.splice(0, MAX_BATCH);
    // A failed export is lost as with the SDK's batch processor (which reports it through diag and
    // goes on); the exporter has already retried what is retryable.
    this.exporter.export(batch, () => {
      this.exporting = false;
      this.pump();
    });
  }

  drained(): Promise<void> {
    if (!this.exporting && this.items.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async flush(): Promise<void> {
    await this.drained();
    await this.exporter.forceFlush?.();
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}

const resources = new Map<number, Resource>();
const scopes = new Map<string, { name: string; version?: string; schemaUrl?: string }>();

function scopeOf(m: ScopeMessage): { name: string; version?: string; schemaUrl?: string } {
  const key = `${m.name}@${m.version ?? ''}:${m.schemaUrl ?? ''}`;
  let s = scopes.get(key);
  if (s === undefined) {
    s = { name: m.name, ...(m.version !== undefined ? { version: m.version } : {}), ...(m.schemaUrl !== undefined ? { schemaUrl: m.schemaUrl } : {}) };
    scopes.set(key, s);
  }
  return s;
}

const traceState = (s: string | undefined): { serialize(): string } | undefined => (s === undefined ? undefined : { serialize: () => s });

function toSpan(m: SpanMessage, resource: Resource, scope: ReturnType<typeof scopeOf>): ReadableSpan {
  const ctx = { traceId: m.traceId, spanId: m.spanId, traceFlags: m.traceFlags, traceState: traceState(m.traceState) };
  const span = {
    name: m.name,
    kind: m.kind,
    spanContext: () => ctx,
    parentSpanContext: m.parentSpanId === undefined ? undefined : { traceId: m.traceId, spanId: m.parentSpanId, traceFlags: m.traceFlags, isRemote: m.parentIsRemote },
    startTime: m.startTime,
    endTime: m.endTime,
    status: m.status,
    attributes: m.attributes,
    links: m.links.map((l) => ({ context: { ...l.context, traceState: traceState(l.context.traceState) }, attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount })),
    events: m.events,
    duration: m.duration,
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: m.droppedAttributesCount,
    droppedEventsCount: m.droppedEventsCount,
    droppedLinksCount: m.droppedLinksCount,
  };
  return span as unknown as ReadableSpan;
}

function toLog(m: LogRecordMessage, resource: Resource, scope: ReturnType<typeof scopeOf>): ReadableLogRecord {
  return { ...m, resource, instrumentationScope: scope } as unknown as ReadableLogRecord;
}

const spans = new Queue<ReadableSpan>(new OTLPTraceExporter());
const logRecords = new Queue<ReadableLogRecord>(new OTLPLogExporter());

port.on('message', (text: string) => {
  const msg = JSON.parse(text) as ToWorker;
  switch (msg.kind) {
    case 'resource':
      resources.set(msg.id, resourceFromAttributes(msg.attributes));
      return;
    case 'spans': {
      const resource = resources.get(msg.resource) as Resource;
      const sc = msg.scopes.map(scopeOf);
      spans.push(msg.records.map((r) => toSpan(r, resource, sc[r.scope] as ReturnType<typeof scopeOf>)));
      return;
    }
    case 'logs': {
      const resource = resources.get(msg.resource) as Resource;
      const sc = msg.scopes.map(scopeOf);
      logRecords.push(msg.records.map((r) => toLog(r, resource, sc[r.scope] as ReturnType<typeof scopeOf>)));
      return;
    }
    case 'flush':
      void Promise.all([spans.flush(), logRecords.flush()]).finally(() => port.postMessage({ kind: 'flushed', id: msg.id }));
      return;
    case 'shutdown':
      void Promise.all([spans.flush(), logRecords.flush()])
        .then(() => Promise.all([spans.shutdown(), logRecords.shutdown()]))
        .finally(() => port.postMessage({ kind: 'flushed', id: msg.id }));
      return;
  }
});
