import { request } from 'undici';
import { UserError } from '../errors.js';
import { StoreQueryError, unreachable } from './victoria-metrics.js';

/**
 * Client for VictoriaLogs' LogsQL API: `/select/logsql/query` (bounded by time and limit) and
 * `/select/logsql/tail` (live). Both answer JSON lines, one log record (or stats row) per line.
 */

/** One record: `_time`, `_msg`, `_stream` and every field, all as strings. */
export type LogRecord = Record<string, string>;

type Time = Date | number;
const toRfc3339 = (t: Time): string => (typeof t === 'number' ? new Date(t * 1000) : t).toISOString();

export function parseJsonLines(text: string): LogRecord[] {
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    const s = line.trim();
    if (s) out.push(JSON.parse(s) as LogRecord);
  }
  return out;
}

/**
 * JSON lines from a byte stream. The network cuts chunks anywhere, also inside a multi-byte
 * UTF-8 character (an "é" in a project name, an emoji in a message): the streaming TextDecoder
 * keeps the partial bytes until the rest arrives, where decoding each chunk alone would turn
 * both halves into U+FFFD.
 */
export class JsonLinesDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private buf = '';

  /** The records completed by this chunk. */
  push(chunk: Uint8Array): LogRecord[] {
    this.buf += this.decoder.decode(chunk, { stream: true });
    return this.take();
  }

  /** The last record when the stream ends without a newline. */
  end(): LogRecord[] {
    this.buf += this.decoder.decode();
    const out = this.take();
    const rest = this.buf.trim();
    this.buf = '';
    if (rest) out.push(JSON.parse(rest) as LogRecord);
    return out;
  }

  private take(): LogRecord[] {
    const out: LogRecord[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) out.push(JSON.parse(line) as LogRecord);
    }
    return out;
  }
}

/** The storage node a VictoriaLogs select node could not reach, from its error text (undefined: not that error). */
export function missingStorageNode(text: string): string | undefined {
  const m = /cannot (?:connect to|query) storage node at "?(https?:\/\/[^/"\s]+)/i.exec(text) ?? /storage node[^"]*"(https?:\/\/[^/"\s]+)/i.exec(text);
  return m?.[1];
}

export class VictoriaLogsClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  async query(logsql: string, opts: { start?: Time; end?: Time; limit?: number } = {}): Promise<LogRecord[]> {
    const params = new URLSearchParams({ query: logsql });
    if (opts.start !== undefined) params.set('start', toRfc3339(opts.start));
    if (opts.end !== undefined) params.set('end', toRfc3339(opts.end));
    if (opts.limit !== undefined) params.set('limit', String(opts.limit));
    const res = await this.send('/select/logsql/query', params, this.timeoutMs);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw this.failure(res.statusCode, logsql, text);
    return parseJsonLines(text);
  }

  /**
   * Live tail: calls onRecord for each new matching record until `signal` aborts.
   * `startOffset` (e.g. `5m`) replays that much history first. The query may not use pipes
   * that need all data (sort, limit, stats).
   */
  async tail(logsql: string, onRecord: (r: LogRecord) => void, opts: { signal: AbortSignal; startOffset?: string }): Promise<void> {
    const params = new URLSearchParams({ query: logsql });
    if (opts.startOffset) params.set('start_offset', opts.startOffset);
    const res = await this.send('/select/logsql/tail', params, 0, opts.signal);
    if (res.statusCode !== 200) throw this.failure(res.statusCode, logsql, await res.body.text());
    const lines = new JsonLinesDecoder();
    try {
      for await (const chunk of res.body) for (const r of lines.push(chunk as Uint8Array)) onRecord(r);
      for (const r of lines.end()) onRecord(r);
    } catch (err) {
      if (opts.signal.aborted) return;
      throw err;
    }
  }

  /** True when /health answers 200. Never throws. */
  async healthy(): Promise<boolean> {
    try {
      const res = await request(`${this.baseUrl}/health`, { method: 'GET', headersTimeout: 5000, bodyTimeout: 5000 });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  private async send(path: string, params: URLSearchParams, timeoutMs: number, signal?: AbortSignal) {
    try {
      return await request(`${this.baseUrl}${path}`, {
        method: 'POST',
        body: params.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        headersTimeout: timeoutMs || 30_000,
        bodyTimeout: timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw unreachable('VictoriaLogs', this.baseUrl, err, '--vl-url', 'SAGEWAI_OBS_VL_URL');
    }
  }

  private failure(status: number, logsql: string, text: string): Error {
    const missing = missingStorageNode(text);
    if (missing) {
      // A cluster's select node with a storage node down refuses to answer (no
      // -search.allowPartialResponse): say which node, never show half the logs as the whole.
      return new UserError(`VictoriaLogs at ${this.baseUrl} cannot answer completely: its storage node ${missing} is unavailable, so no (partial) result is shown`, [
        'sagewai-obs status   (see which storage node is down), then bring it back: sagewai-obs down && sagewai-obs up --profile cluster',
        'logs written meanwhile went to the other storage node; they are all readable once the node is back',
      ]);
    }
    if (status === 404) return new UserError(`${this.baseUrl} did not answer like VictoriaLogs (HTTP 404)`, 'check --vl-url / SAGEWAI_OBS_VL_URL points at VictoriaLogs (default port 9428)');
    return new StoreQueryError('VictoriaLogs', status, logsql, text.trim().slice(0, 300));
  }
}
