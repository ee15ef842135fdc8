import { Pool } from 'undici';
import type { z } from 'zod';
import type { Agent, ApiErrorBody, BudgetLimit, BudgetScope, BudgetStatus, BudgetWindow, CostReport, FleetTask, FleetWorker, HealthSummary, LiveState, Project, RegisteredWorker, RunFinished, RunList, User } from '../contract/index.js';
import type { requests, responses } from '../contract/index.js';
import { UserError, describeCause } from '../errors.js';
import { resolveEndpoints, type EndpointFlagValues } from './endpoints.js';
import { SseParser, type SseEvent } from './sse.js';

/**
 * Typed client for the admin backend (`sagewai-obs serve`). One keep-alive connection pool per
 * client; every non-2xx answer throws BackendApiError carrying the JSON error body.
 * Names here are a contract used by examples, hud, verify and budget: keep them stable.
 */

export class BackendApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly body: unknown;
  /** Seconds from a Retry-After header, when the server sent one. */
  readonly retryAfterSeconds: number | undefined;
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, status: number, body: unknown, retryAfterSeconds?: number) {
    const err = (body as Partial<ApiErrorBody> | undefined)?.error;
    const code = typeof err?.code === 'string' ? err.code : `http_${status}`;
    const msg = typeof err?.message === 'string' ? err.message : typeof body === 'string' ? body.slice(0, 200) : 'request failed';
    super(`${method} ${path} → ${status} ${code}: ${msg}`);
    this.name = 'BackendApiError';
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfterSeconds = retryAfterSeconds;
    this.method = method;
    this.path = path;
  }
}

// Wire types come from the contract (src/contract), the same zod schemas the server answers with.
export type { Agent, ApiErrorBody, BudgetAction, BudgetLimit, BudgetScope, BudgetStatus, BudgetWindow, CostGroup, CostReport, FleetTask, FleetWorker, HealthSummary, LiveState, Project, RegisteredWorker, RunFinished, RunItem, RunList, RunUsage, User } from '../contract/index.js';

export type LoginResult = z.infer<typeof responses.loginResult>;
/** An agent to create; max_output_tokens is the worst-case output a run reserves budget for. */
export type AgentSpec = z.input<typeof requests.agentBody>;
/**
 * One run: `model` overrides the agent's for this call; user and team are the budget subjects
 * besides the project; `simulate` steers the simulated provider (exact token counts for fixed
 * workloads such as example 34, or a forced failure).
 */
export type RunRequest = z.input<typeof requests.runBody>;
export type WorkerRegistration = z.input<typeof requests.registerBody>;
/** subject: the project slug for scope=project (defaults to the selected project), else the team or user name. */
export type BudgetLimitInput = z.input<typeof requests.budgetBody>;
export type SetupInput = z.input<typeof requests.setupBody>;

export type RunEvent = { [K in keyof typeof responses.runEvents]: { type: K; data: z.infer<(typeof responses.runEvents)[K]> } }[keyof typeof responses.runEvents];

export interface WorkerCredentials {
  worker_id: string;
  worker_secret: string;
}

export interface CostQuery {
  from?: string | Date;
  to?: string | Date;
  group_by?: Array<'project' | 'model' | 'agent' | 'provider' | 'token_type'>;
  project?: string;
}

export interface BackendClientOptions {
  baseUrl: string;
  /** Bearer token (login's access_token, a project token or the operator token). */
  token?: string | undefined;
  /** Default project slug sent as X-Project-ID on tenant routes. */
  project?: string | undefined;
  /** Per-request timeout (headers and body), default 30 s. */
  timeoutMs?: number;
  /** Keep-alive connections to the backend, default 32. */
  connections?: number;
}

type Query = Record<string, string | number | boolean | undefined | string[]>;

