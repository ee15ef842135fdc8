import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { decimalToNano, parseCsv, parseInvoice } from '../src/finance/invoice.js';

const DAY1 = 1_795_996_800; // 2026-11-30T00:00:00Z
const DAY2 = DAY1 + 86_400;

function errorOf(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('decimalToNano', () => {
  it('reads decimal text exactly, without float rounding', () => {
    expect(decimalToNano('0.1')).toBe(100_000_000);
    expect(decimalToNano('0.000000001')).toBe(1);
    expect(decimalToNano('12.345678901')).toBe(12_345_678_901);
    expect(decimalToNano('1e-3')).toBe(1_000_000);
    expect(decimalToNano(0.3)).toBe(300_000_000);
    expect(decimalToNano('-2.5')).toBe(-2_500_000_000);
    // Half a nano-dollar rounds away from zero.
    expect(decimalToNano('0.0000000005')).toBe(1);
    expect(decimalToNano('0.0000000004')).toBe(0);
    // Cents → dollars.
    expect(decimalToNano('123.4', 100)).toBe(1_234_000_000);
  });
  it('refuses what is not a number', () => {
    for (const bad of ['', 'abc', '1.2.3', '$5', '--1', 'NaN']) expect(decimalToNano(bad)).toBeUndefined();
  });
});

describe('parseCsv', () => {
  it('handles quotes, doubled quotes, commas inside quotes and CRLF', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\r\n1,2\n')).toEqual([['a', 'b'], ['x, y', 'say "hi"'], ['1', '2']]);
  });
});

