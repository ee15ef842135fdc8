import { describe, expect, it } from 'vitest';
import { PriceBook } from '../src/backend/pricebook.js';

const book = PriceBook.load();

describe('price book', () => {
  it('prices by exact id: gpt-4.1-mini is not gpt-4.1', () => {
    const mini = book.quote('gpt-4.1-mini');
    const full = book.quote('gpt-4.1');
    expect(mini.model).toBe('gpt-4.1-mini');
    expect(mini.inputNusd).toBe(400); // $0.40 per million = 400 nano-USD per token
    expect(full.inputNusd).toBe(2000);
  });
  it('never guesses: an unknown variant is unpriced, cost 0', () => {
    for (const m of ['gpt-4.1-mini-turbo', 'claude-sonnet-9', 'gpt-4', 'mystery']) {
      const q = book.quote(m);
      expect(q.priced).toBe(false);
      expect(PriceBook.costNusd(q, { input: 1000, cachedInput: 0, output: 1000, reasoning: 0 })).toBe(0);
    }
  });
  it('local providers are free and priced', () => {
    const q = book.quote('ollama/llama3:70b');
    expect(q).toMatchObject({ priced: true, provider: 'ollama', inputNusd: 0, outputNusd: 0 });
    expect(book.quote('lmstudio/qwen2.5-7b').priced).toBe(true);
    expect(book.quote('vllm/llama3').priced).toBe(false);
  });
  it('resolves explicit aliases to the canonical model', () => {
    expect(book.quote('claude-haiku-4-5-20251001')).toMatchObject({ model: 'claude-haiku-4-5', provider: 'anthropic', priced: true });
  });
  it('computes example 34 costs in integer nano-USD from list prices', () => {
    // claude-sonnet-4-5 $3 / $15: 3200 in + 800 out = $0.0096 + $0.012 = $0.0216
    expect(PriceBook.costNusd(book.quote('claude-sonnet-4-5'), { input: 3200, cachedInput: 0, output: 800, reasoning: 0 })).toBe(21_600_000);
    // claude-opus-4-6 $5 / $25: 5000 in + 1200 out = $0.025 + $0.03 = $0.055
    expect(PriceBook.costNusd(book.quote('claude-opus-4-6'), { input: 5000, cachedInput: 0, output: 1200, reasoning: 0 })).toBe(55_000_000);
    // gpt-4o-mini $0.15 / $0.60 with 1000 cached at $0.075: 1200 in + 300 out + 1000 cached
    expect(PriceBook.costNusd(book.quote('gpt-4o-mini'), { input: 1200, cachedInput: 1000, output: 300, reasoning: 0 })).toBe(180_000 + 75_000 + 180_000);
  });
  it('prices reasoning tokens at the output price when the entry names no reasoning price', () => {
    // The bundled book names none: gpt-5's reasoning costs its output price, $10 per million.
    const q = book.quote('gpt-5');
    expect(q.reasoningNusd).toBe(10_000);
    expect(q.reasoningNusd).toBe(q.outputNusd);
    // 1000 in ($1.25) + 200 visible out + 300 reasoning ($10 each): 1_250_000 + 2_000_000 + 3_000_000.
    expect(PriceBook.costNusd(q, { input: 1000, cachedInput: 0, output: 200, reasoning: 300 })).toBe(6_250_000);
    expect(book.quote('ollama/qwq:32b').reasoningNusd).toBe(0);
    expect(book.quote('mystery').reasoningNusd).toBe(0);
  });
  it('prices reasoning tokens at their own price when the entry names one, apart from output', () => {
    const b = new PriceBook({ version: 'r', effective_from: '2026-01-01', entries: [{ provider: 'openai', model: 'o-test', input: 2, cached_input: 0.5, output: 8, reasoning: 6.5, effective_from: '2026-01-01', source: 'x' }] });
    const q = b.quote('o-test');
    expect(q).toMatchObject({ outputNusd: 8000, reasoningNusd: 6500 });
    // Each type once: 100×2000 + 10×500 + 40×8000 + 60×6500.
    expect(PriceBook.costNusd(q, { input: 100, cachedInput: 10, output: 40, reasoning: 60 })).toBe(200_000 + 5_000 + 320_000 + 390_000);
    // The worst case of a 100-token completion budget prices every token at the dearer of the two.
    expect(PriceBook.worstCaseNusd(q, { input: 100, cachedInput: 10, completion: 100 })).toBe(200_000 + 5_000 + 800_000);
    expect(() => new PriceBook({ version: 'r', effective_from: '2026-01-01', entries: [{ provider: 'p', model: 'm', input: 1, cached_input: 0, output: 1, reasoning: 1.0001, effective_from: '2026-01-01', source: 'y' }] })).toThrow(/reasoning price 1\.0001 has more than three decimals/);
    expect(() => new PriceBook({ version: 'r', effective_from: '2026-01-01', entries: [{ provider: 'p', model: 'm', input: 1, cached_input: 0, output: 1, reasoning: -1, effective_from: '2026-01-01', source: 'y' }] })).toThrow(/reasoning/);
  });
  it('rejects a book with more than 3 decimals or a dangling alias', () => {
    const base = { version: 't', effective_from: '2026-01-01', entries: [{ provider: 'p', model: 'm', input: 1.2345, cached_input: 0, output: 1, effective_from: '2026-01-01', source: 'y' }] };
    expect(() => new PriceBook(base)).toThrow();
    expect(() => new PriceBook({ ...base, entries: [{ ...base.entries[0], input: 1.5 }], aliases: { a: 'nope' } })).toThrow(/alias/);
  });
});
