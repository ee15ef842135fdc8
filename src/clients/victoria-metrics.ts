import { httpText } from './http-text.js';
import { UserError, describeCause } from '../errors.js';

/** Client for VictoriaMetrics' Prometheus-compatible query API (instant, range, series, labels). */

export interface InstantSample {
  metric: Record<string, string>;
  /** Sample value; NaN/±Inf are kept as such. */
  value: number;
  /** Unix seconds of the sample. */
  timestamp: number;
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<{ timestamp: number; value: number }>;
}

export interface VictoriaMetricsOptions {
  timeoutMs?: number;
}

/** A store answered, but refused the query (a syntax error, a limit). Not user-fixable. */
export class StoreQueryError extends Error {
  readonly status: number;
  readonly query: string;
  constructor(store: 'VictoriaMetrics' | 'VictoriaLogs', status: number, query: string, message: string) {
    super(`${store} rejected the query (${status}): ${message}\n  query: ${query}`);
    this.name = store === 'VictoriaMetrics' ? 'MetricsQueryError' : 'LogsQueryError';
    this.status = status;
    this.query = query;
  }
}

type Time = Date | number;
/** Unix seconds with millisecond precision, as the API takes it. */
const toSeconds = (t: Time): string => (typeof t === 'number' ? t : t.getTime() / 1000).toFixed(3);

export function parseSampleValue(raw: string): number {
  if (raw === '+Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(raw);
}

export class VictoriaMetricsClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: VictoriaMetricsOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /**
   * Instant query at `time` (default now). `nocache` so a just-scraped sample is never hidden by
   * the rollup cache. `extraFilters` are series selectors VictoriaMetrics adds to every selector
   * of the expression (its `extra_filters[]`), e.g. `{instance="…"}` to scope a catalog query to
   * one process without rewriting its text.
   */
  async query(expr: string, opts: { time?: Time; extraFilters?: readonly string[] } = {}): Promise<InstantSample[]> {
    const params = new URLSearchParams({ query: expr, nocache: '1' });
    if (opts.time !== undefined) params.set('time', toSeconds(opts.time));
    for (const f of opts.extraFilters ?? []) params.append('extra_filters[]', f);
    const data = await this.api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('/api/v1/query', params, expr);
    if (data.resultType === 'scalar') {
      const v = data.result as unknown as [number, string];
      return [{ metric: {}, timestamp: v[0], value: parseSampleValue(v[1]) }];
    }
    return data.result.map((r) => ({ metric: r.metric, timestamp: r.value[0], value: parseSampleValue(r.value[1]) }));
  }

  async queryRange(expr: string, opts: { start: Time; end: Time; step: string }): Promise<RangeSeries[]> {
    const data = await this.api<{ result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }>(
      '/api/v1/query_range',
      { query: expr, start: toSeconds(opts.start), end: toSeconds(opts.end), step: opts.step, nocache: '1' },
      expr,
    );
    return data.result.map((r) => ({ metric: r.metric, values: r.values.map(([t, v]) => ({ timestamp: t, value: parseSampleValue(v) })) }));
  }

  async series(match: readonly string[], opts: { start?: Time; end?: Time } = {}): Promise<Array<Record<string, string>>> {
    const params = new URLSearchParams();
    for (const m of match) params.append('match[]', m);
    if (opts.start !== undefined) params.set('start', toSeconds(opts.start));
    if (opts.end !== undefined) params.set('end', toSeconds(opts.end));
    return this.api<Array<Record<string, string>>>('/api/v1/series', params, match.join(' '));
  }

  async labelValues(label: string, opts: { match?: string } = {}): Promise<string[]> {
    const params = new URLSearchParams();
    if (opts.match) params.append('match[]', opts.match);
    return this.api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values`, params, label);
  }

  /** True when the store answers (see healthProbe). Never throws. */
  async healthy(): Promise<boolean> {
    return (await this.healthProbe()).ok;
  }

  /**
   * `/health` under the base URL, else a trivial query (`1`): a Prometheus-compatible base with a
   * path prefix (a cluster's `…/select/0/prometheus`, a proxy path) serves the query API but not
   * always `/health`. `via` is the URL that answered (or the last one tried). Never throws.
   */
  async healthProbe(): Promise<{ ok: boolean; via: string }> {
    const health = `${this.baseUrl}/health`;
    const query = `${this.baseUrl}/api/v1/query?query=1`;
    for (const url of [health, query]) {
      try {
        const res = await httpText(url, { method: 'GET', timeoutMs: 5000 });
        const text = res.text;
        if (res.statusCode === 200 && (url === health || /"status"\s*:\s*"success"/.test(text))) return { ok: true, via: url };
      } catch {
        // unreachable: the next probe says the same, or the caller reports it
      }
    }
    return { ok: false, via: health };
  }

  private async api<T>(path: string, params: Record<string, string> | URLSearchParams, what: string): Promise<T> {
    const body = (params instanceof URLSearchParams ? params : new URLSearchParams(params)).toString();
    const url = `${this.baseUrl}${path}`;
    let res;
    try {
      res = await httpText(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, timeoutMs: this.timeoutMs });
    } catch (err) {
      throw unreachable('VictoriaMetrics', this.baseUrl, err, '--vm-url', 'SAGEWAI_OBS_VM_URL');
    }
    const text = res.text;
    let json: { status?: string; data?: T; error?: string; errorType?: string } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (res.statusCode !== 200 || json?.status !== 'success') {
      if (res.statusCode === 404 || json === undefined) {
        throw new UserError(`${url} did not answer like VictoriaMetrics (HTTP ${res.statusCode})`, ['check --vm-url / SAGEWAI_OBS_VM_URL points at VictoriaMetrics (default port 8428)']);
      }
      throw new StoreQueryError('VictoriaMetrics', res.statusCode, what, json.error ?? text.slice(0, 300));
    }
    return json.data as T;
  }
}

/** The one wording for "a store is down", shared by both Victoria clients. */
export function unreachable(store: string, baseUrl: string, err: unknown, flag: string, env: string): UserError {
  return new UserError(`${store} at ${baseUrl} is unreachable: ${describeCause(err)}`, [
    'sagewai-obs up   (start the stack)',
    `sagewai-obs status   (see where it runs), or pass ${flag} / set ${env}`,
  ], { cause: err });
}