describe('parseInvoice', () => {
  it("reads OpenAI's costs report grouped by line item, summing a model's line items per day", () => {
    const doc = {
      object: 'page',
      data: [
        { object: 'bucket', start_time: DAY1, end_time: DAY2, results: [
          { object: 'organization.costs.result', amount: { value: 0.0125, currency: 'usd' }, line_item: 'gpt-4o-2024-08-06, input', project_id: null },
          { object: 'organization.costs.result', amount: { value: 0.05, currency: 'usd' }, line_item: 'gpt-4o-2024-08-06, output', project_id: null },
        ] },
      ],
      has_more: false,
    };
    const inv = parseInvoice('costs.json', JSON.stringify(doc));
    expect(inv).toMatchObject({ format: 'openai-costs', provider: 'openai', kind: 'cost' });
    expect(inv.lines.map((l) => [l.day, l.model, l.costNusd])).toEqual([
      ['2026-11-30', 'gpt-4o-2024-08-06', 12_500_000],
      ['2026-11-30', 'gpt-4o-2024-08-06', 50_000_000],
    ]);
  });

  it("reads OpenAI's completions usage: cached tokens are inside input_tokens", () => {
    const doc = { object: 'page', data: [{ object: 'bucket', start_time: DAY1, end_time: DAY2, results: [{ object: 'organization.usage.completions.result', input_tokens: 1000, input_cached_tokens: 200, output_tokens: 50, num_model_requests: 3, model: 'gpt-4o-mini' }] }] };
    const [line] = parseInvoice('usage.json', JSON.stringify(doc)).lines;
    expect(line).toMatchObject({ model: 'gpt-4o-mini', inputTokens: 800, cachedInputTokens: 200, outputTokens: 50 });
  });

  it("reads Anthropic's cost report (amounts in cents) and messages usage report", () => {
    const cost = { data: [{ starting_at: '2026-11-30T00:00:00Z', ending_at: '2026-12-01T00:00:00Z', results: [{ currency: 'USD', amount: '123.45', model: 'claude-sonnet-4-5-20250929', token_type: 'uncached_input_tokens', cost_type: 'tokens' }] }], has_more: false };
    const c = parseInvoice('a.json', JSON.stringify(cost));
    expect(c).toMatchObject({ format: 'anthropic-cost-report', provider: 'anthropic', kind: 'cost' });
    expect(c.lines[0]).toMatchObject({ day: '2026-11-30', costNusd: 1_234_500_000 });
    const usage = { data: [{ starting_at: '2026-11-30T00:00:00Z', results: [{ model: 'claude-haiku-4-5', uncached_input_tokens: 500, cache_read_input_tokens: 40, cache_creation: { ephemeral_5m_input_tokens: 10, ephemeral_1h_input_tokens: 0 }, output_tokens: 70 }] }] };
    expect(parseInvoice('u.json', JSON.stringify(usage)).lines[0]).toMatchObject({ inputTokens: 510, cachedInputTokens: 40, outputTokens: 70 });
  });

  it('reads a CSV with cost and one with tokens', () => {
    const inv = parseInvoice('i.csv', 'date,model,cost_usd,currency\n2026-11-30,gpt-4o,1.25,USD\n2026-12-01,gpt-4o,$0.5,usd\n');
    expect(inv.kind).toBe('cost');
    expect(inv.lines.map((l) => l.costNusd)).toEqual([1_250_000_000, 500_000_000]);
    const u = parseInvoice('u.csv', 'Day,Model,input_tokens,input_cached_tokens,output_tokens\n2026-11-30,gpt-4o,100,30,7\n');
    expect(u.kind).toBe('usage');
    expect(u.lines[0]).toMatchObject({ inputTokens: 70, cachedInputTokens: 30, outputTokens: 7 });
  });

  it('names the row and column at fault in a CSV', () => {
    const e = errorOf(() => parseInvoice('inv.csv', 'date,model,cost_usd\n2026-11-30,gpt-4o,1.0\n2026-11-31x,gpt-4o,2.0\n'));
    expect(e.message).toContain('inv.csv: row 3, column 1 (date)');
    expect(errorOf(() => parseInvoice('inv.csv', 'date,model,cost_usd\n2026-11-30,gpt-4o,twelve\n')).message).toContain('row 2, column 3 (cost_usd)');
    expect(errorOf(() => parseInvoice('inv.csv', 'date,model,cost_usd,currency\n2026-11-30,gpt-4o,1,EUR\n')).message).toMatch(/row 2, column 3 .*EUR.*not USD/);
    expect(errorOf(() => parseInvoice('inv.csv', 'date,model,cost_usd\n2026-11-30,gpt-4o\n')).message).toContain('row 2: has 2 fields, the header has 3');
    expect(errorOf(() => parseInvoice('inv.csv', 'when,what,how much\n1,2,3\n')).message).toContain('row 1: no day column');
    expect(errorOf(() => parseInvoice('inv.csv', 'date,model,input_tokens\n2026-11-30,gpt-4o,-5\n')).message).toContain('row 2, column 3 (input_tokens)');
    expect(errorOf(() => parseInvoice('inv.csv', '')).message).toContain('empty');
  });

  it('names the JSON path at fault, and refuses foreign JSON', () => {
    const noLineItem = { data: [{ start_time: DAY1, results: [{ amount: { value: 1, currency: 'usd' }, line_item: null }] }] };
    expect(errorOf(() => parseInvoice('c.json', JSON.stringify(noLineItem))).message).toContain('data[0].results[0].line_item');
    const badAmount = { data: [{ start_time: DAY1, results: [{ amount: { value: 'lots', currency: 'usd' }, line_item: 'gpt-4o, input' }] }] };
    expect(errorOf(() => parseInvoice('c.json', JSON.stringify(badAmount))).message).toContain('data[0].results[0].amount.value');
    expect(errorOf(() => parseInvoice('f.json', '{"name": "package", "version": "1.0.0"}')).message).toContain('not a usage or cost report');
    expect(errorOf(() => parseInvoice('f.json', '{"data": [{"start_time": 1, "results": [{"foo": 1}]}]}')).message).toContain('data[0].results[0]: not a result of a known');
    const broken = errorOf(() => parseInvoice('b.json', '{\n  "data": [\n    {,}\n  ]\n}'));
    expect(broken.message).toMatch(/b\.json: line 3, column \d+: malformed JSON/);
    expect(broken.tryThis.length).toBeGreaterThan(0);
  });

  it('refuses a report that contradicts --provider', () => {
    const doc = { data: [{ start_time: DAY1, results: [{ amount: { value: 1, currency: 'usd' }, line_item: 'gpt-4o, input' }] }] };
    expect(errorOf(() => parseInvoice('c.json', JSON.stringify(doc), 'anthropic')).message).toContain("openai's cost report, but --provider says anthropic");
  });
});
