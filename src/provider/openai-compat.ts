import crypto from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { ProviderError, SimulatedProvider, estimateTokens, type FailureKind, type FailureRates } from '../backend/provider.js';

/**
 * The simulated LLM provider behind the OpenAI Chat Completions wire format, so that apps built
 * on the official OpenAI clients (and their OpenTelemetry instrumentations) can be observed by
 * sagewai-obs without a key or a bill. Token counts and text come from the same deterministic
 * simulator as the admin backend's runs; every answered call is recorded, so a test knows the
 * true token counts that the telemetry must add up to.
 */

export interface OpenAiProviderOptions {
  host?: string | undefined;
  /** 0 = any free port. */
  port?: number | undefined;
  seed?: number | undefined;
  /** Multiplies the simulated latency; 0 answers at once. */
  latencyScale?: number | undefined;
  failureRates?: FailureRates | undefined;
  /**
   * A prompt prefix (whole messages) already sent for the same model counts as cached input once it
   * holds at least this many tokens. Real providers use 1,024; the default is lower so the short
   * prompts of the examples show caching too.
   */
  cacheMinTokens?: number | undefined;
  /** Largest accepted request body in bytes. */
  bodyLimit?: number | undefined;
}

/** One call the provider answered (or refused with a simulated failure). */
export interface RecordedCall {
  id: string;
  at: string;
  model: string;
  stream: boolean;
  /** Total prompt tokens, cached ones included (OpenAI's meaning of prompt_tokens). */
  prompt_tokens: number;
  cached_tokens: number;
  /** Every completion token, reasoning ones included (OpenAI's meaning of completion_tokens). */
  completion_tokens: number;
  /** The part of completion_tokens the model spent thinking (completion_tokens_details.reasoning_tokens). */
  reasoning_tokens: number;
  /** The `OpenAI-Project` header the client sent, if any. */
  project: string | null;
  /** The request's `user` field, if any. */
  user: string | null;
  status: 'ok' | FailureKind;
}

export interface RunningOpenAiProvider {
  url: string;
  port: number;
  /** Every call so far, oldest first. */
  calls(): readonly RecordedCall[];
  close(): Promise<void>;
}

const contentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(contentPart), z.null()]).optional(),
    name: z.string().optional(),
  })
  .passthrough();

const chatRequest = z
  .object({
    model: z.string().min(1).max(256),
    messages: z.array(message).min(1).max(10_000),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).passthrough().nullable().optional(),
    max_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
    max_completion_tokens: z.number().int().positive().max(1_000_000).nullable().optional(),
    n: z.literal(1).nullable().optional(),
    user: z.string().max(512).optional(),
  })
  .passthrough();

type ChatRequest = z.infer<typeof chatRequest>;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const ROUTES: Record<string, string[]> = {
  '/v1/chat/completions': ['POST'],
  '/v1/models': ['GET'],
  '/v1/calls': ['GET'],
};

function textOf(content: ChatRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((p) => p.text ?? '').join('');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(buf.length), ...headers });
  res.end(buf);
}

