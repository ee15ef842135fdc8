import { z } from 'zod';
import { withJsonSchema } from './json-schema.js';

/** Request bodies and query parameters, validated at the edge: a body mismatch is a 422 JSON error, a bad query a 400, never a 500. */
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
const name = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');
const model = z.string().min(1).max(200);

/**
 * An e-mail address as RFC 5322's dot-atom form writes it (the local part may hold any of
 * ! # $ % & ' * + / = ? ^ _ ` { | } ~ -), at a domain of letter-digit-dash labels. zod's own
 * email() refused addresses that format "email" admits, such as a+b/c@example.io.
 */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const email = withJsonSchema(
  z
    .string()
    .max(320)
    .regex(new RegExp(`^${ATEXT}(\\.${ATEXT})*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`), 'Invalid email'),
  { format: 'email', pattern: undefined },
);

export const setupBody = z.object({
  org_name: z.string().min(1).max(200),
  admin_email: email,
  admin_password: z.string().min(8).max(1024),
  org_slug: slug.optional(),
  app_name: z.string().max(200).optional(),
  admin_name: z.string().max(200).optional(),
}).passthrough();

export const loginBody = z.object({ email: z.string().min(1).max(320), password: z.string().min(1).max(1024) });

export const projectBody = z.object({ slug, name: z.string().min(1).max(200), environment: z.string().min(1).max(64).default('production') });

export const projectTokenBody = z.object({ name: z.string().max(128).optional() });

export const agentBody = z.object({
  name,
  model,
  system_prompt: z.string().max(100_000).default(''),
  strategy: z.string().max(64).default('direct'),
  temperature: z.number().min(0).max(2).default(0.7),
  tools: z.array(z.string().max(128)).max(64).default([]),
  metadata: z.record(z.unknown()).default({}),
  max_output_tokens: z.number().int().min(1).max(200_000).default(1024),
});

export const runBody = z.object({
  agent_name: name,
  message: z.string().min(1).max(200_000),
  model: model.optional(),
  user: z.string().min(1).max(128).optional(),
  team: z.string().min(1).max(128).optional(),
  max_output_tokens: z.number().int().min(1).max(200_000).optional(),
  simulate: z
    .object({
      input_tokens: z.number().int().min(0).max(10_000_000).optional(),
      cached_input_tokens: z.number().int().min(0).max(10_000_000).optional(),
      output_tokens: z.number().int().min(0).max(10_000_000).optional(),
      reasoning_tokens: z.number().int().min(0).max(10_000_000).optional(),
      fail: z.enum(['rate_limit', 'timeout', 'server_error']).optional(),
    })
    .optional(),
});

export const registerBody = z.object({
  name: z.string().min(1).max(128),
  models: z.array(model).max(64).default([]),
  pool: name.default('default'),
  labels: z.record(z.string().max(256)).default({}),
  max_concurrent: z.number().int().min(1).max(1024).default(1),
});

export const heartbeatBody = z.object({ status: z.enum(['online', 'busy']).optional(), active_tasks: z.number().int().min(0).optional() }).passthrough();

export const claimBody = z.object({ wait_ms: z.number().int().min(0).max(60_000).default(0) }).passthrough();

export const reportBody = z.object({
  task_id: z.string().min(1).max(64),
  status: z.enum(['completed', 'failed']),
  result: z.unknown().optional(),
  error: z.string().max(2000).optional(),
});

export const providerTestBody = z.object({ model, fail: z.enum(['rate_limit', 'timeout', 'server_error']).optional() });

export const taskBody = z.object({ pool: name.default('default'), payload: z.unknown().default({}), model: model.optional() });

export const budgetBody = withJsonSchema(
  z
    .object({
      scope: z.enum(['project', 'team', 'user']),
      subject: z.string().min(1).max(128).optional().describe('the team or user name (required for those scopes); for scope project, X-Project-ID itself or left out'),
      window: z.enum(['daily', 'monthly']),
      limit_usd: z.number().nonnegative().max(1_000_000_000),
      action: z.enum(['warn', 'throttle', 'stop']),
      fallback_model: model.optional().describe('the model a throttled call falls back to (required for action throttle)'),
    })
    .superRefine((b, ctx) => {
      if (b.scope !== 'project' && b.subject === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['subject'], message: `Required for scope ${b.scope}` });
      if (b.action === 'throttle' && b.fallback_model === undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['fallback_model'], message: 'Required for throttle' });
    }),
  {
    allOf: [
      { if: { properties: { scope: { enum: ['team', 'user'] } }, required: ['scope'] }, then: { required: ['subject'] } },
      { if: { properties: { action: { const: 'throttle' } }, required: ['action'] }, then: { required: ['fallback_model'] } },
    ],
  },
);

/** Budget limit to delete: the id that POST /api/v1/budget/limits answered. */
export const budgetId = z.string().min(1).max(64);

// Query parameters (documented in /openapi.json; the handlers parse them with the same bounds).
const projectParam = slug.describe('project slug; X-Project-ID takes precedence; a project token is always held to its own project');
export const tenantQuery = z.object({ project: projectParam.optional() });
export const runsQuery = z.object({
  project: projectParam.optional(),
  agent_name: z.string().min(1).max(128).optional(),
  status: z.enum(['running', 'completed', 'error', 'denied']).optional(),
  limit: z.number().int().min(1).max(500).default(50),
  offset: z.number().int().min(0).max(1_000_000_000).default(0),
});
export const tasksQuery = z.object({ project: projectParam.optional(), status: z.enum(['queued', 'claimed', 'completed', 'failed']).optional() });
/** What the analytics time parameters accept (up to year 275760, a JavaScript Date's end): a time, a UTC date, or epoch digits. */
const time = z.union([z.string().datetime({ offset: true }), z.string().date(), z.string().regex(/^\d{1,15}$/)]);
export const costsQuery = z.object({
  project: projectParam.optional(),
  from: time.optional().describe('ISO-8601 time or date (a date is its UTC midnight), or epoch seconds (milliseconds when longer than 10 digits); default: the beginning'),
  to: time.optional().describe('ISO-8601 time or date (a date is its UTC midnight), or epoch seconds (milliseconds when longer than 10 digits), not before `from`; default: now'),
  group_by: z.array(z.enum(['project', 'model', 'agent', 'provider', 'token_type'])).optional().describe('comma-separated, or the parameter repeated'),
});

export const priceBookImportBody = z.object({ text: z.string().min(2).max(1_000_000).describe('The price book file, as text (JSON shaped like assets/pricebook.json)') });
export const closeMonthBody = z.object({ month: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/).describe('YYYY-MM (UTC)') });
