import { describe, expect, it } from 'vitest';
import { predictTable, savingsTable } from '../src/finance/format.js';
import type { PredictResult, SavingsResult } from '../src/finance/predict.js';

// `cost predict` and `cost savings` say when their --since start was moved to the whole hour, as `cost` does.
const window = { from: '2026-10-27T12:00:00.000Z', to: '2026-10-29T12:34:56.789Z' };
const savings: SavingsResult = {
  ...window,
  project: null,
  price_book_version: '2026-11-01',
  rows: [{ project: 'acme', cached_input_tokens: 1000, cached_cost_usd: 0.001, uncached_cost_usd: 0.002, saved_usd: 0.001, saved_share: 0.5, unpriced_cached_tokens: 0 }],
  total: { cached_input_tokens: 1000, cached_cost_usd: 0.001, uncached_cost_usd: 0.002, saved_usd: 0.001, saved_share: 0.5, unpriced_cached_tokens: 0 },
  source: 'http://127.0.0.1:8428',
};
const predict: PredictResult = {
  scenario: { as_model: 'gpt-4o-mini', price_book: null, price_book_version: '2026-11-01' },
  ...window,
  project: null,
  rows: [{ project: 'acme', actual_usd: 0.002, actual_nusd: 2_000_000, predicted_usd: 0.001, predicted_nusd: 1_000_000, difference_usd: -0.001, unpriced_tokens: 0 }],
  total: { actual_usd: 0.002, actual_nusd: 2_000_000, predicted_usd: 0.001, predicted_nusd: 1_000_000, difference_usd: -0.001, unpriced_tokens: 0 },
  source: 'http://127.0.0.1:8428',
};

describe('finance tables and a --since moved to the whole hour', () => {
  it('note the start --since asked for, and only when it was moved', () => {
    expect(savingsTable(savings, false)).not.toContain('whole hour');
    expect(predictTable(predict, false)).not.toContain('whole hour');
    const asked = '2026-10-27T12:34:56.789Z';
    expect(savingsTable({ ...savings, requested_from: asked }, false)).toContain(`The window starts on the whole hour at or before ${asked}`);
    expect(predictTable({ ...predict, requested_from: asked }, false)).toContain(`The window starts on the whole hour at or before ${asked}`);
  });
});