interface RequestOptions {
  query?: Query | undefined;
  body?: unknown;
  headers?: Record<string, string> | undefined;
  project?: string | undefined;
  /** Treat these statuses as success (e.g. 204 on claim). */
  okStatuses?: number[];
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

function toQuery(q: Query | undefined): string {
  if (!q) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.append(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class BackendClient {
  readonly baseUrl: string;
  private token: string | undefined;
  private project: string | undefined;
  private readonly timeoutMs: number;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;

  constructor(opts: BackendClientOptions, pool?: Pool) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.token = opts.token;
    this.project = opts.project;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    const origin = new URL(this.baseUrl).origin;
    this.ownsPool = pool === undefined;
    this.pool = pool ?? new Pool(origin, { connections: opts.connections ?? 32, keepAliveTimeout: 30_000, pipelining: 1 });
  }

  /** A client sharing this one's connection pool with another token and/or project. */
  with(opts: { token?: string | undefined; project?: string | undefined }): BackendClient {
    const c = new BackendClient({ baseUrl: this.baseUrl, token: 'token' in opts ? opts.token : this.token, project: 'project' in opts ? opts.project : this.project, timeoutMs: this.timeoutMs }, this.pool);
    return c;
  }

  setToken(token: string | undefined): void {
    this.token = token;
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.close();
  }

  private pathPrefix(): string {
    return new URL(this.baseUrl).pathname.replace(/\/+$/, '');
  }

  /** Low-level JSON request; exported for routes not wrapped below. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: T; headers: Record<string, string | string[] | undefined> }> {
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (this.token && !headers.authorization) headers.authorization = `Bearer ${this.token}`;
    const project = opts.project ?? this.project;
    if (project && !headers['x-project-id']) headers['x-project-id'] = project;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const fullPath = this.pathPrefix() + path + toQuery(opts.query);
    const timeout = opts.timeoutMs ?? this.timeoutMs;
    const res = await this.pool.request({ method: method as 'GET', path: fullPath, headers, body, headersTimeout: timeout, bodyTimeout: timeout, signal: opts.signal });
    const text = await res.body.text();
    let parsed: unknown = text;
    if (text.length > 0 && String(res.headers['content-type'] ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    } else if (text.length === 0) parsed = undefined;
    const ok = (res.statusCode >= 200 && res.statusCode < 300) || (opts.okStatuses ?? []).includes(res.statusCode);
    if (!ok) {
      const ra = res.headers['retry-after'];
      const raNum = ra !== undefined ? Number(Array.isArray(ra) ? ra[0] : ra) : undefined;
      throw new BackendApiError(method, path, res.statusCode, parsed, raNum !== undefined && Number.isFinite(raNum) ? raNum : undefined);
    }
    return { status: res.statusCode, body: parsed as T, headers: res.headers };
  }

  private async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    return (await this.request<T>(method, path, opts)).body;
  }

  // ── setup and auth ──
  setupStatus(): Promise<{ setup_required: boolean }> {
    return this.json('GET', '/api/v1/setup/status');
  }
  setup(input: SetupInput): Promise<{ org: { name: string; slug: string }; user: User }> {
    return this.json('POST', '/api/v1/setup', { body: input });
  }
  /** Logs in; the returned access_token is also adopted by this client. */
  async login(email: string, password: string): Promise<LoginResult> {
    const r = await this.json<LoginResult>('POST', '/api/v1/auth/login', { body: { email, password } });
    this.token = r.access_token;
    return r;
  }
  me(): Promise<{ user: User | null; token: { kind: string; project: string | null } }> {
    return this.json('GET', '/api/v1/auth/me');
  }
  logout(): Promise<{ ok: true }> {
    return this.json('POST', '/api/v1/auth/logout');
  }

  // ── projects ──
  async listProjects(): Promise<Project[]> {
    return (await this.json<{ items: Project[] }>('GET', '/api/v1/projects')).items;
  }
  createProject(input: { slug: string; name: string; environment?: string }): Promise<Project> {
    return this.json('POST', '/api/v1/projects', { body: input });
  }
  getProject(slug: string): Promise<Project> {
    return this.json('GET', `/api/v1/projects/${encodeURIComponent(slug)}`);
  }
  /** A bearer token that can only see this project. */
  createProjectToken(slug: string, name?: string): Promise<{ token: string; project: string; token_id: string }> {
    return this.json('POST', `/api/v1/projects/${encodeURIComponent(slug)}/tokens`, { body: name ? { name } : {} });
  }

  // ── playground ──
  createAgent(project: string, spec: AgentSpec): Promise<Agent> {
    return this.json('POST', '/playground/agent', { body: spec, project });
  }
  async listAgents(project: string): Promise<Agent[]> {
    return (await this.json<{ items: Agent[] }>('GET', '/playground/agents', { project })).items;
  }
  getAgent(project: string, name: string): Promise<Agent> {
    return this.json('GET', `/playground/agents/${encodeURIComponent(name)}`, { project });
  }

  /**
   * Runs an agent and consumes the event stream. Resolves with run_finished (status may be
   * 'error' when the simulated provider failed); throws BackendApiError for 4xx such as a
   * budget stop (402) before the stream starts.
   */
  async run(project: string, req: RunRequest, onEvent?: (e: RunEvent) => void, signal?: AbortSignal): Promise<RunFinished> {
    const headers: Record<string, string> = { accept: 'text/event-stream', 'content-type': 'application/json', 'x-project-id': project };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const path = '/playground/run';
    const res = await this.pool.request({ method: 'POST', path: this.pathPrefix() + path, headers, body: JSON.stringify(req), headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs, signal });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      const text = await res.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* keep text */
      }
      const ra = res.headers['retry-after'];
      const raNum = ra !== undefined ? Number(Array.isArray(ra) ? ra[0] : ra) : undefined;
      throw new BackendApiError('POST', path, res.statusCode, parsed, raNum !== undefined && Number.isFinite(raNum) ? raNum : undefined);
    }
    let finished: RunFinished | undefined;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const handle = (events: SseEvent[]): void => {
      for (const e of events) {
        if (e.data === '') continue;
        const ev = { type: e.event, data: JSON.parse(e.data) as unknown } as RunEvent;
        if (ev.type === 'run_finished') finished = ev.data;
        onEvent?.(ev);
      }
    };
    for await (const chunk of res.body) handle(parser.push(decoder.decode(chunk as Buffer, { stream: true })));
    handle(parser.push(decoder.decode()));
    handle(parser.end());
    if (!finished) throw new BackendApiError('POST', path, res.statusCode, { error: { code: 'stream_incomplete', message: 'the event stream ended without run_finished' } });
    return finished;
  }

