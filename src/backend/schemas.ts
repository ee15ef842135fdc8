import { z } from 'zod';

/** Request bodies, validated at the edge: a mismatch is a 422 JSON error, never a 500. */
const slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');
const name = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, dot, dash, underscore');
const model = z.string().min(1).max(200);

export const setupBody = z.object({
  org_name: z.string().min(1).max(200),
  admin_email: z.string().email().max(320),
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

export const budgetBody = z.object({
  scope: z.enum(['project', 'team', 'user']),
  subject: z.string().min(1).max(128).optional(),
  window: z.enum(['daily', 'monthly']),
  limit_usd: z.number().nonnegative().max(1_000_000_000),
  action: z.enum(['warn', 'throttle', 'stop']),
  fallback_model: model.optional(),
});

/** A small zod → JSON Schema rendering for the subset used above, for /openapi.json. */
export function toJsonSchema(t: z.ZodTypeAny): Record<string, unknown> {
  const def = t._def as { typeName: string } & Record<string, unknown>;
  switch (def.typeName) {
    case 'ZodObject': {
      const shape = (t as z.ZodObject<z.ZodRawShape>).shape;
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(shape)) {
        properties[k] = toJsonSchema(v);
        if (!v.isOptional()) required.push(k);
      }
      return { type: 'object', properties, ...(required.length ? { required } : {}) };
    }
    case 'ZodString':
      return { type: 'string' };
    case 'ZodNumber':
      return { type: (def.checks as Array<{ kind: string }>).some((c) => c.kind === 'int') ? 'integer' : 'number' };
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodArray':
      return { type: 'array', items: toJsonSchema(def.type as z.ZodTypeAny) };
    case 'ZodRecord':
      return { type: 'object', additionalProperties: toJsonSchema(def.valueType as z.ZodTypeAny) };
    case 'ZodEnum':
      return { type: 'string', enum: def.values };
    case 'ZodOptional':
      return toJsonSchema(def.innerType as z.ZodTypeAny);
    case 'ZodDefault':
      return { ...toJsonSchema(def.innerType as z.ZodTypeAny), default: (def.defaultValue as () => unknown)() };
    default:
      return {};
  }
}
