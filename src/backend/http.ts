import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';

/** Small HTTP helpers: typed errors that become JSON bodies, bounded body reading, cookies. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const notFound = (what: string): HttpError => new HttpError(404, 'not_found', `${what} not found`);

export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new HttpError(413, 'payload_too_large', `request body larger than ${limit} bytes`, { limit_bytes: limit }, { connection: 'close' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      throw new HttpError(413, 'payload_too_large', `request body larger than ${limit} bytes`, { limit_bytes: limit }, { connection: 'close' });
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function parseJson(buf: Buffer, contentType: string | undefined): unknown {
  if (buf.length === 0) return {};
  if (contentType && !/json/i.test(contentType)) throw new HttpError(415, 'unsupported_media_type', 'send the body as application/json');
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'invalid_json', `malformed JSON body: ${(err as Error).message}`);
  }
}

export function validate<T extends z.ZodTypeAny>(schema: T, value: unknown): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new HttpError(422, 'validation_failed', 'request body does not match the schema', {
      issues: r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })),
    });
  }
  return r.data;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): number {
  const text = body === undefined ? '' : JSON.stringify(body);
  const buf = Buffer.from(text);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(buf.length), 'cache-control': 'no-store', ...headers });
  res.end(buf);
  return buf.length;
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      out[k] = part.slice(i + 1).trim();
    }
  }
  return out;
}

export function clientIp(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** An ISO-8601 time or epoch seconds (milliseconds when longer than 10 digits); 400 invalid_query otherwise. */
export function timeParam(raw: string | null, dflt: number, name: string): number {
  if (raw === null || raw === '') return dflt;
  const n = /^\d+$/.test(raw) ? Number(raw) * (raw.length <= 10 ? 1000 : 1) : Date.parse(raw);
  // Beyond ±8.64e15 ms a Date has no ISO form; answering it would be a 500.
  if (!Number.isFinite(n) || Math.abs(n) > 8.64e15) throw new HttpError(400, 'invalid_query', `${name} must be an ISO-8601 time or epoch seconds`);
  return n;
}

const inner = (t: z.ZodTypeAny): z.ZodTypeAny => {
  const def = t._def as { typeName: string; innerType?: z.ZodTypeAny };
  return (def.typeName === 'ZodOptional' || def.typeName === 'ZodDefault') && def.innerType ? inner(def.innerType) : t;
};

/**
 * Parses the query parameters an operation documents with their schema (400 invalid_query
 * naming each one), before its handler runs: a value outside the document (an unknown status, a
 * project that is no slug, an empty value) is refused, never quietly read as "no filter".
 * Parameters the document does not name are ignored. Handlers read the result (with the
 * schema's defaults) through `queryOf`.
 */
export function parseQuery(schema: z.AnyZodObject, q: URLSearchParams): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [key, t] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
    const all = q.getAll(key);
    if (all.length === 0) continue;
    const kind = (inner(t)._def as { typeName: string }).typeName;
    const first = all[0] as string;
    if (kind === 'ZodArray') value[key] = all.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    else if (kind === 'ZodNumber') value[key] = /^-?\d+(\.\d+)?$/.test(first.trim()) ? Number(first) : first;
    else value[key] = first;
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code }));
    throw new HttpError(400, 'invalid_query', `query parameter ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
  }
  return r.data as Record<string, unknown>;
}
