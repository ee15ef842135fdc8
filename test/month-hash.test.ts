import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, monthHash, type MonthTotal } from '../src/backend/areas/finance.js';

// A month closed before reasoning tokens were counted was sealed with rows of seven fields. The
// hash written then is recomputed here from that documented formula, not from monthHash itself.
const sealedBefore = (month: string, rows: MonthTotal[], prev: string): string =>
  crypto
    .createHash('sha256')
    .update(`${prev}\n${month}\n${JSON.stringify(rows.map((t) => [t.project, t.model, t.cost_nusd, t.input_tokens, t.cached_input_tokens, t.output_tokens, t.calls]))}`)
    .digest('hex');

const row: MonthTotal = { project: 'acme', model: 'gpt-4o', cost_nusd: 80_000, input_tokens: 10, cached_input_tokens: 4, output_tokens: 5, calls: 1 };

describe('closed-month hash with reasoning tokens', () => {
  it('a month without reasoning keeps the hash it was sealed with, whether or not its rows name reasoning_tokens', () => {
    const old = sealedBefore('2026-10', [row], GENESIS_HASH);
    expect(monthHash('2026-10', [row], GENESIS_HASH)).toBe(old);
    expect(monthHash('2026-10', [{ ...row, reasoning_tokens: 0 }], GENESIS_HASH)).toBe(old);
  });

  it('reasoning tokens are sealed: a month with them hashes differently, and by how many', () => {
    const with40 = monthHash('2026-11', [{ ...row, reasoning_tokens: 40 }], GENESIS_HASH);
    expect(with40).not.toBe(monthHash('2026-11', [row], GENESIS_HASH));
    expect(with40).not.toBe(monthHash('2026-11', [{ ...row, reasoning_tokens: 41 }], GENESIS_HASH));
  });
});
