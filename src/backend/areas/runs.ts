import type { Attributes } from '@opentelemetry/api';
import type { z } from 'zod';
import { operations } from '../../contract/operations.js';
import type * as res from '../../contract/responses.js';
import { audit } from '../audit.js';
import { windowEnd, type Budgets, type ReserveResult, type ThresholdCrossing } from '../budgets.js';
import { HttpError, notFound, validate } from '../http.js';
import * as inst from '../instruments.js';
import { runAttrs, type LedgerAggregate, type LedgerMetrics } from '../ledger-metrics.js';
import type { Pricing } from '../price-history.js';
import { PriceBook, type PriceQuote } from '../pricebook.js';
import { ProviderError, estimateTokens, type FailureKind, type SimCall, type SimulatedProvider } from '../provider.js';
import { actor, bind, queryOf, type RouteBinding } from '../routing.js';
import * as sc from '../semconv.js';
import { newId, type Awaitable, type Db, type Prepare } from '../store.js';
import type { AgentStore } from './agents.js';
import { budgetAttrs } from './budgets.js';
import { iso, type Tenancy } from './projects.js';

/**
 * Agent runs and the cost ledger. A run goes in one pass:
 *   decide  — RunStore.start: reserve the worst case against the budgets, insert the run row;
 *   do      — the (simulated) provider streams the answer;
 *   record  — RunStore.complete / fail: ledger row, run row, reservation release, one transaction;
 *   announce — metrics and audit, once, from what was recorded.
 */
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
  reasoning_tokens: number;
  cost_nusd: number;
  error: string | null;
}

/** One billable call as the ledger records it (costs in nano-USD). */
export interface LedgerEntry {
  runId: string;
  project: string;
  agent: string;
  user: string | null;
  team: string | null;
  quote: PriceQuote;
  input: number;
  cachedInput: number;
  /** The visible answer; reasoning tokens are counted apart and never included here. */
  output: number;
  reasoning: number;
  costInput: number;
  costCached: number;
  costOutput: number;
  costReasoning: number;
  /** costInput + costCached + costOutput + costReasoning, exactly. */
  cost: number;
  at: number;
}

export interface RunStart {
  runId: string;
  project: string;
  agent: string;
  user: string | null;
  team: string | null;
  requestedModel: string;
  /** Worst-case cost of the call with this model, nano-USD. */
  worstCase: (model: string) => number;
}

export interface RunFilter {
  project?: string | undefined;
  agent_name?: string | undefined;
  status?: string | undefined;
  limit: number;
  offset: number;
}

export interface RunStore {
  /** Start-up: runs left open by a crash become errors; their reservations go. */
  recover(now: number): Awaitable<void>;
  /**
   * Decide. One transaction: read every applicable budget's spend and open reservations, switch
   * to a throttle fallback or refuse on a stop cap, insert the reservation and the run row. A
   * PostgreSQL store must serialise this per budget subject across replicas (e.g. SELECT … FOR
   * UPDATE on the budget rows, or SERIALIZABLE with retry) so concurrent calls can never together
   * pass a stop cap.
   */
  start(r: RunStart, now: number): Awaitable<ReserveResult>;
  /** A run a stop budget refused, recorded as `denied`. */
  recordDenied(r: RunStart, now: number): Awaitable<void>;
  /**
   * Record. One transaction: the ledger row, the budget per-day totals it adds to, the run row's
   * totals, the reservation's release, and the thresholds this spend crossed first (each reported
   * once). A PostgreSQL store commits all of them together or none.
   */
  complete(e: LedgerEntry, reservationId: string): Awaitable<ThresholdCrossing[]>;
  /** The provider failed: the run row becomes `error` and the reservation goes, together. */
  fail(runId: string, kind: string, reservationId: string, now: number): Awaitable<void>;
  list(f: RunFilter): Awaitable<RunRow[]>;
  /** The ledger summed per series, and finished runs per outcome: the metric totals at start-up. */
  totals(): Awaitable<{ ledger: LedgerAggregate[]; runs: Array<{ project: string; agent: string; status: string; n: number }> }>;
}

export class SqliteRunStore implements RunStore {
  constructor(private readonly db: Db, private readonly sql: Prepare, private readonly budgets: Budgets) {}

  recover(now: number): void {
    this.db.transaction(() => {
      this.sql("UPDATE runs SET status = 'error', error = 'interrupted by a restart', completed_at = ? WHERE status = 'running'").run(now);
      this.sql('DELETE FROM reservations').run();
    })();
  }

