import { describe, expect, it } from 'vitest';
import { SimulatedProvider, estimateTokens } from '../src/backend/provider.js';

const none = { rate_limit: 0, timeout: 0, server_error: 0 };
const call = (message: string, model = 'claude-haiku-4-5') => ({ model, systemPrompt: 'You are helpful.', message, maxOutputTokens: 4096 });

describe('simulated provider', () => {
  it('is deterministic for a seed and a call sequence, and differs across seeds', () => {
    const seq = (seed: number) => {
      const p = new SimulatedProvider({ seed, failureRates: none, latencyScale: 0 });
      return ['a', 'b', 'c', 'a'].map((m) => p.plan(call(m))).map((x) => [x.outputTokens, x.text]);
    };
    expect(seq(11)).toEqual(seq(11));
    expect(seq(11)).not.toEqual(seq(12));
  });
  it('derives input tokens from the prompt and output from the model family, capped', () => {
    const p = new SimulatedProvider({ seed: 1, failureRates: none, latencyScale: 0 });
    const long = 'x'.repeat(4000);
    expect(p.plan(call(long)).inputTokens).toBe(estimateTokens('You are helpful.') + 1000);
    const avg = (model: string) => {
      let n = 0;
      for (let i = 0; i < 200; i++) n += p.plan(call(`q${i}`, model)).outputTokens;
      return n / 200;
    };
    expect(avg('claude-opus-4-6')).toBeGreaterThan(avg('claude-haiku-4-5') * 2);
    expect(p.plan({ ...call('x', 'claude-opus-4-6'), maxOutputTokens: 50 }).outputTokens).toBeLessThanOrEqual(50);
  });
  it('reasoning models spend part of their completion thinking, within the completion budget; others never do', () => {
    const p = new SimulatedProvider({ seed: 4, failureRates: none, latencyScale: 0 });
    let thought = 0;
    for (let i = 0; i < 50; i++) {
      for (const model of ['gpt-5', 'gpt-5-mini', 'o3', 'openai/o4-mini']) {
        const plan = p.plan({ ...call(`r${i}`, model), maxOutputTokens: 300 });
        expect(plan.reasoningTokens, model).toBeGreaterThan(0);
        expect(plan.outputTokens, model).toBeGreaterThanOrEqual(1);
        expect(plan.outputTokens + plan.reasoningTokens, model).toBeLessThanOrEqual(300);
        thought += plan.reasoningTokens;
      }
      for (const model of ['gpt-4o', 'claude-opus-4-6', 'gpt-4.1-mini', 'ollama/llama3:70b']) expect(p.plan(call(`n${i}`, model)).reasoningTokens, model).toBe(0);
    }
    expect(thought).toBeGreaterThan(0);
  });
  it('told token counts are exact: no reasoning unless told, reasoning as told', () => {
    const p = new SimulatedProvider({ seed: 5, failureRates: none, latencyScale: 0 });
    expect(p.plan({ ...call('x', 'gpt-5'), simulate: { output_tokens: 120 } })).toMatchObject({ outputTokens: 120, reasoningTokens: 0 });
    expect(p.plan({ ...call('x', 'claude-haiku-4-5'), simulate: { output_tokens: 120, reasoning_tokens: 80 } })).toMatchObject({ outputTokens: 120, reasoningTokens: 80 });
  });
  it('injects failures at roughly the configured rates', () => {
    const p = new SimulatedProvider({ seed: 9, failureRates: { rate_limit: 0.1, timeout: 0.05, server_error: 0.05 }, latencyScale: 0 });
    const counts: Record<string, number> = { rate_limit: 0, timeout: 0, server_error: 0, ok: 0 };
    for (let i = 0; i < 2000; i++) counts[p.plan(call(`m${i}`)).failure ?? 'ok']! += 1;
    expect(counts.rate_limit! / 2000).toBeGreaterThan(0.07);
    expect(counts.rate_limit! / 2000).toBeLessThan(0.13);
    expect(counts.timeout! / 2000).toBeGreaterThan(0.03);
    expect(counts.server_error! / 2000).toBeGreaterThan(0.03);
    expect(counts.ok! / 2000).toBeGreaterThan(0.75);
  });
  it('streams its deltas with short latency and fails mid-stream on a server error', async () => {
    const p = new SimulatedProvider({ seed: 2, failureRates: none, latencyScale: 1 });
    const plan = p.plan(call('hello'));
    const deltas: string[] = [];
    const t0 = performance.now();
    await p.play(plan, (d) => deltas.push(d));
    const ms = performance.now() - t0;
    expect(deltas.join('')).toBe(plan.text);
    expect(ms).toBeGreaterThan(15);
    expect(ms).toBeLessThan(600);
    const failing = p.plan({ ...call('x'), simulate: { fail: 'server_error' } });
    const got: string[] = [];
    await expect(p.play(failing, (d) => got.push(d))).rejects.toMatchObject({ kind: 'server_error' });
    expect(got.length).toBeLessThan(failing.deltas.length);
  });
});
