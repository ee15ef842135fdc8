import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Attributes } from '@opentelemetry/api';
import { audit } from './audit.js';
import { Budgets, windowEnd, windowStart, type BudgetRow, type Scope } from './budgets.js';
import { HttpError, notFound } from './http.js';
import * as inst from './instruments.js';
import { PriceBook, type PriceQuote } from './pricebook.js';
import { ProviderError, SimulatedProvider, estimateTokens, type FailureKind, type FailureRates, type SimCall } from './provider.js';
import * as sc from './semconv.js';
import { newId, newSecret, sha256, statementCache, type Db, type Prepare } from './store.js';

/**
 * The backend's domain logic, independent of HTTP: tenants, agents, runs with the cost ledger,
 * budgets, fleet. Every ledger insert updates the in-memory metric totals in the same
 * synchronous step, so the exported counters always equal the ledger.
 */
const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

export async function hashPassword(pw: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const key = await scrypt(pw, salt, 32);
  return `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(pw: string, stored: string): Promise<boolean> {
  const [kind, saltB64, keyB64] = stored.split('$');
  if (kind !== 'scrypt' || !saltB64 || !keyB64) return false;
  const key = await scrypt(pw, Buffer.from(saltB64, 'base64'), 32);
  const want = Buffer.from(keyB64, 'base64');
  return want.length === key.length && crypto.timingSafeEqual(want, key);
}

export interface AppOptions {
  db: Db;
  instanceId: string;
  version: string;
  priceBook: PriceBook;
  seed: number;
  failureRates: FailureRates;
  latencyScale: number;
  /** A worker whose last heartbeat is older than this is `lost`. */
  workerLostAfterMs: number;
  telemetryEnabled: boolean;
}

export interface ProjectRow {
  slug: string;
  name: string;
  environment: string;
  status: string;
  created_at: number;
}
export interface AgentRow {
  project: string;
  name: string;
  model: string;
  system_prompt: string;
  strategy: string;
  temperature: number;
  tools: string;
  metadata: string;
  max_output_tokens: number;
  created_at: number;
}
interface RunRow {
  id: string;
  project: string;
  agent: string;
  model: string;
  status: string;
  started_at: number;
  completed_at: number | null;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost_nusd: number;
  error: string | null;
}
export interface WorkerRow {
  id: string;
  project: string;
  name: string;
  pool: string;
  models: string;
  labels: string;
  max_concurrent: number;
  secret_hash: string;
  state: string;
  registered_at: number;
  last_heartbeat_at: number;
}
interface TaskRow {
  id: string;
  project: string;
  pool: string;
  payload: string;
  model: string | null;
  status: string;
  worker_id: string | null;
  created_at: number;
  claimed_at: number | null;
  completed_at: number | null;
  result: string | null;
  error: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const usd = (nusd: number): number => nusd / 1e9;

export function projectJson(p: ProjectRow): Record<string, unknown> {
  return { slug: p.slug, name: p.name, environment: p.environment, status: p.status, created_at: iso(p.created_at) };
}
export function agentJson(a: AgentRow): Record<string, unknown> {
  return { project: a.project, name: a.name, model: a.model, system_prompt: a.system_prompt, strategy: a.strategy, temperature: a.temperature, tools: JSON.parse(a.tools), metadata: JSON.parse(a.metadata), max_output_tokens: a.max_output_tokens, created_at: iso(a.created_at) };
}
function runJson(r: RunRow): Record<string, unknown> {
  return { run_id: r.id, project: r.project, agent_name: r.agent, model: r.model, status: r.status, started_at: iso(r.started_at), completed_at: iso(r.completed_at), total_tokens: r.input_tokens + r.cached_input_tokens + r.output_tokens, input_tokens: r.input_tokens, cached_input_tokens: r.cached_input_tokens, output_tokens: r.output_tokens, cost_usd: usd(r.cost_nusd), error: r.error };
}
function workerJson(w: WorkerRow): Record<string, unknown> {
  return { worker_id: w.id, name: w.name, project: w.project, pool: w.pool, state: w.state, models: JSON.parse(w.models), labels: JSON.parse(w.labels), max_concurrent: w.max_concurrent, last_heartbeat_at: iso(w.last_heartbeat_at), registered_at: iso(w.registered_at) };
}
export function taskJson(t: TaskRow): Record<string, unknown> {
  return { task_id: t.id, project: t.project, pool: t.pool, status: t.status, payload: JSON.parse(t.payload), model: t.model, worker_id: t.worker_id, created_at: iso(t.created_at), claimed_at: iso(t.claimed_at), completed_at: iso(t.completed_at) };
}
export function budgetJson(b: BudgetRow): Record<string, unknown> {
  return { id: b.id, project: b.project, scope: b.scope, subject: b.subject, window: b.window, limit_usd: usd(b.limit_nusd), action: b.action, fallback_model: b.fallback_model, created_at: iso(b.created_at) };
}

export interface RunInput {
  agent_name: string;
  message: string;
  model?: string | undefined;
  user?: string | undefined;
  team?: string | undefined;
  max_output_tokens?: number | undefined;
  simulate?: SimCall['simulate'];
}

export interface RunSink {
  started(e: { run_id: string; agent: string; model: string }): void;
  delta(text: string): void;
  warning(e: Record<string, unknown>): void;
}

interface InFlightRun {
  run_id: string;
  project: string;
  agent: string;
  model: string;
  startedAt: number;
  outputTokensSoFar: number;
  quote: PriceQuote;
  inputCostNusd: number;
  totalOutputTokens: number;
}

type Waiter = { resolve: () => void };

export class App {
  readonly db: Db;
  /** Cached prepared statements. */
  readonly sql: Prepare;
  readonly budgets: Budgets;
  readonly provider: SimulatedProvider;
  readonly startedAt = Date.now();
  private readonly inFlight = new Map<string, InFlightRun>();
  private readonly claimWaiters = new Map<string, Set<Waiter>>();
  private lostTimer: NodeJS.Timeout | undefined;

  constructor(readonly opts: AppOptions) {
    this.db = opts.db;
    this.sql = statementCache(this.db);
    this.budgets = new Budgets(this.db, this.sql);
    this.provider = new SimulatedProvider({ seed: opts.seed, failureRates: opts.failureRates, latencyScale: opts.latencyScale });
    this.recover();
    this.loadTotals();
    inst.setStateSources({ budgets: () => this.budgetGaugeRows(), workers: () => this.workerGaugeRows(), tasks: () => this.taskCounterRows() });
    this.lostTimer = setInterval(() => this.markLostWorkers(), Math.min(5000, Math.max(250, opts.workerLostAfterMs / 4)));
    this.lostTimer.unref();
  }

  close(): void {
    if (this.lostTimer) clearInterval(this.lostTimer);
    this.wakeAllWaiters();
  }

  /** Nothing survives a restart in flight: open runs become errors, their reservations go. */
  private recover(): void {
    this.db.transaction(() => {
      this.sql("UPDATE runs SET status = 'error', error = 'interrupted by a restart', completed_at = ? WHERE status = 'running'").run(Date.now());
      this.sql('DELETE FROM reservations').run();
    })();
  }

  // ── metric totals, loaded from the ledger so a restart resumes ──
  private loadTotals(): void {
    for (const t of Object.values(inst.ledgerTotals)) t.clear();
    const rows = this.db
      .prepare<[], { project: string; agent: string; provider: string; model: string; priced: number; cost: number; input: number; cached: number; output: number; calls: number }>(
        'SELECT project, agent, provider, model, priced, SUM(cost_nusd) AS cost, SUM(input_tokens) AS input, SUM(cached_input_tokens) AS cached, SUM(output_tokens) AS output, COUNT(*) AS calls FROM ledger GROUP BY project, agent, provider, model, priced',
      )
      .all();
    for (const r of rows) this.addLedgerTotals(r.project, r.agent, r.provider, r.model, r.priced === 1, { cost: r.cost, input: r.input, cached: r.cached, output: r.output, calls: r.calls });
    const runs = this.sql<[], { project: string; agent: string; status: string; n: number }>("SELECT project, agent, status, COUNT(*) AS n FROM runs WHERE status IN ('completed','error','denied') GROUP BY project, agent, status").all();
    for (const r of runs) inst.ledgerTotals.runs.add(this.runAttrs(r.project, r.agent, r.status), r.n);
    for (const a of this.sql<[], AgentRow>('SELECT * FROM agents').all()) this.bornAtZero(a.project, a.name, a.model);
  }

  private costAttrs(project: string, agent: string, provider: string, model: string): Attributes {
    return { [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_GEN_AI_PROVIDER_NAME]: provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model };
  }
  private runAttrs(project: string, agent: string, outcome: string): Attributes {
    return { [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent, [sc.ATTR_SAGEWAI_RUN_OUTCOME]: outcome };
  }

  private addLedgerTotals(project: string, agent: string, provider: string, model: string, priced: boolean, v: { cost: number; input: number; cached: number; output: number; calls: number }): void {
    const base = this.costAttrs(project, agent, provider, model);
    inst.ledgerTotals.costNusd.add(base, v.cost);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'input' }, v.input);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'cached_input' }, v.cached);
    inst.ledgerTotals.tokens.add({ ...base, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'output' }, v.output);
    inst.ledgerTotals.calls.add({ ...base, [sc.ATTR_SAGEWAI_PRICED]: String(priced) }, v.calls);
  }

  /** Series exist at 0 from the moment an agent exists, so the first increase is visible. */
  private bornAtZero(project: string, agent: string, model: string): void {
    const q = this.opts.priceBook.quote(model);
    this.addLedgerTotals(project, agent, q.provider, q.model, q.priced, { cost: 0, input: 0, cached: 0, output: 0, calls: 0 });
    for (const o of ['completed', 'error', 'denied']) inst.ledgerTotals.runs.ensure(this.runAttrs(project, agent, o));
  }

  // ── setup, users ──
  setupRequired(): boolean {
    return this.sql('SELECT 1 FROM org WHERE id = 1').get() === undefined;
  }

  async setup(input: { org_name: string; org_slug?: string | undefined; app_name?: string | undefined; admin_email: string; admin_password: string; admin_name?: string | undefined }): Promise<{ org: Record<string, unknown>; user: Record<string, unknown> }> {
    if (!this.setupRequired()) throw new HttpError(409, 'setup_already_done', 'setup has already been completed');
    const hash = await hashPassword(input.admin_password);
    const slug = input.org_slug ?? (input.org_name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 63) || 'org');
    const userId = newId('usr');
    const now = Date.now();
    const ok = this.db.transaction(() => {
      if (!this.setupRequired()) return false;
      this.sql('INSERT INTO org (id, name, slug, app_name, created_at) VALUES (1, ?, ?, ?, ?)').run(input.org_name, slug, input.app_name ?? null, now);
      this.sql('INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(userId, input.admin_email.toLowerCase(), input.admin_name ?? 'Admin', 'admin', hash, now);
      return true;
    })();
    if (!ok) throw new HttpError(409, 'setup_already_done', 'setup has already been completed');
    audit('setup.completed', undefined, userId, { 'sagewai.org.slug': slug });
    return { org: { name: input.org_name, slug }, user: { id: userId, email: input.admin_email.toLowerCase(), name: input.admin_name ?? 'Admin', role: 'admin' } };
  }

  // ── projects ──
  listProjects(only?: string): ProjectRow[] {
    return only ? this.sql<[string], ProjectRow>('SELECT * FROM projects WHERE slug = ?').all(only) : this.sql<[], ProjectRow>('SELECT * FROM projects ORDER BY created_at, slug').all();
  }
  getProject(slug: string): ProjectRow | undefined {
    return this.sql<[string], ProjectRow>('SELECT * FROM projects WHERE slug = ?').get(slug);
  }
  createProject(p: { slug: string; name: string; environment: string }, actor: string): ProjectRow {
    if (this.getProject(p.slug)) throw new HttpError(409, 'project_exists', `project ${p.slug} already exists`);
    this.sql('INSERT INTO projects (slug, name, environment, status, created_at) VALUES (?, ?, ?, ?, ?)').run(p.slug, p.name, p.environment, 'active', Date.now());
    audit('project.created', p.slug, actor);
    return this.getProject(p.slug) as ProjectRow;
  }
  createProjectToken(project: string, name: string | undefined): { token: string; token_id: string; project: string } {
    const token = `sgp_${newSecret()}`;
    const id = newId('tok');
    this.sql('INSERT INTO tokens (id, token_hash, kind, project, name, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(id, sha256(token), 'project', project, name ?? null, Date.now());
    return { token, token_id: id, project };
  }

  // ── agents ──
  createAgent(project: string, a: { name: string; model: string; system_prompt: string; strategy: string; temperature: number; tools: string[]; metadata: Record<string, unknown>; max_output_tokens: number }, actor: string): AgentRow {
    if (this.getAgent(project, a.name)) throw new HttpError(409, 'agent_exists', `agent ${a.name} already exists in ${project}`);
    this.sql('INSERT INTO agents (project, name, model, system_prompt, strategy, temperature, tools, metadata, max_output_tokens, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(project, a.name, a.model, a.system_prompt, a.strategy, a.temperature, JSON.stringify(a.tools), JSON.stringify(a.metadata), a.max_output_tokens, Date.now());
    this.bornAtZero(project, a.name, a.model);
    audit('agent.created', project, actor, { [sc.ATTR_SAGEWAI_AGENT_NAME]: a.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: a.model });
    return this.getAgent(project, a.name) as AgentRow;
  }
  getAgent(project: string, name: string): AgentRow | undefined {
    return this.sql<[string, string], AgentRow>('SELECT * FROM agents WHERE project = ? AND name = ?').get(project, name);
  }
  listAgents(project?: string): AgentRow[] {
    return project ? this.sql<[string], AgentRow>('SELECT * FROM agents WHERE project = ? ORDER BY name').all(project) : this.sql<[], AgentRow>('SELECT * FROM agents ORDER BY project, name').all();
  }

  // ── runs ──
  /**
   * Runs one agent call end to end: budget reservation (may throw 402), simulated provider
   * stream, then ledger row + run row + reservation release in one transaction.
   */
  async run(project: string, input: RunInput, actor: string, sink: RunSink): Promise<{ run_id: string; output: string; status: 'completed' | 'error'; usage?: Record<string, unknown>; error?: { code: string; message: string } }> {
    const agent = this.getAgent(project, input.agent_name);
    if (!agent) throw notFound(`agent ${input.agent_name}`);
    const runId = newId('run');
    const started = performance.now();
    const startedAt = Date.now();
    const maxOut = Math.max(input.max_output_tokens ?? agent.max_output_tokens, input.simulate?.output_tokens ?? 0);
    const inputTokens = input.simulate?.input_tokens ?? estimateTokens(agent.system_prompt) + estimateTokens(input.message);
    const cached = input.simulate?.cached_input_tokens ?? 0;
    const worstCase = (model: string): number => PriceBook.costNusd(this.opts.priceBook.quote(model), { input: inputTokens, cachedInput: cached, output: maxOut });
    const subjects = { project, user: input.user, team: input.team };
    const requested = input.model ?? agent.model;
    const res = this.budgets.reserve(subjects, runId, requested, worstCase, startedAt, (model) => {
      this.sql("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)").run(runId, project, agent.name, model, input.user ?? null, input.team ?? null, startedAt);
    });
    if (!res.ok) {
      const b = res.budget;
      this.sql("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at, completed_at, error) VALUES (?, ?, ?, ?, ?, ?, 'denied', ?, ?, 'budget_exceeded')").run(runId, project, agent.name, requested, input.user ?? null, input.team ?? null, startedAt, Date.now());
      inst.ledgerTotals.runs.add(this.runAttrs(project, agent.name, 'denied'), 1);
      inst.budgetDenials.add(1, { [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: b.scope, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: b.action });
      inst.runDuration.record((performance.now() - started) / 1000, this.runAttrs(project, agent.name, 'denied'));
      audit('budget.exceeded', project, actor, { [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: b.scope, [sc.ATTR_SAGEWAI_BUDGET_SUBJECT]: b.subject, [sc.ATTR_SAGEWAI_BUDGET_WINDOW]: b.window, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: b.action, [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name });
      throw new HttpError(
        402,
        'budget_exceeded',
        `the ${b.window} ${b.scope} budget for ${b.subject} (${usd(b.limit_nusd)} USD) does not leave room for this call`,
        { scope: b.scope, subject: b.subject, window: b.window, limit_usd: usd(b.limit_nusd), spent_usd: usd(res.spentNusd), retry_after_s: res.retryAfterS, resets_at: new Date(windowEnd(b.window, Date.now())).toISOString() },
        { 'retry-after': String(res.retryAfterS) },
      );
    }
    const model = res.model;
    const quote = this.opts.priceBook.quote(model);
    // A per-call model override (or a throttle fallback) gets its series at 0 as early as possible.
    if (model !== agent.model) this.bornAtZero(project, agent.name, model);
    const flight: InFlightRun = { run_id: runId, project, agent: agent.name, model, startedAt, outputTokensSoFar: 0, quote, inputCostNusd: inputTokens * quote.inputNusd + cached * quote.cachedInputNusd, totalOutputTokens: 0 };
    this.inFlight.set(runId, flight);
    audit('agent.run.started', project, actor, { [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model });
    sink.started({ run_id: runId, agent: agent.name, model });
    if (res.throttledBy) sink.warning({ kind: 'throttled', scope: res.throttledBy.scope, subject: res.throttledBy.subject, requested_model: requested, model });
    for (const w of res.warnings) {
      sink.warning({ kind: 'budget_warning', scope: w.scope, subject: w.subject, window: w.window });
      audit('budget.warning', project, actor, { [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: w.scope, [sc.ATTR_SAGEWAI_BUDGET_SUBJECT]: w.subject, [sc.ATTR_SAGEWAI_BUDGET_WINDOW]: w.window, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: w.action });
    }
    const plan = this.provider.plan({ model, systemPrompt: agent.system_prompt, message: input.message, maxOutputTokens: maxOut, simulate: { ...input.simulate, input_tokens: inputTokens, cached_input_tokens: cached } });
    flight.totalOutputTokens = plan.outputTokens;
    const genAttrs: Attributes = { [sc.ATTR_GEN_AI_OPERATION_NAME]: 'chat', [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name };
    const callStart = performance.now();
    let streamed = 0;
    try {
      await this.provider.play(plan, (d) => {
        streamed++;
        flight.outputTokensSoFar = Math.round((plan.outputTokens * streamed) / plan.deltas.length);
        sink.delta(d);
      });
    } catch (err) {
      const kind = err instanceof ProviderError ? err.kind : 'server_error';
      const message = err instanceof Error ? err.message : String(err);
      inst.genAiDuration.record((performance.now() - callStart) / 1000, { ...genAttrs, 'error.type': kind });
      this.db.transaction(() => {
        this.sql("UPDATE runs SET status = 'error', completed_at = ?, error = ? WHERE id = ?").run(Date.now(), kind, runId);
        this.budgets.release(res.reservationId);
      })();
      inst.ledgerTotals.runs.add(this.runAttrs(project, agent.name, 'error'), 1);
      this.inFlight.delete(runId);
      inst.runDuration.record((performance.now() - started) / 1000, this.runAttrs(project, agent.name, 'error'));
      audit('agent.run.error', project, actor, { [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model, 'error.type': kind });
      return { run_id: runId, output: '', status: 'error', error: { code: kind, message } };
    }
    const opSeconds = (performance.now() - callStart) / 1000;
    const tokens = { input: inputTokens, cachedInput: cached, output: plan.outputTokens };
    const costInput = tokens.input * quote.inputNusd;
    const costCached = tokens.cachedInput * quote.cachedInputNusd;
    const costOutput = tokens.output * quote.outputNusd;
    const cost = costInput + costCached + costOutput;
    const now = Date.now();
    this.db.transaction(() => {
      // The ledger's triggers add this row to budget_spend in this same transaction (store.ts).
      this.sql('INSERT INTO ledger (run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, pricebook_version, priced, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(runId, project, agent.name, input.user ?? null, input.team ?? null, quote.provider, quote.model, tokens.input, tokens.cachedInput, tokens.output, cost, costInput, costCached, costOutput, quote.version, quote.priced ? 1 : 0, now);
      this.sql("UPDATE runs SET status = 'completed', completed_at = ?, input_tokens = ?, cached_input_tokens = ?, output_tokens = ?, cost_nusd = ? WHERE id = ?").run(now, tokens.input, tokens.cachedInput, tokens.output, cost, runId);
      this.budgets.release(res.reservationId);
    })();
    // Same synchronous step as the commit: the exported totals never lag or lead the ledger.
    this.addLedgerTotals(project, agent.name, quote.provider, quote.model, quote.priced, { cost, input: tokens.input, cached: tokens.cachedInput, output: tokens.output, calls: 1 });
    inst.ledgerTotals.runs.add(this.runAttrs(project, agent.name, 'completed'), 1);
    this.inFlight.delete(runId);
    inst.genAiTokenUsage.record(tokens.input + tokens.cachedInput, { ...genAttrs, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    inst.genAiTokenUsage.record(tokens.output, { ...genAttrs, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    inst.genAiDuration.record(opSeconds, genAttrs);
    inst.runDuration.record((performance.now() - started) / 1000, this.runAttrs(project, agent.name, 'completed'));
    if (!quote.priced) audit('pricing.unpriced', project, actor, { [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name });
    audit('agent.run.completed', project, actor, { [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, [sc.ATTR_SAGEWAI_COST_USD]: usd(cost), 'gen_ai.usage.input_tokens': tokens.input, 'gen_ai.usage.output_tokens': tokens.output });
    for (const c of this.budgets.crossings(subjects, now)) {
      audit('budget.threshold', project, actor, { [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: c.budget.scope, [sc.ATTR_SAGEWAI_BUDGET_SUBJECT]: c.budget.subject, [sc.ATTR_SAGEWAI_BUDGET_WINDOW]: c.budget.window, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: c.budget.action, 'sagewai.budget.threshold': c.threshold });
    }
    return {
      run_id: runId,
      output: plan.text,
      status: 'completed',
      usage: { provider: quote.provider, model: quote.model, input_tokens: tokens.input, cached_input_tokens: tokens.cachedInput, output_tokens: tokens.output, cost_usd: usd(cost), cost_nusd: cost, priced: quote.priced },
    };
  }

  /**
   * A connectivity check of the (simulated) provider for one model: a one-token ping that is not
   * a billable agent call, so it writes no ledger row. Audited as provider.test.success|failed.
   */
  async testProvider(project: string | undefined, model: string, fail: FailureKind | undefined, actor: string): Promise<Record<string, unknown>> {
    const quote = this.opts.priceBook.quote(model);
    const plan = this.provider.plan({ model, systemPrompt: '', message: 'ping', maxOutputTokens: 1, simulate: { input_tokens: 1, output_tokens: 1, fail } });
    const t0 = performance.now();
    try {
      await this.provider.play(plan, () => undefined);
      const latency = Math.round(performance.now() - t0);
      audit('provider.test.success', project, actor, { [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model });
      return { ok: true, provider: quote.provider, model: quote.model, priced: quote.priced, latency_ms: latency };
    } catch (err) {
      const kind = err instanceof ProviderError ? err.kind : 'server_error';
      audit('provider.test.failed', project, actor, { [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, 'error.type': kind });
      return { ok: false, provider: quote.provider, model: quote.model, priced: quote.priced, error: { code: kind, message: err instanceof Error ? err.message : String(err) } };
    }
  }

  listRuns(f: { project?: string | undefined; agent_name?: string | undefined; status?: string | undefined; limit: number; offset: number }): { items: Record<string, unknown>[]; has_more: boolean } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.project) {
      where.push('project = ?');
      args.push(f.project);
    }
    if (f.agent_name) {
      where.push('agent = ?');
      args.push(f.agent_name);
    }
    if (f.status) {
      where.push('status = ?');
      args.push(f.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, id LIMIT ? OFFSET ?`;
    const rows = this.sql(sql).all(...args, f.limit + 1, f.offset) as RunRow[];
    return { items: rows.slice(0, f.limit).map(runJson), has_more: rows.length > f.limit };
  }

  // ── fleet ──
  registerWorker(project: string, w: { name: string; models: string[]; pool: string; labels: Record<string, string>; max_concurrent: number }, actor: string): Record<string, unknown> {
    const id = newId('wkr');
    const secret = newSecret();
    const now = Date.now();
    this.sql("INSERT INTO workers (id, project, name, pool, models, labels, max_concurrent, secret_hash, state, registered_at, last_heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'online', ?, ?)").run(id, project, w.name, w.pool, JSON.stringify(w.models), JSON.stringify(w.labels), w.max_concurrent, sha256(secret), now, now);
    audit('fleet.worker.registered', project, actor, { 'sagewai.fleet.worker.id': id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
    return { worker_id: id, worker_secret: secret, status: 'online', project, pool: w.pool };
  }

  authWorker(id: string | undefined, secret: string | undefined): WorkerRow {
    if (!id || !secret) throw new HttpError(401, 'unauthorized', 'worker credentials required: X-Worker-Id and X-Worker-Secret');
    const w = this.sql<[string], WorkerRow>('SELECT * FROM workers WHERE id = ?').get(id);
    const given = Buffer.from(sha256(secret));
    if (!w || !crypto.timingSafeEqual(given, Buffer.from(w.secret_hash))) throw new HttpError(401, 'unauthorized', 'unknown worker or wrong secret');
    return w;
  }

  private workerState(w: WorkerRow): string {
    const busy = this.sql<[string], { n: number }>("SELECT COUNT(*) AS n FROM tasks WHERE worker_id = ? AND status = 'claimed'").get(w.id)?.n ?? 0;
    return busy > 0 ? 'busy' : 'online';
  }

  heartbeat(w: WorkerRow): { ok: true; state: string } {
    const state = this.workerState(w);
    this.sql('UPDATE workers SET last_heartbeat_at = ?, state = ? WHERE id = ?').run(Date.now(), state, w.id);
    return { ok: true, state };
  }

  private markLostWorkers(): void {
    const cutoff = Date.now() - this.opts.workerLostAfterMs;
    const lost = this.sql<[number], WorkerRow>("SELECT * FROM workers WHERE state != 'lost' AND last_heartbeat_at < ?").all(cutoff);
    for (const w of lost) {
      this.sql("UPDATE workers SET state = 'lost' WHERE id = ?").run(w.id);
      audit('fleet.worker.lost', w.project, w.id, { 'sagewai.fleet.worker.id': w.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
    }
  }

  createTask(project: string, t: { pool: string; payload?: unknown; model?: string | undefined }, actor: string): Record<string, unknown> {
    const id = newId('tsk');
    this.sql("INSERT INTO tasks (id, project, pool, payload, model, status, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?)").run(id, project, t.pool, JSON.stringify(t.payload ?? {}), t.model ?? null, Date.now());
    audit('fleet.task.queued', project, actor, { 'sagewai.fleet.task.id': id, [sc.ATTR_SAGEWAI_FLEET_POOL]: t.pool });
    const waiters = this.claimWaiters.get(`${project}|${t.pool}`);
    const first = waiters?.values().next().value;
    if (first) {
      waiters?.delete(first);
      first.resolve();
    }
    return taskJson(this.sql<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?').get(id) as TaskRow);
  }

  listTasks(project?: string, status?: string): Record<string, unknown>[] {
    const where: string[] = [];
    const args: string[] = [];
    if (project) {
      where.push('project = ?');
      args.push(project);
    }
    if (status) {
      where.push('status = ?');
      args.push(status);
    }
    return (this.sql(`SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC LIMIT 500`).all(...args) as TaskRow[]).map(taskJson);
  }

  private tryClaim(w: WorkerRow): TaskRow | undefined {
    return this.db.transaction(() => {
      const t = this.sql<[string, string], TaskRow>("SELECT * FROM tasks WHERE project = ? AND pool = ? AND status = 'queued' ORDER BY created_at, id LIMIT 1").get(w.project, w.pool);
      if (!t) return undefined;
      const now = Date.now();
      this.sql("UPDATE tasks SET status = 'claimed', worker_id = ?, claimed_at = ? WHERE id = ?").run(w.id, now, t.id);
      this.sql("UPDATE workers SET state = 'busy', last_heartbeat_at = ? WHERE id = ?").run(now, w.id);
      return { ...t, status: 'claimed', worker_id: w.id, claimed_at: now };
    })();
  }

  /** Long-poll: a task of the worker's own project and pool, or undefined after waitMs. */
  async claim(w: WorkerRow, waitMs: number, signal: AbortSignal): Promise<Record<string, unknown> | undefined> {
    const start = performance.now();
    const deadline = Date.now() + waitMs;
    let task = this.tryClaim(w);
    while (!task && Date.now() < deadline && !signal.aborted && !this.closing) {
      await new Promise<void>((resolve) => {
        const key = `${w.project}|${w.pool}`;
        let set = this.claimWaiters.get(key);
        if (!set) this.claimWaiters.set(key, (set = new Set()));
        const waiter: Waiter = { resolve: () => done() };
        const timer = setTimeout(() => done(), Math.max(0, deadline - Date.now()));
        const onAbort = (): void => done();
        signal.addEventListener('abort', onAbort, { once: true });
        function done(): void {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          set?.delete(waiter);
          resolve();
        }
        set.add(waiter);
      });
      task = this.tryClaim(w);
    }
    inst.fleetClaimDuration.record((performance.now() - start) / 1000, { [sc.ATTR_SAGEWAI_PROJECT_ID]: w.project, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool, [sc.ATTR_SAGEWAI_FLEET_CLAIM_RESULT]: task ? 'task' : 'empty' });
    if (!task) {
      this.sql('UPDATE workers SET last_heartbeat_at = ?, state = ? WHERE id = ?').run(Date.now(), this.workerState(w), w.id);
      return undefined;
    }
    audit('fleet.task.claimed', w.project, w.id, { 'sagewai.fleet.task.id': task.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: w.pool });
    return taskJson(task);
  }

  closing = false;
  wakeAllWaiters(): void {
    this.closing = true;
    for (const set of this.claimWaiters.values()) for (const w of [...set]) w.resolve();
  }

  report(w: WorkerRow, r: { task_id: string; status: 'completed' | 'failed'; result?: unknown; error?: string | undefined }): Record<string, unknown> {
    const t = this.sql<[string, string], TaskRow>('SELECT * FROM tasks WHERE id = ? AND project = ?').get(r.task_id, w.project);
    if (!t || t.worker_id !== w.id) throw notFound(`task ${r.task_id}`);
    if (t.status !== 'claimed') throw new HttpError(409, 'task_already_reported', `task ${r.task_id} is already ${t.status}`);
    const now = Date.now();
    this.db.transaction(() => {
      this.sql('UPDATE tasks SET status = ?, completed_at = ?, result = ?, error = ? WHERE id = ?').run(r.status, now, r.result === undefined ? null : JSON.stringify(r.result), r.error ?? null, t.id);
      this.sql('UPDATE workers SET last_heartbeat_at = ? WHERE id = ?').run(now, w.id);
    })();
    this.sql('UPDATE workers SET state = ? WHERE id = ?').run(this.workerState(w), w.id);
    audit(r.status === 'completed' ? 'fleet.task.completed' : 'fleet.task.failed', w.project, w.id, { 'sagewai.fleet.task.id': t.id, [sc.ATTR_SAGEWAI_FLEET_POOL]: t.pool });
    return taskJson(this.sql<[string], TaskRow>('SELECT * FROM tasks WHERE id = ?').get(t.id) as TaskRow);
  }

  listWorkers(project?: string): Record<string, unknown>[] {
    const rows = project ? this.sql<[string], WorkerRow>('SELECT * FROM workers WHERE project = ? ORDER BY registered_at').all(project) : this.sql<[], WorkerRow>('SELECT * FROM workers ORDER BY project, registered_at').all();
    return rows.map(workerJson);
  }

  // ── gauges and observable counters backed by tables ──
  private workerGaugeRows(): Array<{ attrs: Attributes; value: number }> {
    const rows = this.sql<[], { project: string; pool: string; state: string; n: number }>('SELECT project, pool, state, COUNT(*) AS n FROM workers GROUP BY project, pool, state').all();
    const out = new Map<string, { attrs: Attributes; value: number }>();
    for (const r of rows) {
      for (const s of ['online', 'busy', 'lost']) {
        const k = `${r.project}|${r.pool}|${s}`;
        if (!out.has(k)) out.set(k, { attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: r.project, [sc.ATTR_SAGEWAI_FLEET_POOL]: r.pool, [sc.ATTR_SAGEWAI_FLEET_WORKER_STATE]: s }, value: 0 });
      }
      (out.get(`${r.project}|${r.pool}|${r.state}`) as { value: number }).value += r.n;
    }
    return [...out.values()];
  }

  private taskCounterRows(): Array<{ attrs: Attributes; value: number }> {
    const rows = this.db
      .prepare<[], { project: string; pool: string; queued: number; claimed: number; completed: number; failed: number }>(
        "SELECT project, pool, COUNT(*) AS queued, COUNT(claimed_at) AS claimed, SUM(status = 'completed') AS completed, SUM(status = 'failed') AS failed FROM tasks GROUP BY project, pool UNION ALL SELECT DISTINCT project, pool, 0, 0, 0, 0 FROM workers WHERE (project, pool) NOT IN (SELECT project, pool FROM tasks)",
      )
      .all();
    const out: Array<{ attrs: Attributes; value: number }> = [];
    for (const r of rows) {
      for (const ev of ['queued', 'claimed', 'completed', 'failed'] as const) out.push({ attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: r.project, [sc.ATTR_SAGEWAI_FLEET_POOL]: r.pool, [sc.ATTR_SAGEWAI_FLEET_TASK_EVENT]: ev }, value: r[ev] ?? 0 });
    }
    return out;
  }

  private budgetGaugeRows(): Array<{ attrs: Attributes; value: number }> {
    return this.budgets.list().map((b) => ({
      attrs: { [sc.ATTR_SAGEWAI_PROJECT_ID]: b.project, [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: b.scope, [sc.ATTR_SAGEWAI_BUDGET_SUBJECT]: b.subject, [sc.ATTR_SAGEWAI_BUDGET_WINDOW]: b.window, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: b.action },
      value: b.limit_nusd > 0 ? this.budgets.spentInWindow(b) / b.limit_nusd : 0,
    }));
  }

  budgetStatus(project: string | undefined, scope?: Scope, subject?: string): Record<string, unknown>[] {
    const now = Date.now();
    return this.budgets
      .list(project)
      .filter((b) => (!scope || b.scope === scope) && (!subject || b.subject === subject))
      .map((b) => {
        const s = this.budgets.spent(b, now);
        const util = b.limit_nusd > 0 ? s.ledger / b.limit_nusd : 0;
        return { ...budgetJson(b), spent_usd: usd(s.ledger), reserved_usd: usd(s.reserved), utilization: util, window_start: new Date(windowStart(b.window, now)).toISOString(), resets_at: new Date(windowEnd(b.window, now)).toISOString(), state: util >= 1 ? 'exceeded' : util >= 0.8 ? 'warning' : 'ok' };
      });
  }

  // ── analytics ──
  costs(f: { project?: string | undefined; from: number; to: number; groupBy: string[] }): Record<string, unknown> {
    const cols: Record<string, string> = { project: 'project', model: 'model', agent: 'agent', provider: 'provider' };
    const keys = f.groupBy.filter((g) => g !== 'token_type');
    const byType = f.groupBy.includes('token_type');
    const sel = keys.map((k) => `${cols[k]} AS ${k}`);
    const where = ['created_at >= ?', 'created_at < ?'];
    const args: unknown[] = [f.from, f.to];
    if (f.project) {
      where.push('project = ?');
      args.push(f.project);
    }
    const sql = `SELECT ${[...sel, 'SUM(cost_nusd) AS cost', 'SUM(input_cost_nusd) AS c_in', 'SUM(cached_cost_nusd) AS c_cached', 'SUM(output_cost_nusd) AS c_out', 'SUM(input_tokens) AS input', 'SUM(cached_input_tokens) AS cached', 'SUM(output_tokens) AS output', 'COUNT(*) AS calls', 'SUM(priced = 0) AS unpriced'].join(', ')} FROM ledger WHERE ${where.join(' AND ')}${keys.length ? ` GROUP BY ${keys.map((k) => cols[k]).join(', ')} ORDER BY cost DESC` : ''}`;
    type Row = Record<string, string | number | null> & { cost: number | null; c_in: number | null; c_cached: number | null; c_out: number | null; input: number | null; cached: number | null; output: number | null; calls: number; unpriced: number | null };
    const rows = this.sql(sql).all(...args) as Row[];
    const groups: Record<string, unknown>[] = [];
    const total = { cost_usd: 0, cost_nusd: 0, calls: 0, unpriced_calls: 0, input_tokens: 0, cached_input_tokens: 0, output_tokens: 0 };
    for (const r of rows) {
      if (r.calls === 0) continue;
      const base: Record<string, unknown> = {};
      for (const k of keys) base[k] = r[k];
      const common = { calls: r.calls, unpriced_calls: r.unpriced ?? 0 };
      if (byType) {
        for (const [type, cost, tok] of [['input', r.c_in, r.input], ['cached_input', r.c_cached, r.cached], ['output', r.c_out, r.output]] as const) {
          groups.push({ ...base, token_type: type, cost_usd: usd(cost ?? 0), cost_nusd: cost ?? 0, input_tokens: type === 'input' ? tok ?? 0 : 0, cached_input_tokens: type === 'cached_input' ? tok ?? 0 : 0, output_tokens: type === 'output' ? tok ?? 0 : 0, ...common });
        }
      } else {
        groups.push({ ...base, cost_usd: usd(r.cost ?? 0), cost_nusd: r.cost ?? 0, input_tokens: r.input ?? 0, cached_input_tokens: r.cached ?? 0, output_tokens: r.output ?? 0, ...common });
      }
      total.cost_nusd += r.cost ?? 0;
      total.calls += r.calls;
      total.unpriced_calls += r.unpriced ?? 0;
      total.input_tokens += r.input ?? 0;
      total.cached_input_tokens += r.cached ?? 0;
      total.output_tokens += r.output ?? 0;
    }
    total.cost_usd = usd(total.cost_nusd);
    return { from: new Date(f.from).toISOString(), to: new Date(f.to).toISOString(), currency: 'USD', group_by: f.groupBy, groups, total };
  }

  // ── live state for the HUD ──
  live(project?: string): Record<string, unknown> {
    const now = Date.now();
    const runs = [...this.inFlight.values()]
      .filter((r) => !project || r.project === project)
      .map((r) => ({ run_id: r.run_id, project: r.project, agent: r.agent, model: r.model, started_at: new Date(r.startedAt).toISOString(), elapsed_ms: now - r.startedAt, cost_usd: usd(r.inputCostNusd + r.outputTokensSoFar * r.quote.outputNusd) }));
    const tasks = (project ? this.sql<[string], TaskRow>("SELECT * FROM tasks WHERE status = 'claimed' AND project = ?").all(project) : this.sql<[], TaskRow>("SELECT * FROM tasks WHERE status = 'claimed'").all()).map((t) => ({ task_id: t.id, project: t.project, pool: t.pool, worker_id: t.worker_id, state: t.status, elapsed_ms: now - (t.claimed_at ?? t.created_at) }));
    const queued = (project ? this.sql<[string], TaskRow>("SELECT * FROM tasks WHERE status = 'queued' AND project = ? LIMIT 200").all(project) : this.sql<[], TaskRow>("SELECT * FROM tasks WHERE status = 'queued' LIMIT 200").all()).map((t) => ({ task_id: t.id, project: t.project, pool: t.pool, worker_id: null, state: t.status, elapsed_ms: now - t.created_at }));
    const workers = this.listWorkers(project).map((w) => ({ worker_id: w.worker_id, name: w.name, project: w.project, pool: w.pool, state: w.state, last_heartbeat_at: w.last_heartbeat_at }));
    return { generated_at: new Date(now).toISOString(), agents: this.listAgents(project).map((a) => ({ project: a.project, name: a.name, model: a.model })), runs_in_flight: runs, tasks_in_flight: [...tasks, ...queued], workers };
  }

  health(): Record<string, unknown> {
    const n = (sql: string): number => (this.sql(sql).get() as { n: number }).n;
    return {
      status: 'ok',
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      version: this.opts.version,
      instance_id: this.opts.instanceId,
      counts: { projects: n('SELECT COUNT(*) AS n FROM projects'), agents: n('SELECT COUNT(*) AS n FROM agents'), runs: n('SELECT COUNT(*) AS n FROM runs'), runs_in_flight: this.inFlight.size, workers_online: n("SELECT COUNT(*) AS n FROM workers WHERE state != 'lost'"), tasks_queued: n("SELECT COUNT(*) AS n FROM tasks WHERE status = 'queued'") },
      telemetry: { enabled: this.opts.telemetryEnabled },
    };
  }
}
