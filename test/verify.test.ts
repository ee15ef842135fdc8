import { describe, expect, it } from 'vitest';
import { CheckFailedError } from '../src/errors.js';
import { assertVerified, type VerifyReport } from '../src/verify/index.js';

const base: VerifyReport = {
  ok: true,
  from: '2026-11-26T11:00:00.000Z',
  to: '2026-11-26T12:00:00.000Z',
  project: null,
  queries: [],
  reconciliation: { ok: true, skipped: false, attempts: 1, waited_ms: 0, ledger_total_usd: 1, metrics_total_usd: 1, rows: [], mismatches: [] },
  pipeline: [],
  rules: [],
  firingAlerts: null,
  closedMonths: null,
  failures: [],
};

describe('assertVerified', () => {
  it('passes a clean report', () => {
    expect(() => assertVerified(base)).not.toThrow();
  });

  it('names every failure in a CheckFailedError that carries the report for --json', () => {
    const failures = ['panel "Spend by model" (cost.by_model): no data', 'reconciliation acme/gpt-4o: ledger $1.000000 ≠ metrics $0.999999 (diff -0.000001)'];
    const report = { ...base, ok: false, failures };
    let err: unknown;
    try {
      assertVerified(report);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckFailedError);
    const e = err as CheckFailedError;
    expect(e.exitCode).toBe(3);
    for (const f of failures) expect(e.message).toContain(f);
    expect(e.result).toBe(report);
  });

  it('keeps a long list readable', () => {
    const failures = Array.from({ length: 25 }, (_, i) => `query (q${i}): no data`);
    expect(() => assertVerified({ ...base, ok: false, failures })).toThrow(/… and 5 more/);
  });
});