  start(r: RunStart, now: number): ReserveResult {
    // Budgets.reserve is BEGIN IMMEDIATE: the write lock is held from the spend read to the commit, across processes too.
    return this.budgets.reserve({ project: r.project, user: r.user ?? undefined, team: r.team ?? undefined }, r.runId, r.requestedModel, r.worstCase, now, (model) => {
      this.sql("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?)").run(r.runId, r.project, r.agent, model, r.user, r.team, now);
    });
  }

  recordDenied(r: RunStart, now: number): void {
    this.sql("INSERT INTO runs (id, project, agent, model, user_name, team, status, started_at, completed_at, error) VALUES (?, ?, ?, ?, ?, ?, 'denied', ?, ?, 'budget_exceeded')").run(r.runId, r.project, r.agent, r.requestedModel, r.user, r.team, now, Date.now());
  }

  complete(e: LedgerEntry, reservationId: string): ThresholdCrossing[] {
    return this.db.transaction(() => {
      // The ledger's triggers add this row to budget_spend in this same transaction (store.ts).
      this.sql('INSERT INTO ledger (run_id, project, agent, user_name, team, provider, model, input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, cost_nusd, input_cost_nusd, cached_cost_nusd, output_cost_nusd, reasoning_cost_nusd, pricebook_version, priced, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
        e.runId,
        e.project,
        e.agent,
        e.user,
        e.team,
        e.quote.provider,
        e.quote.model,
        e.input,
        e.cachedInput,
        e.output,
        e.reasoning,
        e.cost,
        e.costInput,
        e.costCached,
        e.costOutput,
        e.costReasoning,
        e.quote.version,
        e.quote.priced ? 1 : 0,
        e.at,
      );
      this.sql("UPDATE runs SET status = 'completed', completed_at = ?, input_tokens = ?, cached_input_tokens = ?, output_tokens = ?, reasoning_tokens = ?, cost_nusd = ? WHERE id = ?").run(e.at, e.input, e.cachedInput, e.output, e.reasoning, e.cost, e.runId);
      this.budgets.release(reservationId);
      return this.budgets.crossings({ project: e.project, user: e.user ?? undefined, team: e.team ?? undefined }, e.at);
    })();
  }

  fail(runId: string, kind: string, reservationId: string, now: number): void {
    this.db.transaction(() => {
      this.sql("UPDATE runs SET status = 'error', completed_at = ?, error = ? WHERE id = ?").run(now, kind, runId);
      this.budgets.release(reservationId);
    })();
  }

  list(f: RunFilter): RunRow[] {
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
    return this.sql(sql).all(...args, f.limit + 1, f.offset) as RunRow[];
  }

  totals(): { ledger: LedgerAggregate[]; runs: Array<{ project: string; agent: string; status: string; n: number }> } {
    const ledger = this.db
      .prepare<[], Omit<LedgerAggregate, 'priced'> & { priced: number }>(
        // Kept by the ledger's triggers (migration 5): one row per group, not a scan of the ledger.
        'SELECT project, agent, provider, model, priced, pricebook_version AS version, cost, cost_input AS costInput, cost_cached AS costCached, cost_output AS costOutput, cost_reasoning AS costReasoning, input, cached, output, reasoning, calls FROM ledger_totals WHERE calls != 0',
      )
      .all()
      .map((r) => ({ ...r, priced: r.priced === 1 }));
    const runs = this.sql<[], { project: string; agent: string; status: string; n: number }>("SELECT project, agent, status, n FROM run_counts WHERE status IN ('completed','error','denied') AND n != 0").all();
    return { ledger, runs };
  }
}

const usd = (nusd: number): number => nusd / 1e9;

