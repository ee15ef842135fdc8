import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { rangeOf, resolveWindow, type CostReport } from '../src/report/cost.js';
import { COST_CSV_COLUMNS, costCsv, costTable } from '../src/report/format.js';

const now = new Date('2026-11-26T12:00:00Z');

describe('cost window', () => {
  it('--since counts back from now; --from/--to are taken as given', () => {
    expect(resolveWindow({ since: '90m', now })).toEqual({ from: new Date('2026-11-26T10:30:00Z'), to: now });
    expect(resolveWindow({ now })).toEqual({ from: new Date('2026-11-25T12:00:00Z'), to: now });
    // Unix seconds are accepted too: 1796083200 is 2026-12-01T00:00:00Z.
    expect(resolveWindow({ from: '2026-11-01T00:00:00Z', to: '1796083200', now })).toEqual({ from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') });
  });

  it('hour-aligns a --since of a day or more when asked (the cost reports), never --from', () => {
    const at = new Date('2026-11-26T12:34:56.789Z');
    expect(resolveWindow({ since: '30d', now: at, hourAligned: true })).toEqual({ from: new Date('2026-10-27T12:00:00Z'), to: at, requestedFrom: new Date('2026-10-27T12:34:56.789Z') });
    expect(resolveWindow({ now: at, hourAligned: true })).toEqual({ from: new Date('2026-11-25T12:00:00Z'), to: at, requestedFrom: new Date('2026-11-25T12:34:56.789Z') });
    // Already on the hour: nothing moved, nothing to report.
    expect(resolveWindow({ since: '30d', to: '2026-11-26T12:00:00Z', now: at, hourAligned: true })).toEqual({ from: new Date('2026-10-27T12:00:00Z'), to: new Date('2026-11-26T12:00:00Z') });
    // Under a day, without the option, or with --from: exactly as asked.
    expect(resolveWindow({ since: '23h', now: at, hourAligned: true })).toEqual({ from: new Date('2026-11-25T13:34:56.789Z'), to: at });
    expect(resolveWindow({ since: '30d', now: at })).toEqual({ from: new Date('2026-10-27T12:34:56.789Z'), to: at });
    expect(resolveWindow({ from: '2026-11-01T00:30:00Z', now: at, hourAligned: true })).toEqual({ from: new Date('2026-11-01T00:30:00Z'), to: at });
    // The aligned window is whole hours + the part of the newest hour; its range is exact to the millisecond.
    expect(rangeOf(resolveWindow({ since: '1d', now: at, hourAligned: true }))).toBe(`${(24 * 3600 + 34 * 60 + 56) * 1000 + 789}ms`);
  });

  it('rejects inverted, empty, combined and unparseable windows as user errors', () => {
    expect(() => resolveWindow({ from: '2026-11-26T13:00:00Z', to: '2026-11-26T12:00:00Z', now })).toThrow(/inverted/);
    expect(() => resolveWindow({ from: '2026-11-26T12:00:00Z', to: '2026-11-26T12:00:00Z', now })).toThrow(/inverted/);
    expect(() => resolveWindow({ since: '1h', from: '2026-11-26T10:00:00Z', now })).toThrow(/cannot be combined/);
    expect(() => resolveWindow({ from: 'yesterday', now })).toThrow(UserError);
    expect(() => resolveWindow({ since: '5 minutes', now })).toThrow(UserError);
  });

  it('turns the window into a MetricsQL duration that starts exactly at from', () => {
    expect(rangeOf({ from: new Date(0), to: new Date(3_600_000) })).toBe('3600s');
    expect(rangeOf({ from: new Date(0), to: new Date(1500) })).toBe('1500ms');
  });
});

const report: CostReport = {
  by: 'model',
  from: '2026-11-26T11:00:00.000Z',
  to: '2026-11-26T12:00:00.000Z',
  project: null,
  currency: 'USD',
  source: 'http://127.0.0.1:8428',
  queries: ['cost.by_model'],
  recorded: null,
  rows: [
    { group: 'claude-sonnet-4-6', labels: {}, cost_usd: 0.123456789, share: 1, input_tokens: 1000, output_tokens: 200, cached_input_tokens: 50, reasoning_tokens: 0, calls: 3, unpriced_calls: 0 },
    { group: 'odd,"model"', labels: {}, cost_usd: 0, share: 0, input_tokens: 10, output_tokens: 2, cached_input_tokens: 0, reasoning_tokens: 0, calls: 2, unpriced_calls: 2 },
  ],
  total: { cost_usd: 0.123456789, input_tokens: 1010, output_tokens: 202, cached_input_tokens: 50, reasoning_tokens: 0, calls: 5, unpriced_calls: 2 },
};

/** A small RFC 4180 reader, written for the test, to prove the CSV parses back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  return rows;
}

describe('cost CSV', () => {
  it('has the stable header and parses back to the same numbers, quoting odd group names', () => {
    const rows = parseCsv(costCsv(report));
    expect(rows[0]).toEqual([...COST_CSV_COLUMNS]);
    expect(rows).toHaveLength(4);
    const [a, b, total] = rows.slice(1);
    expect(a![0]).toBe('claude-sonnet-4-6');
    expect(Number(a![1])).toBe(0.123456789);
    expect(Number(a![6])).toBe(3);
    expect(b![0]).toBe('odd,"model"');
    expect(b![7]).toBe('2');
    expect(total![0]).toBe('TOTAL');
    expect(Number(total![1])).toBe(0.123456789);
  });
});

describe('cost table', () => {
  it('shows unpriced usage as unknown, never as $0, and totals the rest', () => {
    const text = costTable(report, false);
    expect(text).toMatch(/odd,"model"\s*│\s*unknown \(2 unpriced calls\)/);
    expect(text).toMatch(/TOTAL\s*│\s*\$0\.1235 \+ 2 unpriced calls/);
    expect(text).toContain('not counted as $0');
    // No colour codes when colour is off.
    expect(text).not.toContain('\u001b[');
  });

  it('says when --since was moved to the whole hour, and only then', () => {
    expect(costTable(report, false)).not.toContain('whole hour');
    const text = costTable({ ...report, from: '2026-10-27T12:00:00.000Z', requested_from: '2026-10-27T12:34:56.789Z' }, false);
    expect(text).toContain('2026-10-27T12:00:00.000Z →');
    expect(text).toContain('The window starts on the whole hour at or before 2026-10-27T12:34:56.789Z');
  });

  it('colours the header when colour is on, through chalk', () => {
    const text = costTable(report, true);
    expect(text).toContain('\u001b[36mcost (USD)\u001b[39m');
    expect(stripVTControlCharacters(text)).toBe(costTable(report, false));
  });
});
