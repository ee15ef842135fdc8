import { request } from 'undici';
import { UserError } from '../errors.js';
import { unreachable } from './victoria-metrics.js';

/** Client for vmalert's HTTP API: the alerts it holds and the health of every rule. */

export interface VmAlert {
  name: string;
  state: 'firing' | 'pending' | 'inactive';
  /** The value of the expression when last evaluated. */
  value: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** When the condition first held (RFC 3339). */
  activeAt: string;
  group: string;
}

export interface VmRule {
  name: string;
  group: string;
  type: 'alerting' | 'recording';
  query: string;
  health: 'ok' | 'err' | string;
  lastError: string;
  lastEvaluation: string;
  state?: string;
}

interface RawAlert {
  name: string;
  state: string;
  value: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  activeAt: string;
  group_id?: string;
  group_name?: string;
}

interface RawGroup {
  name: string;
  id?: string;
  rules?: Array<{ name: string; type: string; query: string; health: string; lastError?: string; lastEvaluation: string; state?: string }>;
}

export class VmalertClient {
  readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Firing and pending alerts, across every group. */
  async alerts(): Promise<VmAlert[]> {
    const [data, groups] = await Promise.all([this.get<{ alerts?: RawAlert[] }>('/api/v1/alerts'), this.get<{ groups?: RawGroup[] }>('/api/v1/rules')]);
    const groupName = new Map((groups.groups ?? []).map((g) => [g.id ?? '', g.name]));
    return (data.alerts ?? []).map((a) => ({
      name: a.name,
      state: a.state === 'firing' || a.state === 'pending' ? a.state : 'inactive',
      value: Number(a.value),
      labels: a.labels ?? {},
      annotations: a.annotations ?? {},
      activeAt: a.activeAt,
      group: a.group_name ?? groupName.get(a.group_id ?? '') ?? '',
    }));
  }

  /** Every loaded rule with its last evaluation and error. */
  async rules(): Promise<VmRule[]> {
    const data = await this.get<{ groups?: RawGroup[] }>('/api/v1/rules');
    return (data.groups ?? []).flatMap((g) =>
      (g.rules ?? []).map((r) => ({
        name: r.name,
        group: g.name,
        type: r.type === 'recording' ? 'recording' : 'alerting',
        query: r.query,
        health: r.health,
        lastError: r.lastError ?? '',
        lastEvaluation: r.lastEvaluation,
        ...(r.state ? { state: r.state } : {}),
      })),
    );
  }

  private async get<T>(path: string): Promise<T> {
    const url = `${this.baseUrl}${path}`;
    let res;
    try {
      res = await request(url, { method: 'GET', headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    } catch (err) {
      throw unreachable('vmalert', this.baseUrl, err, '--vmalert-url', 'SAGEWAI_OBS_VMALERT_URL');
    }
    const text = await res.body.text();
    let json: { status?: string; data?: T } | undefined;
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      json = undefined;
    }
    if (res.statusCode !== 200 || json?.status !== 'success' || json.data === undefined) {
      throw new UserError(`${url} did not answer like vmalert (HTTP ${res.statusCode})`, ['check --vmalert-url / SAGEWAI_OBS_VMALERT_URL points at vmalert (default port 8880)', 'sagewai-obs status']);
    }
    return json.data;
  }
}