function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.status, { error: { message: err.message, type: err.type, param: err.param, code: err.code } }, err.headers);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type && !/json/i.test(type)) throw new ApiError(415, 'invalid_request_error', 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, 'invalid_request_error', `request body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) throw new ApiError(400, 'invalid_request_error', 'the request body is empty; send a JSON object with model and messages');
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new ApiError(400, 'invalid_request_error', `malformed JSON body: ${(err as Error).message}`);
  }
}

function failureFromHeader(req: IncomingMessage): FailureKind | undefined {
  const v = req.headers['x-sagewai-simulate-fail'];
  if (v === undefined) return undefined;
  if (v === 'rate_limit' || v === 'timeout' || v === 'server_error') return v;
  throw new ApiError(400, 'invalid_request_error', 'x-sagewai-simulate-fail must be rate_limit, timeout or server_error', 'x-sagewai-simulate-fail');
}

function apiErrorFor(kind: FailureKind): ApiError {
  if (kind === 'rate_limit') return new ApiError(429, 'rate_limit_error', 'Rate limit reached (simulated).', null, 'rate_limit_exceeded', { 'retry-after': '1' });
  if (kind === 'timeout') return new ApiError(504, 'timeout', 'The provider timed out (simulated).');
  return new ApiError(500, 'server_error', 'The provider had an error while processing the request (simulated).');
}

export async function startOpenAiProvider(opts: OpenAiProviderOptions = {}): Promise<RunningOpenAiProvider> {
  const seed = opts.seed ?? 42;
  const sim = new SimulatedProvider({ seed, failureRates: opts.failureRates ?? { rate_limit: 0, timeout: 0, server_error: 0 }, latencyScale: opts.latencyScale ?? 1 });
  const cacheMin = opts.cacheMinTokens ?? 64;
  const bodyLimit = opts.bodyLimit ?? 4 * 1024 * 1024;
  const seenPrefixes = new Set<string>();
  const calls: RecordedCall[] = [];
  let sequence = 0;

  /** Prompt tokens and the cached part: the longest earlier-seen prefix of whole messages. */
  function countPrompt(req: ChatRequest): { prompt: number; cached: number } {
    const hash = crypto.createHash('sha256').update(req.model);
    let prompt = 0;
    let cached = 0;
    req.messages.forEach((m, i) => {
      const text = textOf(m.content);
      // A few tokens of framing per message, as chat formats have.
      prompt += estimateTokens(text) + 3;
      hash.update(`\u0000${m.role}\u0000${text}`);
      const key = hash.copy().digest('hex');
      // The last message is the new turn; only earlier ones can be a cached prefix.
      if (i < req.messages.length - 1) {
        if (seenPrefixes.has(key) && prompt >= cacheMin) cached = prompt;
        seenPrefixes.add(key);
      }
    });
    return { prompt, cached };
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parsed = chatRequest.safeParse(await readJson(req, bodyLimit));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError(400, 'invalid_request_error', `invalid request: ${issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'does not match the schema'}`, issue?.path.join('.') || null);
    }
    const body = parsed.data;
    const forced = failureFromHeader(req);
    const { prompt, cached } = countPrompt(body);
    const maxOut = body.max_completion_tokens ?? body.max_tokens ?? 4096;
    const system = body.messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => textOf(m.content)).join('\n');
    const last = textOf(body.messages[body.messages.length - 1]?.content);
    const plan = sim.plan({ model: body.model, systemPrompt: system, message: last, maxOutputTokens: maxOut, simulate: { input_tokens: prompt - cached, cached_input_tokens: cached, fail: forced } });
    const completion = plan.outputTokens + plan.reasoningTokens;
    const seq = sequence++;
    const id = `chatcmpl-${crypto.createHash('sha256').update(`${seed}|${seq}`).digest('hex').slice(0, 24)}`;
    const created = Math.floor(Date.now() / 1000);
    const record: RecordedCall = {
      id,
      at: new Date().toISOString(),
      model: body.model,
      stream: body.stream === true,
      prompt_tokens: prompt,
      cached_tokens: cached,
      completion_tokens: completion,
      reasoning_tokens: plan.reasoningTokens,
      project: typeof req.headers['openai-project'] === 'string' ? req.headers['openai-project'] : null,
      user: body.user ?? null,
      status: 'ok',
    };
    const usage = {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: plan.reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const finish = completion >= maxOut ? 'length' : 'stop';
    const fingerprint = `fp_sim${seed}`;

    if (body.stream !== true) {
      try {
        await sim.play(plan, () => undefined);
      } catch (err) {
        if (!(err instanceof ProviderError)) throw err;
        calls.push({ ...record, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, status: err.kind });
        throw apiErrorFor(err.kind);
      }
      calls.push(record);
      sendJson(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model: body.model,
        system_fingerprint: fingerprint,
        choices: [{ index: 0, message: { role: 'assistant', content: plan.text, refusal: null }, logprobs: null, finish_reason: finish }],
        usage,
      });
      return;
    }

    // Streaming: a failure planned before the first token is an HTTP error, as real providers answer.
    if (plan.failure === 'rate_limit' || plan.failure === 'timeout') {
      calls.push({ ...record, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, status: plan.failure });
      throw apiErrorFor(plan.failure);
    }
    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): string =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: fingerprint, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
    try {
      await sim.play(plan, (delta) => {
        res.write(chunk([{ index: 0, delta: { content: delta }, logprobs: null, finish_reason: null }]));
      });
    } catch (err) {
      if (!(err instanceof ProviderError)) throw err;
      // Mid-stream failure: an error event, then the stream ends without [DONE]; nothing is billed.
      calls.push({ ...record, prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, reasoning_tokens: 0, status: err.kind });
      const e = apiErrorFor(err.kind);
      res.end(`data: ${JSON.stringify({ error: { message: e.message, type: e.type, param: null, code: null } })}\n\n`);
      return;
    }
    calls.push(record);
    res.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }]));
    if (includeUsage) res.write(chunk([], { usage }));
    res.end('data: [DONE]\n\n');
  }

  function models(res: ServerResponse): void {
    const seen = [...new Set(calls.map((c) => c.model))];
    sendJson(res, 200, { object: 'list', data: seen.map((m) => ({ id: m, object: 'model', created: 0, owned_by: 'sagewai-obs-simulator' })) });
  }

  function recorded(res: ServerResponse): void {
    const ok = calls.filter((c) => c.status === 'ok');
    const total = ok.reduce(
      (t, c) => ({ prompt_tokens: t.prompt_tokens + c.prompt_tokens, cached_tokens: t.cached_tokens + c.cached_tokens, completion_tokens: t.completion_tokens + c.completion_tokens, reasoning_tokens: t.reasoning_tokens + c.reasoning_tokens }),
      { prompt_tokens: 0, cached_tokens: 0, completion_tokens: 0, reasoning_tokens: 0 },
    );
    sendJson(res, 200, { object: 'list', data: calls, total: { calls: ok.length, failed: calls.length - ok.length, ...total } });
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const allowed = ROUTES[path];
    const handle = async (): Promise<void> => {
      if (!allowed) throw new ApiError(404, 'invalid_request_error', `unknown path ${path}; this simulator serves ${Object.keys(ROUTES).join(', ')}`, null, 'unknown_url');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { allow: [...allowed, 'OPTIONS'].join(', ') });
        res.end();
        return;
      }
      if (!allowed.includes(req.method ?? '')) throw new ApiError(405, 'invalid_request_error', `${req.method} is not allowed on ${path}`, null, 'method_not_allowed', { allow: [...allowed, 'OPTIONS'].join(', ') });
      if (path === '/v1/chat/completions') await chat(req, res);
      else if (path === '/v1/models') models(res);
      else recorded(res);
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      req.resume();
      sendError(res, err instanceof ApiError ? err : new ApiError(500, 'server_error', 'internal error in the simulator'));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host ?? '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/v1`,
    port,
    calls: () => calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
