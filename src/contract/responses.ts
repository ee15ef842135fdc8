import { z } from 'zod';

/**
 * Response bodies of the admin backend. The server returns these shapes, the client and the HUD
 * read them, /openapi.json renders them, and the conformance test checks every answer against
 * that rendering. Objects are open (extra fields are allowed): a client must ignore what it does
 * not know, so adding a field is not a breaking change.
 */
const iso = z.string().describe('ISO-8601 timestamp (UTC)');
const isoOrNull = iso.nullable();

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }).passthrough(),
});

export const user = z.object({ id: z.string(), email: z.string(), name: z.string(), role: z.string() });
export const setupStatus = z.object({ setup_required: z.boolean() });
export const setupResult = z.object({ org: z.object({ name: z.string(), slug: z.string() }), user });
export const loginResult = z.object({ access_token: z.string(), token_type: z.literal('bearer'), expires_in: z.number().int(), user });
export const me = z.object({ user: user.nullable(), token: z.object({ kind: z.enum(['operator', 'user', 'project']), project: z.string().nullable() }) });
export const ok = z.object({ ok: z.literal(true) });

export const project = z.object({ slug: z.string(), name: z.string(), environment: z.string(), status: z.string(), created_at: iso });
export const projectList = z.object({ items: z.array(project) });
export const projectToken = z.object({ token: z.string(), token_id: z.string(), project: z.string() });

export const agent = z.object({
  project: z.string(),
  name: z.string(),
  model: z.string(),
  system_prompt: z.string(),
  strategy: z.string(),
  temperature: z.number(),
  tools: z.array(z.string()),
  metadata: z.record(z.unknown()),
  max_output_tokens: z.number().int(),
  created_at: iso,
});
export const agentList = z.object({ items: z.array(agent) });