  /** Connectivity check of the provider behind a model (no ledger row); audited. */
  testProvider(model: string, project?: string, fail?: 'rate_limit' | 'timeout' | 'server_error'): Promise<{ ok: boolean; provider: string; model: string; priced: boolean; latency_ms?: number; error?: { code: string; message: string } }> {
    return this.json('POST', '/api/v1/providers/test', { body: fail ? { model, fail } : { model }, project });
  }

  listRuns(query: { agent_name?: string; status?: string; limit?: number; offset?: number; project?: string } = {}): Promise<RunList> {
    const { project, ...q } = query;
    return this.json('GET', '/admin/runs', { query: q, project });
  }

  // ── fleet ──
  fleetRegister(project: string, reg: WorkerRegistration): Promise<RegisteredWorker> {
    return this.json('POST', '/api/v1/fleet/register', { body: reg, project });
  }
  private workerHeaders(w: WorkerCredentials): Record<string, string> {
    return { 'x-worker-id': w.worker_id, 'x-worker-secret': w.worker_secret };
  }
  fleetHeartbeat(w: WorkerCredentials, body: { status?: 'online' | 'busy'; active_tasks?: number } = {}): Promise<{ ok: true; state: string }> {
    return this.json('POST', '/api/v1/fleet/heartbeat', { body, headers: this.workerHeaders(w) });
  }
  /** Long-poll for a task of the worker's own project and pool; null when none arrived within waitMs. */
  async fleetClaim(w: WorkerCredentials, waitMs = 0): Promise<FleetTask | null> {
    const r = await this.request<FleetTask | undefined>('POST', '/api/v1/fleet/claim', { body: { wait_ms: waitMs }, headers: this.workerHeaders(w), timeoutMs: waitMs + this.timeoutMs });
    return r.status === 204 || r.body === undefined ? null : r.body;
  }
  fleetReport(w: WorkerCredentials, report: { task_id: string; status: 'completed' | 'failed'; result?: unknown; error?: string }): Promise<{ ok: true; task: FleetTask }> {
    return this.json('POST', '/api/v1/fleet/report', { body: report, headers: this.workerHeaders(w) });
  }
  createTask(project: string, task: { pool?: string; payload?: unknown; model?: string }): Promise<FleetTask> {
    return this.json('POST', '/api/v1/fleet/tasks', { body: task, project });
  }
  async listTasks(project?: string, status?: string): Promise<FleetTask[]> {
    return (await this.json<{ items: FleetTask[] }>('GET', '/api/v1/fleet/tasks', { project, query: { status } })).items;
  }
  async listWorkers(project?: string): Promise<FleetWorker[]> {
    return (await this.json<{ items: FleetWorker[] }>('GET', '/api/v1/fleet/workers', { project })).items;
  }

  // ── health, analytics, live ──
  healthSummary(): Promise<HealthSummary> {
    return this.json('GET', '/api/v1/health/summary');
  }
  costs(q: CostQuery = {}): Promise<CostReport> {
    const iso = (d: string | Date | undefined): string | undefined => (d instanceof Date ? d.toISOString() : d);
    return this.json('GET', '/api/v1/analytics/costs', { query: { from: iso(q.from), to: iso(q.to), group_by: q.group_by ? q.group_by.join(',') : undefined }, project: q.project });
  }
  live(project?: string): Promise<LiveState> {
    return this.json('GET', '/api/v1/live', { query: { project } });
  }

