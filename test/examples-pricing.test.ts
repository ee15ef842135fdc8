import { describe, expect, it } from 'vitest';
import { callNusd, isLocal, loadBook } from '../examples/driver/pricebook.js';
import { PROJECTS, WORKLOAD } from '../examples/ex34-cost-tracking.js';

const book = loadBook();

describe('example 34 workload priced from the price book', () => {
  it('prices a call in integer nano-USD (USD per million tokens × 1000 per token)', () => {
    // claude-sonnet-4-5 lists $3 in / $15 out per million: 3200 × 3000 + 800 × 15000 nUSD.
    expect(callNusd(book, 'claude-sonnet-4-5', 3200, 800)).toBe(21_600_000);
    expect(callNusd(book, 'gpt-4o-mini', 1_000_000, 0)).toBe(150_000_000);
  });

  it('treats ollama models as free and unknown models as an error, never a guess', () => {
    expect(isLocal(book, 'ollama/llama3:70b')).toBe(true);
    expect(callNusd(book, 'ollama/llama3:70b', 8000, 2000)).toBe(0);
    expect(() => callNusd(book, 'gpt-4-unknown', 1, 1)).toThrow(/no price/);
  });

  it('holds the reference workload: 16 calls over 3 projects with the per-project totals worked out by hand', () => {
    expect(WORKLOAD).toHaveLength(16);
    expect(PROJECTS).toEqual(['acme-prod', 'globex-prod', 'initech-prod']);
    const total = (p: string) => WORKLOAD.filter((c) => c.project === p).reduce((a, c) => a + callNusd(book, c.model, c.input, c.output), 0) / 1e9;
    // acme: sonnet 0.015 + 0.018, opus 0.046 + 0.050, haiku 0.0021 + 0.00265
    expect(total('acme-prod')).toBeCloseTo(0.13375, 9);
    // globex: gpt-4o-mini 7500 in × 0.15 + 1900 out × 0.6 per million; ollama free
    expect(total('globex-prod')).toBeCloseTo(0.002265, 9);
    // initech: one gpt-4o-mini call 600/150; the rest ollama
    expect(total('initech-prod')).toBeCloseTo(0.00018, 9);
  });
});
