import type { z } from 'zod';
import { toJsonSchema } from './schemas.js';

/** /openapi.json, generated from the route table and the zod request schemas. */
export function buildOpenApi(version: string, routes: Array<{ method: string; template: string; summary: string; auth: string; schema?: z.ZodTypeAny | undefined }>): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const errorRef = { $ref: '#/components/schemas/Error' };
  for (const r of routes) {
    const params = [...r.template.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const op: Record<string, unknown> = {
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(r.schema ? { requestBody: { required: true, content: { 'application/json': { schema: toJsonSchema(r.schema) } } } } : {}),
      security: r.auth === 'user' ? [{ bearer: [] }, { session: [] }] : r.auth === 'worker' ? [{ workerId: [], workerSecret: [] }] : [],
      responses: {
        '200': { description: 'OK' },
        '4XX': { description: 'Client error', content: { 'application/json': { schema: errorRef } } },
      },
    };
    (paths[r.template] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'sagewai-admin', version, description: 'The instrumented admin backend of sagewai-obs.' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        session: { type: 'apiKey', in: 'cookie', name: 'sagewai_session' },
        workerId: { type: 'apiKey', in: 'header', name: 'X-Worker-Id' },
        workerSecret: { type: 'apiKey', in: 'header', name: 'X-Worker-Secret' },
      },
      schemas: {
        Error: { type: 'object', required: ['error'], properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } } },
      },
    },
  };
}
