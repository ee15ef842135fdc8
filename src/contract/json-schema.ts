import type { z } from 'zod';

/**
 * zod 3 → JSON Schema (2020-12, as OpenAPI 3.1 uses it) for the subset the contract uses.
 * Written here rather than taken from a library: the subset is small, and an unknown zod type
 * throws instead of silently becoming `{}` (a schema that accepts anything would make the
 * conformance test unable to fail).
 */
export type JsonSchema = Record<string, unknown>;

const extras = new WeakMap<z.ZodTypeAny, JsonSchema>();

/**
 * Adds JSON Schema keywords the zod subset cannot produce (a rule between two fields as
 * if/then, `format` instead of the pattern that implements it); a key set to undefined is
 * removed. Returns the same schema, so it reads inline.
 */
export function withJsonSchema<T extends z.ZodTypeAny>(t: T, extra: JsonSchema): T {
  extras.set(t, extra);
  return t;
}

export function toJsonSchema(t: z.ZodTypeAny): JsonSchema {
  let out = convert(t);
  const description = t.description;
  if (description && out.description === undefined) out = { ...out, description };
  const extra = extras.get(t);
  if (extra) {
    out = { ...out, ...extra };
    for (const [k, v] of Object.entries(extra)) if (v === undefined) delete out[k];
  }
  return out;
}

function convert(t: z.ZodTypeAny): JsonSchema {
  const def = t._def as { typeName: string } & Record<string, unknown>;
  switch (def.typeName) {
    case 'ZodObject': {
      const shape = (t as z.AnyZodObject).shape as Record<string, z.ZodTypeAny>;
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(shape)) {
        properties[k] = toJsonSchema(v);
        if (!v.isOptional() && (v._def as { typeName: string }).typeName !== 'ZodDefault') required.push(k);
      }
      const unknownKeys = def.unknownKeys as string;
      return { type: 'object', properties, ...(required.length ? { required } : {}), ...(unknownKeys === 'strict' ? { additionalProperties: false } : {}) };
    }
    case 'ZodString': {
      const s: JsonSchema = { type: 'string' };
      for (const c of def.checks as Array<{ kind: string; value?: number; regex?: RegExp }>) {
        if (c.kind === 'min') s.minLength = c.value;
        else if (c.kind === 'max') s.maxLength = c.value;
        else if (c.kind === 'regex' && c.regex) s.pattern = c.regex.source;
        else if (c.kind === 'email') s.format = 'email';
        else if (c.kind === 'datetime') s.format = 'date-time';
        else if (c.kind === 'date') s.format = 'date';
      }
      return s;
    }
    case 'ZodNumber': {
      const checks = def.checks as Array<{ kind: string; value?: number; inclusive?: boolean }>;
      const s: JsonSchema = { type: checks.some((c) => c.kind === 'int') ? 'integer' : 'number' };
      for (const c of checks) {
        if (c.kind === 'min') s[c.inclusive ? 'minimum' : 'exclusiveMinimum'] = c.value;
        else if (c.kind === 'max') s[c.inclusive ? 'maximum' : 'exclusiveMaximum'] = c.value;
      }
      return s;
    }
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodLiteral':
      return { const: def.value };
    case 'ZodEnum':
      return { type: 'string', enum: def.values };
    case 'ZodArray': {
      const s: JsonSchema = { type: 'array', items: toJsonSchema(def.type as z.ZodTypeAny) };
      const min = def.minLength as { value: number } | null;
      const max = def.maxLength as { value: number } | null;
      if (min) s.minItems = min.value;
      if (max) s.maxItems = max.value;
      return s;
    }
    case 'ZodRecord':
      return { type: 'object', additionalProperties: toJsonSchema(def.valueType as z.ZodTypeAny) };
    case 'ZodUnion':
      return { anyOf: (def.options as z.ZodTypeAny[]).map(toJsonSchema) };
    case 'ZodUnknown':
    case 'ZodAny':
      return {};
    case 'ZodEffects':
      // A refinement: the same shape, the rule itself stated by withJsonSchema where it can be.
      return toJsonSchema(def.schema as z.ZodTypeAny);
    case 'ZodOptional':
      return toJsonSchema(def.innerType as z.ZodTypeAny);
    case 'ZodNullable':
      return { anyOf: [toJsonSchema(def.innerType as z.ZodTypeAny), { type: 'null' }] };
    case 'ZodDefault':
      return { ...toJsonSchema(def.innerType as z.ZodTypeAny), default: (def.defaultValue as () => unknown)() };
    default:
      throw new Error(`toJsonSchema: zod type ${def.typeName} is not supported; add it to src/contract/json-schema.ts`);
  }
}
