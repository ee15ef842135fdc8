/**
 * Example 12 — budget enforcement. User caps alice $10/day warn, bob $3/day throttle (falls back
 * to a cheaper model), intern $1/day stop, and team engineering $50/day warn. Spending up to
 * each cap proves: warn lets the call through with an event; throttle switches to the cheaper
 * model; stop answers a clear 402 budget error with Retry-After; and a burst of 20 concurrent
 * calls at a nearly exhausted stop cap overshoots it by exactly $0.
 */
import { BackendApiError, type RunEvent, type RunFinished } from '../src/clients/backend.js';
import type { ExpectedEvent } from '../src/run-example/verify.js';
import { ExampleContext, type ExampleOptions, type ExampleResultBase } from '../src/driver/context.js';
import { callNusd, loadBook } from '../src/driver/pricebook.js';
import { signIn } from '../src/driver/session.js';

export const DEFAULT_SEED = 12;
export const MODEL = 'claude-sonnet-4-5';
export const FALLBACK = 'claude-haiku-4-5';
export const TEAM = 'engineering';
export const CAPS = [
  { scope: 'user', subject: 'alice', limitUsd: 10, action: 'warn' },
  { scope: 'user', subject: 'bob', limitUsd: 3, action: 'throttle' },
  { scope: 'user', subject: 'intern', limitUsd: 1, action: 'stop' },
  { scope: 'team', subject: TEAM, limitUsd: 50, action: 'warn' },
  { scope: 'user', subject: 'contractor', limitUsd: 1, action: 'stop' },
] as const;
export const BURST = 20;
/** Output tokens of every call; the worst-case reservation uses the same number. */
const OUT = 1000;

interface CallOutcome {
  user: string;
  status: number;
  model?: string;
  costNusd: number;
  warned: boolean;
  error?: { code: string; message: string; retryAfter?: number };
}

export interface Example12Result extends ExampleResultBase {
  example: '12';
  project: string;
  calls: CallOutcome[];
  burst: { calls: number; succeeded: number; denied: number; other: number; expectedSucceeded: number; capUsd: number; spentBeforeUsd: number; spentAfterUsd: number; overshootUsd: number };
  budgets: Array<{ scope: string; subject: string; action: string; limitUsd: number; spentUsd: number; utilization: number; state: string }>;
}

