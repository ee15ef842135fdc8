import { toJsonSchema, type JsonSchema } from './json-schema.js';
import { allowedMethods, operations, pathParams, responsesOf, type Operation } from './operations.js';
import { errorBody } from './responses.js';

/**
 * /openapi.json, rendered from the operation table: every answer with its body schema, query
 * parameters, X-Project-ID, each operation's security, the run's event stream, and per path the
 * methods in the Allow header of a 405 or an OPTIONS answer (`x-allow` on each operation: a path
 * item may hold nothing but operations, and clients walk it as such).
 */
export function buildOpenApi(version: string): { openapi: string; info: { title: string; version: string; description: string }; paths: Record<string, Record<string, unknown>>; [k: string]: unknown } {
  const paths: Record<string, Record<string, unknown>> = {};
  const allow = allowedMethods();
  for (const o of Object.values(operations) as Operation[]) {
    const methods = allow.get(o.path) ?? [];
    (paths[o.path] ??= {})[o.method.toLowerCase()] = operationObject(o, methods);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'sagewai-admin',
      version,
      description:
        'The instrumented admin backend of sagewai-obs. Every client mistake is a 4xx with a JSON `Error` body, never a 5xx. A method a path does not serve answers 405 with `Allow` (the methods in the operation\'s `x-allow`); OPTIONS on a path answers 204 with `Allow` (those methods and OPTIONS); an unknown path answers 404.',
    },
    tags: [...new Set((Object.values(operations) as Operation[]).map((o) => o.area))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'login access_token, a project token (sgp_…) or the operator token' },
        session: { type: 'apiKey', in: 'cookie', name: 'sagewai_session', description: 'changes also need X-CSRF-Token = the sagewai_csrf cookie' },
        workerId: { type: 'apiKey', in: 'header', name: 'X-Worker-Id' },
        workerSecret: { type: 'apiKey', in: 'header', name: 'X-Worker-Secret' },
      },
      schemas: { Error: toJsonSchema(errorBody) },
      responses: {
        MethodNotAllowed: { description: 'The path exists but not with this method', headers: { Allow: { schema: { type: 'string' } } }, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    },
  };
}

function operationObject(o: Operation, methods: string[]): Record<string, unknown> {
  const parameters: unknown[] = pathParams(o.path).map((name) => ({ name, in: 'path', required: true, schema: name === 'scope' ? { type: 'string', enum: ['project', 'team', 'user'] } : { type: 'string', minLength: 1 } }));
  if (o.tenant !== 'none') {
    parameters.push({ name: 'X-Project-ID', in: 'header', required: o.tenant === 'required', description: o.tenant === 'required' ? 'the project this request is about' : 'optional project filter', schema: { type: 'string', minLength: 1 } });
  }
  if (o.query) {
    const q = toJsonSchema(o.query) as { properties: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties)) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest, ...(rest.type === 'array' ? { style: 'form', explode: false } : {}) });
    }
  }
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(responsesOf(o)).sort(([a], [b]) => Number(a) - Number(b))) {
    const headers = spec.headers ? Object.fromEntries(Object.entries(spec.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) : undefined;
    let content: Record<string, unknown> | undefined;
    if (spec.events) {
      const events = Object.entries(spec.events).map(([name, schema]) => [name, toJsonSchema(schema)] as const);
      content = {
        'text/event-stream': {
          // One event of the stream (OpenAPI 3.1: the media type's schema describes each event; 3.2 calls it itemSchema).
          schema: {
            oneOf: events.map(([name, schema]) => ({
              type: 'object',
              required: ['event', 'data'],
              properties: { event: { const: name }, data: { type: 'string', contentMediaType: 'application/json', contentSchema: schema }, id: { type: 'string' }, retry: { type: 'integer' } },
            })),
          },
          'x-events': Object.fromEntries(events),
        },
      };
    } else if (spec.schema) {
      content = { 'application/json': { schema: spec.schema === errorBody ? { $ref: '#/components/schemas/Error' } : toJsonSchema(spec.schema) } };
    }
    responses[status] = { description: spec.description, ...(headers ? { headers } : {}), ...(content ? { content } : {}) };
  }
  const body = o.body ? toJsonSchema(o.body) : undefined;
  return {
    operationId: o.id,
    summary: o.summary,
    tags: [o.area],
    ...(parameters.length ? { parameters } : {}),
    // A body whose every field may be left out may be left out entirely (it reads as {}).
    ...(body ? { requestBody: { required: ((body.required as string[] | undefined) ?? []).length > 0, content: { 'application/json': { schema: body } } } } : {}),
    security: o.auth === 'user' ? [{ bearer: [] }, { session: [] }] : o.auth === 'worker' ? [{ workerId: [], workerSecret: [] }] : [],
    responses,
    'x-allow': methods,
  };
}