  // ── budgets ──
  async listBudgets(project?: string): Promise<BudgetLimit[]> {
    return (await this.json<{ items: BudgetLimit[] }>('GET', '/api/v1/budget/limits', { project })).items;
  }
  setBudget(project: string, limit: BudgetLimitInput): Promise<BudgetLimit> {
    return this.json('POST', '/api/v1/budget/limits', { body: limit, project });
  }
  /** Deletes one limit of the project by id (404 BackendApiError when there is none). */
  async deleteBudget(project: string, id: string): Promise<void> {
    await this.request('DELETE', `/api/v1/budget/limits/${encodeURIComponent(id)}`, { project });
  }
  /**
   * Deletes the project's limit with this id, or with this scope, subject and window (the key
   * `setBudget` replaces on); returns the limit deleted, undefined when none matched.
   */
  async deleteBudgetMatching(project: string, which: { id?: string | undefined; scope?: BudgetScope | undefined; subject?: string | undefined; window?: BudgetWindow | undefined }): Promise<BudgetLimit | undefined> {
    const subject = which.scope === 'project' || which.scope === undefined ? (which.subject ?? project) : which.subject;
    const row = (await this.listBudgets(project)).find((b) => b.project === project && (which.id !== undefined ? b.id === which.id : b.scope === (which.scope ?? 'project') && b.subject === subject && b.window === (which.window ?? 'daily')));
    if (!row) return undefined;
    await this.deleteBudget(project, row.id);
    return row;
  }
  async budgetStatus(project?: string, filter: { scope?: BudgetScope; subject?: string } = {}): Promise<BudgetStatus[]> {
    const path = filter.scope ? `/api/v1/budget/status/${filter.scope}${filter.subject ? `/${encodeURIComponent(filter.subject)}` : ''}` : '/api/v1/budget/status';
    return (await this.json<{ items: BudgetStatus[] }>('GET', path, { project })).items;
  }
  openapi(): Promise<Record<string, unknown>> {
    return this.json('GET', '/openapi.json');
  }

  // ── finance: price books, closed months ──
  async listPriceBooks(): Promise<PriceBookVersion[]> {
    return (await this.json<{ items: PriceBookVersion[] }>('GET', '/api/v1/prices/books')).items;
  }
  /** The book's file text, so the backend's errors can name its lines. */
  importPriceBook(text: string): Promise<PriceBookImported> {
    return this.json('POST', '/api/v1/prices/books', { body: { text } });
  }
  closeMonth(month: string): Promise<ClosedMonth> {
    return this.json('POST', '/api/v1/finance/months', { body: { month } });
  }
  async listClosedMonths(): Promise<ClosedMonthSummary[]> {
    return (await this.json<{ items: ClosedMonthSummary[] }>('GET', '/api/v1/finance/months')).items;
  }
  async verifyClosedMonths(): Promise<ClosedMonthCheck[]> {
    return (await this.json<{ items: ClosedMonthCheck[] }>('GET', '/api/v1/finance/months/verify')).items;
  }
}

export type PriceBookVersion = z.infer<typeof responses.priceBookList>['items'][number];
export type PriceBookImported = z.infer<typeof responses.priceBookImported>;
export type ClosedMonth = z.infer<typeof responses.closedMonth>;
export type ClosedMonthSummary = z.infer<typeof responses.closedMonthList>['items'][number];
export type ClosedMonthCheck = z.infer<typeof responses.closedMonthChecks>['items'][number];

/**
 * A client for a CLI command: URL and token resolved like every endpoint (flag → env → config →
 * the running backend's backend.json / operator-token → default). Throws UserError without a token.
 */
export function backendClientFromFlags(flags: EndpointFlagValues, opts: { project?: string; requireToken?: boolean } = {}): BackendClient {
  const ep = resolveEndpoints(flags);
  if (!ep.token && opts.requireToken !== false) {
    throw new UserError('no backend token found', ['pass --token or set SAGEWAI_OBS_TOKEN', 'start the local backend with `sagewai-obs serve` (its operator token is then used automatically)']);
  }
  return new BackendClient({ baseUrl: ep.backendUrl, token: ep.token, project: opts.project });
}

/** Backend failures as the CLI should present them: user-fixable ones become UserError. */
export function toCliError(err: unknown, backendUrl: string): unknown {
  if (err instanceof BackendApiError) {
    if (err.status === 401) return new UserError(`the backend refused the token (${err.message})`, 'pass a valid --token or SAGEWAI_OBS_TOKEN');
    if (err.status >= 400 && err.status < 500) return new UserError(err.message, '--help shows the accepted values');
    return err;
  }
  const code = (err as NodeJS.ErrnoException)?.code ?? (err as { cause?: NodeJS.ErrnoException })?.cause?.code;
  if (code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ENOTFOUND') {
    return new UserError(`cannot reach the backend at ${backendUrl}: ${describeCause(err)}`, ['start it with `sagewai-obs serve`', 'or pass --backend-url']);
  }
  return err;
}
