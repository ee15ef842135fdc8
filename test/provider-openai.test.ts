import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpenAiProvider, type RunningOpenAiProvider } from '../src/provider/openai-compat.js';

// The official OpenAI client (a library nobody here wrote) talks to the simulator exactly as it
// would talk to the real API: if the wire format drifts, its parsing fails here.
const running: RunningOpenAiProvider[] = [];
async function start(seed = 7): Promise<{ p: RunningOpenAiProvider; client: OpenAI }> {
  const p = await startOpenAiProvider({ port: 0, seed, latencyScale: 0, cacheMinTokens: 16 });
  running.push(p);
  return { p, client: new OpenAI({ baseURL: p.url, apiKey: 'sim-key', maxRetries: 0, project: 'tenant-a' }) };
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.close()));
});

const SYSTEM = 'You are a support agent for an online shop. Answer briefly, politely and with the order number when you have one.';

describe('simulated provider, OpenAI Chat Completions wire format', () => {
  it('answers a non-streaming call with a usage block the recorder agrees with', async () => {
    const { p, client } = await start();
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: 'Where is my order 1234?' }] });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message.role).toBe('assistant');
    expect(r.choices[0]?.message.content?.length).toBeGreaterThan(3);
    const u = r.usage;
    expect(u).toBeDefined();
    expect(u!.total_tokens).toBe(u!.prompt_tokens + u!.completion_tokens);
    const [call] = p.calls();
    expect(call).toMatchObject({ model: 'gpt-4o-mini', stream: false, prompt_tokens: u!.prompt_tokens, completion_tokens: u!.completion_tokens, cached_tokens: 0, project: 'tenant-a', status: 'ok' });
  });

  it('a reasoning model reports its reasoning tokens inside completion_tokens, as OpenAI does', async () => {
    const { p, client } = await start();
    const r = await client.chat.completions.create({ model: 'gpt-5-mini', max_completion_tokens: 400, messages: [{ role: 'user', content: 'Classify this billing complaint.' }] });
    const u = r.usage!;
    const reasoning = u.completion_tokens_details?.reasoning_tokens ?? 0;
    expect(reasoning).toBeGreaterThan(0);
    expect(reasoning).toBeLessThan(u.completion_tokens);
    expect(u.completion_tokens).toBeLessThanOrEqual(400);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    expect(p.calls()[0]).toMatchObject({ completion_tokens: u.completion_tokens, reasoning_tokens: reasoning });
    const plain = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Classify this billing complaint.' }] });
    expect(plain.usage?.completion_tokens_details?.reasoning_tokens).toBe(0);
  });

  it('streams deltas and a final usage chunk when include_usage is asked for', async () => {
    const { p, client } = await start();
    const stream = await client.chat.completions.create({ model: 'claude-haiku-4-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Summarise ticket 88 for me.' }] });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.length).toBeGreaterThan(3);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(p.calls()[0]?.completion_tokens);
    expect(usage?.prompt_tokens).toBe(p.calls()[0]?.prompt_tokens);
    expect(p.calls()[0]?.stream).toBe(true);
  });

  it('bills a repeated system prompt as cached input on the next call', async () => {
    const { p, client } = await start();
    const ask = (q: string) => client.chat.completions.create({ model: 'gpt-4.1', messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: q }] });
    const first = await ask('Refund for order 1?');
    const second = await ask('Refund for order 2?');
    expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const cached = second.usage?.prompt_tokens_details?.cached_tokens ?? 0;
    expect(cached).toBeGreaterThan(0);
    expect(cached).toBeLessThan(second.usage!.prompt_tokens);
    expect(p.calls().map((c) => c.cached_tokens)).toEqual([0, cached]);
  });

  it('is deterministic: the same seed and call order give the same token counts and text', async () => {
    const a = await start(11);
    const b = await start(11);
    const c = await start(12);
    const go = async (client: OpenAI) => {
      const out: Array<[number, string]> = [];
      for (const q of ['one', 'two two', 'three three three']) {
        const r = await client.chat.completions.create({ model: 'gpt-5', messages: [{ role: 'user', content: q }] });
        out.push([r.usage!.completion_tokens, r.choices[0]!.message.content ?? '']);
      }
      return out;
    };
    const ra = await go(a.client);
    expect(await go(b.client)).toEqual(ra);
    expect(await go(c.client)).not.toEqual(ra);
  });

  it('answers a model nobody priced (pricing is not the provider\'s business)', async () => {
    const { client } = await start();
    const r = await client.chat.completions.create({ model: 'acme/unknown-model-9', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('reports simulated failures as OpenAI errors and records them unbilled', async () => {
    const { p, client } = await start();
    const err = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-sagewai-simulate-fail': 'rate_limit' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(p.calls()[0]).toMatchObject({ status: 'rate_limit', prompt_tokens: 0, completion_tokens: 0 });
  });

  it('rejects bad input with a 4xx OpenAI error body, never a 5xx', async () => {
    const { p } = await start();
    const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => fetch(`${p.url}/chat/completions`, { method: 'POST', headers, body });
    const cases: Array<[Promise<Response>, number, string | null]> = [
      [post('{"model": "gpt-4o", "messages": ['), 400, null],
      [post('{"model": "gpt-4o", "messages": []}'), 400, 'messages'],
      [post('{"messages": [{"role": "user", "content": "x"}]}'), 400, 'model'],
      [post('{"model": "gpt-4o", "messages": [{"role": "wizard", "content": "x"}]}'), 400, 'messages.0.role'],
      [post('{"model": "gpt-4o", "n": 3, "messages": [{"role": "user", "content": "x"}]}'), 400, 'n'],
      [post('model=gpt-4o', { 'content-type': 'application/x-www-form-urlencoded' }), 415, null],
      [post(''), 400, null],
    ];
    for (const [pending, status, param] of cases) {
      const r = await pending;
      const body = (await r.json()) as { error: { message: string; type: string; param: string | null } };
      expect(r.status).toBe(status);
      expect(body.error.message.length).toBeGreaterThan(5);
      if (param) expect(body.error.param).toBe(param);
    }
    const wrongMethod = await fetch(`${p.url}/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST, OPTIONS');
    expect((await fetch(`${p.url}/embeddings`, { method: 'POST' })).status).toBe(404);
    expect(p.calls()).toHaveLength(0);
  });

  it('lists every recorded call with totals at /v1/calls', async () => {
    const { p, client } = await start();
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a' }] });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'b' }] }, { headers: { 'x-sagewai-simulate-fail': 'server_error' } }).catch(() => undefined);
    const r = (await (await fetch(`${p.url}/calls`)).json()) as { data: unknown[]; total: { calls: number; failed: number; completion_tokens: number } };
    expect(r.data).toHaveLength(2);
    expect(r.total.calls).toBe(1);
    expect(r.total.failed).toBe(1);
    expect(r.total.completion_tokens).toBe(p.calls()[0]?.completion_tokens);
  });
});
