import fc from 'fast-check';

/**
 * The JSON Schema subset /openapi.json uses, read independently of the code that wrote it:
 * a validator (for answers) and fast-check generators (for requests). An unknown keyword throws,
 * so the document cannot quietly outgrow what these check.
 */
export type Schema = Record<string, unknown>;
const KNOWN = new Set(['type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'anyOf', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'format', 'default', 'description', 'minItems', 'maxItems', '$ref']);

export function validateSchema(root: Schema, schema: Schema, value: unknown, at = '$'): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${at} is not understood by this validator`);
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], root);
    return validateSchema(root, target as Schema, value, at);
  }
  if (Array.isArray(schema.anyOf)) {
    const each = (schema.anyOf as Schema[]).map((s) => validateSchema(root, s, value, at));
    return each.some((e) => e.length === 0) ? [] : [`${at}: matches none of anyOf (${each.map((e) => e[0]).join(' | ')})`];
  }
  const errs: string[] = [];
  if ('const' in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) errs.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const type = schema.type as string | undefined;
  if (type === undefined) return errs;
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const ok = type === actual || (type === 'integer' && typeof value === 'number' && Number.isInteger(value));
  if (!ok) return [...errs, `${at}: expected ${type}, got ${actual}`];
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errs.push(`${at}: ${value} < ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errs.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errs.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.format === 'date' && !/^\d{4}-\d\d-\d\d$/.test(value)) errs.push(`${at}: ${JSON.stringify(value)} is not a date`);
    if (schema.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) errs.push(`${at}: ${JSON.stringify(value)} is not a date-time`);
  }
  if (Array.isArray(value)) value.forEach((v, i) => errs.push(...validateSchema(root, (schema.items as Schema) ?? {}, v, `${at}[${i}]`)));
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) errs.push(`${at}: missing ${r}`);
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) errs.push(...validateSchema(root, props[k], v, `${at}.${k}`));
      else if (schema.additionalProperties === false) errs.push(`${at}: unexpected ${k}`);
      else if (typeof schema.additionalProperties === 'object') errs.push(...validateSchema(root, schema.additionalProperties as Schema, v, `${at}.${k}`));
    }
  }
  return errs;
}

/**
 * Names whose values a valid request should mostly take from the running backend (else nothing
 * but 404s); `{ only }` replaces the generated values (still within the schema).
 */
export type Hints = Record<string, fc.Arbitrary<unknown> | { only: fc.Arbitrary<unknown> }>;

const simpleEmail = fc.tuple(fc.stringMatching(/^[a-z]{1,12}$/), fc.stringMatching(/^[a-z]{1,12}$/)).map(([a, b]) => `${a}@${b}.test`);

/** Values the schema admits. `hints[name]` is mixed into the property (or parameter) of that name. */
export function arbitraryFor(schema: Schema, hints: Hints = {}, name?: string): fc.Arbitrary<unknown> {
  const hint = name !== undefined ? hints[name] : undefined;
  if (hint && 'only' in hint) return hint.only;
  const plain = plainArbitrary(schema, hints);
  return hint ? fc.oneof({ arbitrary: hint, weight: 3 }, { arbitrary: plain, weight: 1 }) : plain;
}

function plainArbitrary(schema: Schema, hints: Hints): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.anyOf)) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => arbitraryFor(s, hints)));
  if ('const' in schema) return fc.constant(schema.const);
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  const min = (k: string, d: number): number => (typeof schema[k] === 'number' ? (schema[k] as number) : d);
  switch (schema.type) {
    case 'string': {
      const lo = min('minLength', 0);
      const hi = min('maxLength', 40);
      let a: fc.Arbitrary<string>;
      if (schema.format === 'email') a = simpleEmail;
      else if (schema.format === 'date') a = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
      else if (schema.format === 'date-time') a = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
      else if (typeof schema.pattern === 'string') a = fc.stringMatching(new RegExp(schema.pattern));
      else a = fc.string({ minLength: lo, maxLength: Math.min(hi, lo + 40), unit: 'grapheme' });
      return a.filter((s) => s.length >= lo && s.length <= hi);
    }
    case 'integer':
      return fc.integer({ min: min('minimum', -1_000_000), max: min('maximum', 1_000_000) });
    case 'number':
      return fc.double({ min: min('minimum', -1e6), max: min('maximum', 1e6), noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(arbitraryFor((schema.items as Schema) ?? {}, hints), { minLength: min('minItems', 0), maxLength: Math.min(min('maxItems', 4), 4) });
    case 'object': {
      const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
      if (Object.keys(props).length === 0) {
        const values = typeof schema.additionalProperties === 'object' ? arbitraryFor(schema.additionalProperties as Schema, hints) : fc.jsonValue({ maxDepth: 2 });
        return fc.dictionary(fc.stringMatching(/^[a-z_]{1,10}$/), values, { maxKeys: 3 });
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, s] of Object.entries(props)) model[k] = arbitraryFor(s, hints, k);
      return fc.record(model, { requiredKeys: (schema.required as string[] | undefined) ?? [] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value of the wrong JSON type for this schema (undefined when the schema admits anything). */
export function wrongTypeFor(schema: Schema): unknown {
  if (Array.isArray(schema.anyOf)) return schema.anyOf.some((s) => (s as Schema).type === 'string') ? 12345 : 'not-this';
  if (Array.isArray(schema.enum)) return 'certainly-not-in-the-enum';
  switch (schema.type) {
    case 'string':
      return 12345;
    case 'integer':
    case 'number':
      return 'not a number';
    case 'boolean':
      return 'yes';
    case 'array':
      return { not: 'an array' };
    case 'object':
      return ['not', 'an', 'object'];
    default:
      return 'const' in schema ? 'not-the-constant' : undefined;
  }
}