export async function run(options: ExampleOptions): Promise<Example12Result> {
  const ctx = new ExampleContext(options, DEFAULT_SEED);
  const { api, progress } = ctx;
  const book = loadBook();
  // A fresh project per run: caps are daily, so a second run today must not start exhausted.
  const project = `umbrella-eng-${Date.now().toString(36)}`;
  const calls: CallOutcome[] = [];
  try {
    progress.phase = 'setup';
    await signIn(ctx);
    await api.createProject({ slug: project, name: 'Umbrella Engineering', environment: 'production' });
    await api.createAgent(project, { name: 'assistant', model: MODEL, system_prompt: 'Engineering assistant', strategy: 'direct', temperature: 0.2, tools: [], metadata: {} });
    for (const c of CAPS) {
      await api.setBudget(project, { scope: c.scope, subject: c.subject, window: 'daily', limit_usd: c.limitUsd, action: c.action, ...(c.action === 'throttle' ? { fallback_model: FALLBACK } : {}) });
    }
    ctx.log(`project ${project}: caps ${CAPS.map((c) => `${c.subject} $${c.limitUsd} ${c.action}`).join(', ')}`);

    const call = async (user: string, inputTokens: number, team?: string): Promise<CallOutcome> => {
      let warned = false;
      let startedModel: string | undefined;
      try {
        const fin: RunFinished = await api.run(
          project,
          { agent_name: 'assistant', message: `work item for ${user}`, user, ...(team ? { team } : {}), max_output_tokens: OUT, simulate: { input_tokens: inputTokens, output_tokens: OUT } },
          (e: RunEvent) => {
            if (e.type === 'run_started') startedModel = e.data.model;
            const kind = (e.data as { kind?: unknown }).kind;
            if (e.type === 'budget_warning' || kind === 'budget_warning') warned = true;
          },
        );
        progress.runs++;
        progress.spendUsd += fin.usage?.cost_usd ?? 0;
        const out: CallOutcome = { user, status: 200, costNusd: fin.usage?.cost_nusd ?? 0, warned };
        const model = fin.usage?.model ?? startedModel;
        if (model) out.model = model;
        return out;
      } catch (err) {
        if (!(err instanceof BackendApiError)) throw err;
        progress.denied++;
        const e: CallOutcome['error'] = { code: err.code, message: err.message };
        if (err.retryAfterSeconds !== undefined) e.retryAfter = err.retryAfterSeconds;
        return { user, status: err.status, costNusd: 0, warned, error: e };
      }
    };
    const price = (model: string, input: number): number => callNusd(book, model, input, OUT);

    // warn: alice spends past $10 (4 × $3.015); the next call still goes through, with a warning.
    progress.phase = 'warn';
    for (let i = 0; i < 4; i++) calls.push(await call('alice', 1_000_000, TEAM));
    const aliceOver = await call('alice', 1_000_000, TEAM);
    calls.push(aliceOver);
    ctx.check('warn: a call past the cap goes through', aliceOver.status === 200 && aliceOver.model === MODEL, `status ${aliceOver.status}, model ${aliceOver.model}`);
    ctx.check('warn: the call carries a budget warning', aliceOver.warned, aliceOver.warned ? 'budget_warning event in the stream' : 'no budget_warning event in the stream');

    // throttle: bob's first call fits; the next would cross $3, so it runs on the fallback model.
    progress.phase = 'throttle';
    const bob1 = await call('bob', 800_000, TEAM);
    const bob2 = await call('bob', 800_000, TEAM);
    calls.push(bob1, bob2);
    ctx.check('throttle: under the cap the requested model runs', bob1.status === 200 && bob1.model === MODEL, `model ${bob1.model}`);
    ctx.check('throttle: over the cap the cheaper model runs', bob2.status === 200 && bob2.model === FALLBACK && bob2.costNusd === price(FALLBACK, 800_000), `model ${bob2.model}, cost ${bob2.costNusd} nUSD (price book at ${FALLBACK}: ${price(FALLBACK, 800_000)})`);

    // stop: the intern spends 3 × $0.315; the fourth call would cross $1 and is refused.
    progress.phase = 'stop';
    for (let i = 0; i < 3; i++) calls.push(await call('intern', 100_000));
    const internOver = await call('intern', 100_000);
    calls.push(internOver);
    ctx.check('stop: the call over the cap is refused with 402', internOver.status === 402, `status ${internOver.status}`);
    ctx.check('stop: the error says budget_exceeded', internOver.error?.code === 'budget_exceeded' && /budget/i.test(internOver.error.message), internOver.error ? `${internOver.error.code}: ${internOver.error.message}` : 'no error body');
    ctx.check('stop: Retry-After says when the window resets', (internOver.error?.retryAfter ?? 0) > 0 && (internOver.error?.retryAfter ?? 0) <= 86_400, `Retry-After ${internOver.error?.retryAfter ?? 'missing'} s`);
    ctx.check('stop: never a 5xx', calls.every((c) => c.status < 500), `${calls.filter((c) => c.status >= 500).length} × 5xx`);

    // burst: the contractor's $1 stop cap nearly exhausted, then 20 concurrent calls.
    progress.phase = 'burst';
    for (let i = 0; i < 3; i++) calls.push(await call('contractor', 100_000));
    const capNusd = 1_000_000_000;
    const before = sumNusd(calls.filter((c) => c.user === 'contractor'));
    const burstInput = 3000;
    const per = price(MODEL, burstInput);
    const burst = await Promise.all(Array.from({ length: BURST }, () => call('contractor', burstInput)));
    calls.push(...burst);
    const after = sumNusd(calls.filter((c) => c.user === 'contractor'));
    const succeeded = burst.filter((c) => c.status === 200).length;
    const denied = burst.filter((c) => c.status === 402).length;
    const expectedSucceeded = Math.floor((capNusd - before) / per);
    const statusNow = await api.budgetStatus(project, { scope: 'user', subject: 'contractor' });
    const contractorSpentUsd = statusNow.find((s) => s.subject === 'contractor')?.spent_usd ?? Number.NaN;
    const overshootNusd = Math.max(0, after - capNusd);
    ctx.check('burst: overshoot is exactly $0', overshootNusd === 0 && Math.round(contractorSpentUsd * 1e9) <= capNusd, `spent ${after} nUSD of ${capNusd} (backend says $${contractorSpentUsd}); overshoot ${overshootNusd} nUSD`);
    ctx.check('burst: every call that fit went through', succeeded === expectedSucceeded, `${succeeded} succeeded, ${expectedSucceeded} fit in the $${((capNusd - before) / 1e9).toFixed(4)} left`);
    ctx.check('burst: the rest got the budget error', denied === BURST - succeeded, `${denied} × 402 of ${BURST - succeeded} expected`);

    const statuses = await api.budgetStatus(project);
    const budgets = statuses.map((s) => ({ scope: s.scope, subject: s.subject, action: s.action, limitUsd: s.limit_usd, spentUsd: s.spent_usd, utilization: s.utilization, state: s.state }));
    const team = budgets.find((b) => b.scope === 'team' && b.subject === TEAM);
    const teamExpected = sumNusd(calls.filter((c) => c.user === 'alice' || c.user === 'bob'));
    ctx.check('team engineering counts alice and bob', team !== undefined && Math.round(team.spentUsd * 1e9) === teamExpected, `team spent $${team?.spentUsd}, alice + bob $${teamExpected / 1e9}`);
    progress.phase = 'done';
    const endMs = Date.now();

    return {
      example: '12',
      title: 'budget enforcement',
      seed: ctx.seed,
      window: ctx.window(endMs),
      projects: [project],
      requests: ctx.requestsSummary(endMs),
      checks: ctx.checks,
      project,
      calls,
      burst: { calls: BURST, succeeded, denied, other: BURST - succeeded - denied, expectedSucceeded, capUsd: capNusd / 1e9, spentBeforeUsd: before / 1e9, spentAfterUsd: after / 1e9, overshootUsd: overshootNusd / 1e9 },
      budgets,
    };
  } finally {
    await ctx.close();
  }
}

function sumNusd(calls: readonly CallOutcome[]): number {
  return calls.reduce((a, c) => a + (c.status === 200 ? c.costNusd : 0), 0);
}

export function expectedEvents(r: Example12Result): ExpectedEvent[] {
  return [
    { event: 'agent.run.completed', project: r.project },
    { event: 'budget.warning', project: r.project },
    { event: 'budget.exceeded', project: r.project },
    { event: 'budget.threshold', project: r.project },
  ];
}
