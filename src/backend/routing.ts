import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Operation } from '../contract/operations.js';

/**
 * What an area module gives the request pipeline: handlers bound to operations of the contract
 * (src/contract/operations.ts). A handler answers with one of its operation's success statuses
 * and that status's body type, or throws HttpError for the documented failures.
 */
export type Principal = { kind: 'operator' | 'user' | 'project'; id: string; project: string | null; via: 'bearer' | 'cookie'; csrf?: string; sessionHash?: string };

export interface Ctx {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
  /** The operation's documented query parameters, parsed by its schema before the handler ({} without one). */
  query: Record<string, unknown>;
  principal?: Principal;
  /** Project the request is about (sets sagewai.project_id on the span, metrics and request log). */
  project?: string;
  /** The JSON body, read once (413/415/400 as HttpError). */
  body(): Promise<unknown>;
  /** Aborted when the client goes away before the answer ended (long-polls, streams). */
  readonly abort: AbortSignal;
}

type Headers = Record<string, string | string[]>;
type SuccessStatus = 200 | 201 | 204;

/** The success answers an operation documents, typed from its zod schemas. */
export type ReplyOf<O extends Operation> = {
  [S in keyof O['responses'] & SuccessStatus]: O['responses'][S] extends { schema: infer Z extends z.ZodTypeAny } ? { status: S; body: z.input<Z>; headers?: Headers } : { status: S; body?: undefined; headers?: Headers };
}[keyof O['responses'] & SuccessStatus];

/** undefined: the handler wrote the answer itself (the run's event stream). */
export type Handler<O extends Operation> = (ctx: Ctx) => Promise<ReplyOf<O> | undefined> | ReplyOf<O> | undefined;

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Headers;
}

export interface RouteBinding {
  op: Operation;
  handler: (ctx: Ctx) => Promise<Reply | undefined> | Reply | undefined;
}

export function bind<O extends Operation>(op: O, handler: Handler<O>): RouteBinding {
  return { op, handler: handler as RouteBinding['handler'] };
}

/** The handler's view of ctx.query, typed by its operation's query schema. */
export function queryOf<O extends Operation & { query: z.AnyZodObject }>(_op: O, ctx: Ctx): z.infer<O['query']> {
  return ctx.query as z.infer<O['query']>;
}

export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

/** Caller id for audit records. */
export const actor = (ctx: Ctx): string => ctx.principal?.id ?? 'anonymous';