const failure = z.object({ code: z.string(), message: z.string() });
export const runUsage = z.object({
  provider: z.string(),
  model: z.string(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  /** Reasoning (thinking) tokens, not included in output_tokens. */
  reasoning_tokens: z.number().int(),
  cost_usd: z.number(),
  cost_nusd: z.number(),
  priced: z.boolean(),
});
export const runFinished = z.object({ run_id: z.string(), output: z.string(), status: z.enum(['completed', 'error']), usage: runUsage.optional(), error: failure.optional() });

/** The events of POST /playground/run's text/event-stream, in order: started, deltas and warnings, (error), finished. */
export const runEvents = {
  run_started: z.object({ run_id: z.string(), agent: z.string(), model: z.string() }),
  text_message_content: z.object({ delta: z.string() }),
  budget_warning: z.object({ kind: z.enum(['throttled', 'budget_warning']), scope: z.string(), subject: z.string() }).passthrough(),
  run_error: z.object({ run_id: z.string(), error: failure }),
  run_finished: runFinished,
} as const;

export const providerTest = z.object({ ok: z.boolean(), provider: z.string(), model: z.string(), priced: z.boolean(), latency_ms: z.number().optional(), error: failure.optional() });

export const runItem = z.object({
  run_id: z.string(),
  project: z.string(),
  agent_name: z.string(),
  model: z.string(),
  status: z.enum(['running', 'completed', 'error', 'denied']),
  started_at: iso,
  completed_at: isoOrNull,
  total_tokens: z.number().int(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  cost_usd: z.number(),
  error: z.string().nullable(),
});
export const runList = z.object({ items: z.array(runItem), has_more: z.boolean() });

export const registeredWorker = z.object({ worker_id: z.string(), worker_secret: z.string(), status: z.literal('online'), project: z.string(), pool: z.string() });
export const heartbeat = z.object({ ok: z.literal(true), state: z.enum(['online', 'busy']) });
export const task = z.object({
  task_id: z.string(),
  project: z.string(),
  pool: z.string(),
  status: z.enum(['queued', 'claimed', 'completed', 'failed']),
  payload: z.unknown(),
  model: z.string().nullable(),
  worker_id: z.string().nullable(),
  created_at: iso,
  claimed_at: isoOrNull,
  completed_at: isoOrNull,
});
export const taskList = z.object({ items: z.array(task) });
export const taskReported = z.object({ ok: z.literal(true), task });
export const worker = z.object({
  worker_id: z.string(),
  name: z.string(),
  project: z.string(),
  pool: z.string(),
  state: z.enum(['online', 'busy', 'lost']),
  models: z.array(z.string()),
  labels: z.record(z.string()),
  max_concurrent: z.number().int(),
  last_heartbeat_at: iso,
  registered_at: iso,
});
export const workerList = z.object({ items: z.array(worker) });

export const health = z.object({
  status: z.enum(['ok', 'degraded']),
  uptime_s: z.number(),
  version: z.string(),
  instance_id: z.string(),
  counts: z.object({ projects: z.number().int(), agents: z.number().int(), runs: z.number().int(), runs_in_flight: z.number().int(), workers_online: z.number().int(), tasks_queued: z.number().int() }),
  telemetry: z.object({ enabled: z.boolean() }),
});

export const groupByKey = z.enum(['project', 'model', 'agent', 'provider', 'token_type']);
/**
 * The ledger's token types (gen_ai.token.type on the ledger-backed counters). Disjoint, so they add
 * up to a call's tokens: input is the prompt without its cached part, output the visible answer
 * without its reasoning tokens.
 */
export const TOKEN_TYPES = ['input', 'cached_input', 'output', 'reasoning'] as const;
export const tokenType = z.enum(TOKEN_TYPES);
const costNumbers = {
  cost_usd: z.number(),
  cost_nusd: z.number(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  calls: z.number().int(),
  unpriced_calls: z.number().int(),
};
export const costGroup = z.object({ project: z.string().optional(), model: z.string().optional(), agent: z.string().optional(), provider: z.string().optional(), token_type: tokenType.optional(), ...costNumbers });
export const costReport = z.object({ from: iso, to: iso, currency: z.literal('USD'), group_by: z.array(groupByKey), groups: z.array(costGroup), total: z.object(costNumbers) });

/** GET /api/v1/live: what is happening now, for the HUD. The one definition (server, client, HUD). */
export const liveState = z.object({
  generated_at: iso,
  agents: z.array(z.object({ project: z.string(), name: z.string(), model: z.string() })),
  runs_in_flight: z.array(z.object({ run_id: z.string(), project: z.string(), agent: z.string(), model: z.string(), started_at: iso, elapsed_ms: z.number(), cost_usd: z.number() })),
  tasks_in_flight: z.array(z.object({ task_id: z.string(), project: z.string(), pool: z.string(), worker_id: z.string().nullable(), state: z.string(), elapsed_ms: z.number() })),
  workers: z.array(z.object({ worker_id: z.string(), name: z.string(), project: z.string(), pool: z.string(), state: z.string(), last_heartbeat_at: iso })),
});

export const budgetScope = z.enum(['project', 'team', 'user']);
export const budgetWindow = z.enum(['daily', 'monthly']);
export const budgetAction = z.enum(['warn', 'throttle', 'stop']);
export const budgetLimit = z.object({
  id: z.string(),
  project: z.string(),
  scope: budgetScope,
  subject: z.string(),
  window: budgetWindow,
  limit_usd: z.number(),
  action: budgetAction,
  fallback_model: z.string().nullable(),
  created_at: iso,
});
export const budgetLimitList = z.object({ items: z.array(budgetLimit) });
export const budgetStatus = budgetLimit.extend({
  spent_usd: z.number(),
  reserved_usd: z.number(),
  utilization: z.number(),
  window_start: iso,
  resets_at: iso,
  state: z.enum(['ok', 'warning', 'exceeded']),
});
export const budgetStatusList = z.object({ items: z.array(budgetStatus) });

export const probe = z.object({ status: z.enum(['ok', 'ready']) });
export const openApiDocument = z.object({ openapi: z.string(), info: z.object({ title: z.string(), version: z.string() }).passthrough(), paths: z.record(z.unknown()) }).passthrough();

export const priceBookList = z.object({ items: z.array(z.object({ version: z.string(), effective_from: iso, active: z.boolean(), models: z.number().int() })) });
export const priceBookImported = z.object({ version: z.string(), effective_from: iso });
const monthTotal = z.object({ project: z.string(), model: z.string(), cost_nusd: z.number().int(), input_tokens: z.number().int(), cached_input_tokens: z.number().int(), output_tokens: z.number().int(), reasoning_tokens: z.number().int().optional(), calls: z.number().int() });
export const closedMonth = z.object({ month: z.string(), hash: z.string(), prev_hash: z.string(), rows: z.array(monthTotal.extend({ cost_usd: z.number() })) });
export const closedMonthList = z.object({ items: z.array(z.object({ month: z.string(), hash: z.string(), prev_hash: z.string(), closed_at: iso, cost_usd: z.number(), cost_nusd: z.number().int(), rows: z.array(monthTotal) })) });
export const closedMonthChecks = z.object({
  items: z.array(
    z.object({
      month: z.string(),
      hash: z.string(),
      chain_ok: z.boolean(),
      ledger_ok: z.boolean(),
      differences: z.array(z.object({ project: z.string(), model: z.string(), closed_nusd: z.number().int(), ledger_nusd: z.number().int(), closed_calls: z.number().int(), ledger_calls: z.number().int() })),
    }),
  ),
});