function runJson(r: RunRow): z.infer<typeof res.runItem> {
  return { run_id: r.id, project: r.project, agent_name: r.agent, model: r.model, status: r.status as 'completed', started_at: iso(r.started_at) as string, completed_at: iso(r.completed_at), total_tokens: r.input_tokens + r.cached_input_tokens + r.output_tokens + r.reasoning_tokens, input_tokens: r.input_tokens, cached_input_tokens: r.cached_input_tokens, output_tokens: r.output_tokens, reasoning_tokens: r.reasoning_tokens, cost_usd: usd(r.cost_nusd), error: r.error };
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

/** A run between decide and record, for the live view. */
export interface InFlightRun {
  run_id: string;
  project: string;
  agent: string;
  model: string;
  startedAt: number;
  outputTokensSoFar: number;
  quote: PriceQuote;
  inputCostNusd: number;
  /** The reasoning tokens' cost, known once the first visible token arrives (thinking comes first). */
  reasoningCostNusd: number;
}

export type RunResult = z.infer<typeof res.runFinished>;

export class Runs {
  readonly inFlight = new Map<string, InFlightRun>();

  constructor(
    readonly store: RunStore,
    private readonly agents: AgentStore,
    private readonly priceBook: Pricing,
    private readonly provider: SimulatedProvider,
    private readonly metrics: LedgerMetrics,
  ) {}

  /** Runs one agent call end to end (see the module comment); a stop budget throws 402. */
  async run(project: string, input: RunInput, by: string, sink: RunSink): Promise<RunResult> {
    const agent = await this.agents.get(project, input.agent_name);
    if (!agent) throw notFound(`agent ${input.agent_name}`);
    const started = performance.now();
    const startedAt = Date.now();
    // The completion budget bounds output and reasoning together (a told count may exceed it).
    const maxOut = Math.max(input.max_output_tokens ?? agent.max_output_tokens, (input.simulate?.output_tokens ?? 0) + (input.simulate?.reasoning_tokens ?? 0));
    const inputTokens = input.simulate?.input_tokens ?? estimateTokens(agent.system_prompt) + estimateTokens(input.message);
    const cached = input.simulate?.cached_input_tokens ?? 0;
    const start: RunStart = {
      runId: newId('run'),
      project,
      agent: agent.name,
      user: input.user ?? null,
      team: input.team ?? null,
      requestedModel: input.model ?? agent.model,
      worstCase: (model) => PriceBook.worstCaseNusd(this.priceBook.quote(model), { input: inputTokens, cachedInput: cached, completion: maxOut }),
    };
    const runId = start.runId;

    // ── decide ──
    const decision = await this.store.start(start, startedAt);
    if (!decision.ok) {
      await this.store.recordDenied(start, startedAt);
      const b = decision.budget;
      this.metrics.runOutcome(project, agent.name, 'denied');
      inst.budgetDenials.add(1, { [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_BUDGET_SCOPE]: b.scope, [sc.ATTR_SAGEWAI_BUDGET_ACTION]: b.action });
      inst.runDuration.record((performance.now() - started) / 1000, runAttrs(project, agent.name, 'denied'));
      audit('budget.exceeded', project, by, { ...budgetAttrs(b), [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name });
      throw new HttpError(
        402,
        'budget_exceeded',
        `the ${b.window} ${b.scope} budget for ${b.subject} (${usd(b.limit_nusd)} USD) does not leave room for this call`,
        { scope: b.scope, subject: b.subject, window: b.window, limit_usd: usd(b.limit_nusd), spent_usd: usd(decision.spentNusd), retry_after_s: decision.retryAfterS, resets_at: new Date(windowEnd(b.window, Date.now())).toISOString() },
        { 'retry-after': String(decision.retryAfterS) },
      );
    }
    const model = decision.model;
    const quote = this.priceBook.quote(model);
    // A per-call model override (or a throttle fallback) gets its series at 0 as early as possible.
    if (model !== agent.model) this.metrics.bornAtZero(project, agent.name, model);
    const flight: InFlightRun = { run_id: runId, project, agent: agent.name, model, startedAt, outputTokensSoFar: 0, quote, inputCostNusd: inputTokens * quote.inputNusd + cached * quote.cachedInputNusd, reasoningCostNusd: 0 };
    this.inFlight.set(runId, flight);
    audit('agent.run.started', project, by, { [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model });
    sink.started({ run_id: runId, agent: agent.name, model });
    if (decision.throttledBy) sink.warning({ kind: 'throttled', scope: decision.throttledBy.scope, subject: decision.throttledBy.subject, requested_model: start.requestedModel, model });
    for (const w of decision.warnings) {
      sink.warning({ kind: 'budget_warning', scope: w.scope, subject: w.subject, window: w.window });
      audit('budget.warning', project, by, budgetAttrs(w));
    }

    // ── do ──
    const plan = this.provider.plan({ model, systemPrompt: agent.system_prompt, message: input.message, maxOutputTokens: maxOut, simulate: { ...input.simulate, input_tokens: inputTokens, cached_input_tokens: cached } });
    const genAttrs: Attributes = { [sc.ATTR_GEN_AI_OPERATION_NAME]: 'chat', [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, [sc.ATTR_SAGEWAI_PROJECT_ID]: project, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name };
    const callStart = performance.now();
    let streamed = 0;
    try {
      await this.provider.play(plan, (d) => {
        streamed++;
        flight.reasoningCostNusd = plan.reasoningTokens * quote.reasoningNusd;
        flight.outputTokensSoFar = Math.round((plan.outputTokens * streamed) / plan.deltas.length);
        sink.delta(d);
      });
    } catch (err) {
      const kind = err instanceof ProviderError ? err.kind : 'server_error';
      const message = err instanceof Error ? err.message : String(err);
      const callSeconds = (performance.now() - callStart) / 1000;
      // ── record (failure) ──
      await this.store.fail(runId, kind, decision.reservationId, Date.now());
      // ── announce ──
      inst.genAiDuration.record(callSeconds, { ...genAttrs, 'error.type': kind });
      this.metrics.runOutcome(project, agent.name, 'error');
      this.inFlight.delete(runId);
      inst.runDuration.record((performance.now() - started) / 1000, runAttrs(project, agent.name, 'error'));
      audit('agent.run.error', project, by, { [sc.ATTR_SAGEWAI_RUN_ID]: runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: agent.name, [sc.ATTR_GEN_AI_REQUEST_MODEL]: model, 'error.type': kind });
      return { run_id: runId, output: '', status: 'error', error: { code: kind, message } };
    }
    const opSeconds = (performance.now() - callStart) / 1000;

    // ── record ── priced by the book and entry in effect when the call completed (its ledger time)
    const at = Date.now();
    const priced = this.priceBook.quote(model, at);
    const entry: LedgerEntry = {
      runId,
      project,
      agent: agent.name,
      user: start.user,
      team: start.team,
      quote: priced,
      input: inputTokens,
      cachedInput: cached,
      output: plan.outputTokens,
      reasoning: plan.reasoningTokens,
      costInput: inputTokens * priced.inputNusd,
      costCached: cached * priced.cachedInputNusd,
      costOutput: plan.outputTokens * priced.outputNusd,
      costReasoning: plan.reasoningTokens * priced.reasoningNusd,
      cost: 0,
      at,
    };
    entry.cost = entry.costInput + entry.costCached + entry.costOutput + entry.costReasoning;
    const crossings = await this.store.complete(entry, decision.reservationId);

    // ── announce: from the recorded entry, right after its commit (the totals never lag or lead the ledger) ──
    this.announceCompleted(entry, crossings, genAttrs, opSeconds, started, by);
    return {
      run_id: runId,
      output: plan.text,
      status: 'completed',
      usage: { provider: priced.provider, model: priced.model, input_tokens: entry.input, cached_input_tokens: entry.cachedInput, output_tokens: entry.output, reasoning_tokens: entry.reasoning, cost_usd: usd(entry.cost), cost_nusd: entry.cost, priced: priced.priced },
    };
  }

  private announceCompleted(e: LedgerEntry, crossings: ThresholdCrossing[], genAttrs: Attributes, opSeconds: number, started: number, by: string): void {
    const q = e.quote;
    this.metrics.add({ project: e.project, agent: e.agent, provider: q.provider, model: q.model, priced: q.priced, version: q.version, cost: e.cost, costInput: e.costInput, costCached: e.costCached, costOutput: e.costOutput, costReasoning: e.costReasoning, input: e.input, cached: e.cachedInput, output: e.output, reasoning: e.reasoning, calls: 1 });
    this.metrics.runOutcome(e.project, e.agent, 'completed');
    this.inFlight.delete(e.runId);
    inst.genAiTokenUsage.record(e.input + e.cachedInput, { ...genAttrs, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
    // GenAI semconv: output tokens include reasoning (gen_ai.usage.reasoning.output_tokens is a part of them).
    inst.genAiTokenUsage.record(e.output + e.reasoning, { ...genAttrs, [sc.ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    inst.genAiDuration.record(opSeconds, genAttrs);
    inst.runDuration.record((performance.now() - started) / 1000, runAttrs(e.project, e.agent, 'completed'));
    if (!q.priced) audit('pricing.unpriced', e.project, by, { [sc.ATTR_GEN_AI_REQUEST_MODEL]: q.model, [sc.ATTR_SAGEWAI_RUN_ID]: e.runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: e.agent });
    audit('agent.run.completed', e.project, by, { [sc.ATTR_SAGEWAI_RUN_ID]: e.runId, [sc.ATTR_SAGEWAI_AGENT_NAME]: e.agent, [sc.ATTR_GEN_AI_REQUEST_MODEL]: q.model, [sc.ATTR_SAGEWAI_COST_USD]: usd(e.cost), 'gen_ai.usage.input_tokens': e.input, 'gen_ai.usage.output_tokens': e.output + e.reasoning, 'gen_ai.usage.reasoning.output_tokens': e.reasoning });
    for (const c of crossings) audit('budget.threshold', e.project, by, { ...budgetAttrs(c.budget), 'sagewai.budget.threshold': c.threshold });
  }

  /**
   * A connectivity check of the (simulated) provider for one model: a one-token ping that is not
   * a billable agent call, so it writes no ledger row. Audited as provider.test.success|failed.
   */
  async testProvider(project: string | undefined, model: string, fail: FailureKind | undefined, by: string): Promise<z.infer<typeof res.providerTest>> {
    const quote = this.priceBook.quote(model);
    const plan = this.provider.plan({ model, systemPrompt: '', message: 'ping', maxOutputTokens: 1, simulate: { input_tokens: 1, output_tokens: 1, fail } });
    const t0 = performance.now();
    try {
      await this.provider.play(plan, () => undefined);
      const latency = Math.round(performance.now() - t0);
      audit('provider.test.success', project, by, { [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model });
      return { ok: true, provider: quote.provider, model: quote.model, priced: quote.priced, latency_ms: latency };
    } catch (err) {
      const kind = err instanceof ProviderError ? err.kind : 'server_error';
      audit('provider.test.failed', project, by, { [sc.ATTR_GEN_AI_PROVIDER_NAME]: quote.provider, [sc.ATTR_GEN_AI_REQUEST_MODEL]: quote.model, 'error.type': kind });
      return { ok: false, provider: quote.provider, model: quote.model, priced: quote.priced, error: { code: kind, message: err instanceof Error ? err.message : String(err) } };
    }
  }

  /** Live cost of the runs in flight (input priced at start, reasoning at the first token, output as it streams). */
  live(project?: string): Array<z.infer<typeof res.liveState>['runs_in_flight'][number]> {
    const now = Date.now();
    const out: Array<z.infer<typeof res.liveState>['runs_in_flight'][number]> = [];
    for (const r of this.inFlight.values()) {
      if (project && r.project !== project) continue;
      out.push({ run_id: r.run_id, project: r.project, agent: r.agent, model: r.model, started_at: new Date(r.startedAt).toISOString(), elapsed_ms: now - r.startedAt, cost_usd: usd(r.inputCostNusd + r.reasoningCostNusd + r.outputTokensSoFar * r.quote.outputNusd) });
    }
    return out;
  }

  routes(tenancy: Tenancy): RouteBinding[] {
    const ops = operations;
    return [
      bind(ops.run, async (ctx) => {
        const project = await tenancy.required(ctx);
        const input = validate(ops.run.body, await ctx.body());
        const res = ctx.res;
        let open = false;
        const send = (event: keyof typeof ops.run.responses[200]['events'], data: unknown): void => {
          if (!open) {
            res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
            open = true;
          }
          if (!res.writableEnded && !res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        };
        const result = await this.run(project, input, actor(ctx), {
          started: (e) => send('run_started', e),
          delta: (d) => send('text_message_content', { delta: d }),
          warning: (w) => send('budget_warning', w),
        });
        if (result.status === 'error') send('run_error', { run_id: result.run_id, error: result.error });
        send('run_finished', result);
        res.end();
        return undefined;
      }),
      bind(ops.testProvider, async (ctx) => {
        const project = await tenancy.optional(ctx);
        const input = validate(ops.testProvider.body, await ctx.body());
        return { status: 200, body: await this.testProvider(project, input.model, input.fail, actor(ctx)) };
      }),
      bind(ops.listRuns, async (ctx) => {
        const { limit, offset, agent_name, status } = queryOf(ops.listRuns, ctx);
        const rows = await this.store.list({ project: await tenancy.optional(ctx), agent_name, status, limit, offset });
        return { status: 200, body: { items: rows.slice(0, limit).map(runJson), has_more: rows.length > limit } };
      }),
    ];
  }
}
