import { UserError } from '../errors.js';

/**
 * A provider's usage or cost export, read into day × model lines. Understood shapes:
 *
 * - OpenAI costs (`GET /v1/organization/costs?group_by=line_item`, JSON): buckets with
 *   `start_time` and results `{amount: {value, currency}, line_item: "<model>, <input|output|…>"}`.
 * - OpenAI completions usage (`GET /v1/organization/usage/completions?group_by=model`, JSON):
 *   results `{model, input_tokens (cached included), input_cached_tokens, output_tokens, num_model_requests}`.
 * - Anthropic cost report (`GET /v1/organizations/cost_report?group_by[]=description`, JSON):
 *   buckets with `starting_at` and results `{amount: "<cents>", currency, model, token_type}`.
 * - Anthropic messages usage (`GET /v1/organizations/usage_report/messages?group_by[]=model`, JSON):
 *   results `{model, uncached_input_tokens, cache_read_input_tokens, cache_creation: {…}, output_tokens}`.
 * - CSV with a header row naming a day column (`date`, `day`, `start_time`, `starting_at` or
 *   `usage_date`), a model column (`model` or `line_item`) and a cost column (`cost_usd`,
 *   `amount_usd`, `amount_value`, `amount` or `cost`, optionally with `currency`) and/or token
 *   columns (`input_tokens`, `input_cached_tokens`/`cached_input_tokens`, `output_tokens`).
 *
 * Money is kept as integer nano-USD, parsed from the decimal text so no float rounding creeps in.
 */

export type InvoiceProvider = 'openai' | 'anthropic';
export type InvoiceKind = 'cost' | 'usage';

export interface InvoiceLine {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  /** The model id as the provider wrote it (dated ids included). */
  model: string;
  costNusd?: number;
  /** Uncached input tokens. */
  inputTokens?: number;
  cachedInputTokens?: number;
  outputTokens?: number;
  /** Where it came from, for messages: "row 7" or "data[2].results[0]". */
  at: string;
}

export interface Invoice {
  format: string;
  provider: InvoiceProvider | undefined;
  kind: InvoiceKind;
  lines: InvoiceLine[];
}

/** A malformed or foreign file: always names the file, and the row and column (or JSON path) at fault. */
function bad(file: string, where: string, what: string): UserError {
  return new UserError(`${file}: ${where}: ${what}`, [
    'export the report again from the provider (costs grouped by line item or model, usage grouped by model), or write a CSV with columns date, model, cost_usd',
    'sagewai-obs reconcile --help (lists the file shapes it reads)',
  ]);
}

/** "0.000123" (or a number) → integer nano-units, exactly; more than 9 decimals is rounded half away from zero. */
export function decimalToNano(raw: string | number, scale = 1): number | undefined {
  const text = typeof raw === 'number' ? (Number.isFinite(raw) ? raw.toString() : '') : raw.trim();
  const m = /^([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
  const sign = m[1] === '-' ? -1 : 1;
  let digits = `${m[2] ?? ''}${m[3] ?? ''}`;
  let point = (m[2] ?? '').length + Number(m[4] ?? 0);
  // value = 0.digits × 10^point; nano = value × 1e9 / scale
  const decimalsWanted = 9;
  point += decimalsWanted;
  if (digits === '') digits = '0';
  let intPart: string;
  let rest: string;
  if (point <= 0) {
    intPart = '0';
    rest = '0'.repeat(-point) + digits;
  } else if (point >= digits.length) {
    intPart = digits + '0'.repeat(point - digits.length);
    rest = '';
  } else {
    intPart = digits.slice(0, point);
    rest = digits.slice(point);
  }
  let n = BigInt(intPart);
  if (rest.length > 0 && Number(rest[0]) >= 5) n += 1n;
  if (scale !== 1) {
    // Divide exactly when possible, else round half away from zero.
    const s = BigInt(scale);
    const q = n / s;
    n = (n % s) * 2n >= s ? q + 1n : q;
  }
  const out = Number(n) * sign;
  return Number.isSafeInteger(out) ? out : undefined;
}

function dayOf(file: string, where: string, raw: unknown): string {
  let d: Date;
  if (typeof raw === 'number' && Number.isFinite(raw)) d = new Date(raw * 1000);
  else if (typeof raw === 'string' && /^\d+$/.test(raw.trim())) d = new Date(Number(raw.trim()) * 1000);
  else if (typeof raw === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(raw.trim())) d = new Date(`${raw.trim()}T00:00:00Z`);
  else if (typeof raw === 'string') d = new Date(raw.trim());
  else throw bad(file, where, `expected a date (YYYY-MM-DD, an ISO time or unix seconds), got ${JSON.stringify(raw)}`);
  if (Number.isNaN(d.getTime())) throw bad(file, where, `cannot read the date ${JSON.stringify(raw)}`);
  return d.toISOString().slice(0, 10);
}

function tokens(file: string, where: string, raw: unknown): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(file, where, `expected a whole number of tokens ≥ 0, got ${JSON.stringify(raw)}`);
  return n;
}

function usd(file: string, where: string, raw: unknown, currency: unknown, scale = 1): number {
  if (currency !== undefined && currency !== null && String(currency).trim().toLowerCase() !== 'usd') {
    throw bad(file, where, `currency ${JSON.stringify(currency)} is not USD; sagewai-obs prices in USD only`);
  }
  const n = typeof raw === 'string' || typeof raw === 'number' ? decimalToNano(raw, scale) : undefined;
  if (n === undefined) throw bad(file, where, `expected an amount such as 0.0125, got ${JSON.stringify(raw)}`);
  return n;
}

// ---------- JSON ----------

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonReport(file: string, doc: unknown): Invoice {
  const buckets = isObj(doc) && Array.isArray(doc.data) ? (doc.data as unknown[]) : Array.isArray(doc) ? doc : undefined;
  if (!buckets) throw bad(file, 'top level', 'not a usage or cost report: expected an object with a "data" array of time buckets');
  const lines: InvoiceLine[] = [];
  let format: string | undefined;
  let provider: InvoiceProvider | undefined;
  let kind: InvoiceKind | undefined;
  buckets.forEach((bucket, bi) => {
    const bw = `data[${bi}]`;
    if (!isObj(bucket) || !Array.isArray(bucket.results)) throw bad(file, bw, 'a time bucket must be an object with a "results" array');
    const start = bucket.start_time ?? bucket.starting_at;
    if (start === undefined) throw bad(file, `${bw}.start_time`, 'a time bucket needs start_time (OpenAI) or starting_at (Anthropic)');
    const day = dayOf(file, `${bw}.start_time`, start);
    (bucket.results as unknown[]).forEach((r, ri) => {
      const w = `${bw}.results[${ri}]`;
      if (!isObj(r)) throw bad(file, w, 'a result must be an object');
      let line: InvoiceLine;
      let f: string;
      if (isObj(r.amount) && 'value' in r.amount) {
        f = 'openai-costs';
        if (typeof r.line_item !== 'string' || r.line_item.trim() === '') throw bad(file, `${w}.line_item`, 'costs must be exported grouped by line_item (group_by=line_item), so each amount names its model');
        const model = r.line_item.split(',')[0]?.trim() ?? '';
        line = { day, model, costNusd: usd(file, `${w}.amount.value`, r.amount.value, r.amount.currency), at: w };
      } else if (typeof r.amount === 'string' || (typeof r.amount === 'number' && 'model' in r)) {
        f = 'anthropic-cost-report';
        if (typeof r.model !== 'string' || r.model === '') throw bad(file, `${w}.model`, 'cost results must carry a model (group the report by description or model)');
        // Anthropic amounts are in cents, as decimal strings.
        line = { day, model: r.model, costNusd: usd(file, `${w}.amount`, r.amount, r.currency, 100), at: w };
      } else if ('uncached_input_tokens' in r || 'cache_read_input_tokens' in r) {
        f = 'anthropic-usage-report';
        if (typeof r.model !== 'string' || r.model === '') throw bad(file, `${w}.model`, 'usage results must carry a model (group_by[]=model)');
        const creation = isObj(r.cache_creation) ? Object.values(r.cache_creation).reduce<number>((n, v, i) => n + tokens(file, `${w}.cache_creation[${i}]`, v), 0) : 0;
        // Cache writes are billed as (more expensive) input; the ledger counts them as input.
        line = { day, model: r.model, inputTokens: tokens(file, `${w}.uncached_input_tokens`, r.uncached_input_tokens ?? 0) + creation, cachedInputTokens: tokens(file, `${w}.cache_read_input_tokens`, r.cache_read_input_tokens ?? 0), outputTokens: tokens(file, `${w}.output_tokens`, r.output_tokens ?? 0), at: w };
      } else if ('input_tokens' in r && 'output_tokens' in r) {
        f = 'openai-usage-completions';
        if (typeof r.model !== 'string' || r.model === '') throw bad(file, `${w}.model`, 'usage must be exported grouped by model (group_by=model)');
        const input = tokens(file, `${w}.input_tokens`, r.input_tokens);
        const cached = tokens(file, `${w}.input_cached_tokens`, r.input_cached_tokens ?? 0);
        if (cached > input) throw bad(file, `${w}.input_cached_tokens`, `cached tokens (${cached}) exceed input tokens (${input}); OpenAI counts cached tokens inside input_tokens`);
        line = { day, model: r.model, inputTokens: input - cached, cachedInputTokens: cached, outputTokens: tokens(file, `${w}.output_tokens`, r.output_tokens), at: w };
      } else {
        throw bad(file, w, 'not a result of a known usage or cost report (expected amount.value + line_item, amount + model, or token counts + model)');
      }
      if (format !== undefined && format !== f) throw bad(file, w, `mixes report shapes (${format} and ${f}); export one report per file`);
      format = f;
      provider = f.startsWith('openai') ? 'openai' : 'anthropic';
      kind = f.endsWith('costs') || f.endsWith('cost-report') ? 'cost' : 'usage';
      lines.push(line);
    });
  });
  if (!format || !kind) throw bad(file, 'data', 'the report holds no results');
  return { format, provider, kind, lines };
}

// ---------- CSV ----------

/** RFC 4180 fields: quotes, doubled quotes, commas and newlines inside quotes; CRLF or LF rows. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0]?.trim() === ''));
}

const CSV_COLUMNS = {
  day: ['date', 'day', 'start_time', 'starting_at', 'usage_date', 'bucket_start'],
  model: ['model', 'line_item', 'model_name'],
  cost: ['cost_usd', 'amount_usd', 'amount_value', 'amount', 'cost'],
  currency: ['currency', 'amount_currency'],
  input: ['input_tokens', 'uncached_input_tokens'],
  cached: ['input_cached_tokens', 'cached_input_tokens', 'cache_read_input_tokens'],
  output: ['output_tokens'],
  provider: ['provider'],
} as const;

function parseCsvReport(file: string, text: string, providerHint: InvoiceProvider | undefined): Invoice {
  const rows = parseCsv(text.replace(/^\uFEFF/, ''));
  const header = rows[0]?.map((h) => h.trim().toLowerCase());
  if (!header || header.length < 2) throw bad(file, 'row 1', 'expected a header row naming the columns (e.g. date,model,cost_usd)');
  const col = (names: readonly string[]): number => header.findIndex((h) => names.includes(h));
  const c = Object.fromEntries(Object.entries(CSV_COLUMNS).map(([k, names]) => [k, col(names)])) as Record<keyof typeof CSV_COLUMNS, number>;
  const colName = (i: number): string => `column ${i + 1} (${header[i]})`;
  if (c.day < 0) throw bad(file, 'row 1', `no day column; name one of ${CSV_COLUMNS.day.join(', ')}`);
  if (c.model < 0) throw bad(file, 'row 1', `no model column; name one of ${CSV_COLUMNS.model.join(', ')}`);
  const hasTokens = c.input >= 0 || c.output >= 0;
  if (c.cost < 0 && !hasTokens) throw bad(file, 'row 1', `no cost column (${CSV_COLUMNS.cost.join(', ')}) and no token columns (input_tokens, output_tokens)`);
  const kind: InvoiceKind = c.cost >= 0 ? 'cost' : 'usage';
  // OpenAI counts cached tokens inside input_tokens; a CSV that names uncached_input_tokens does not.
  const inputIncludesCached = c.input >= 0 && header[c.input] === 'input_tokens';
  let provider = providerHint;
  const lines: InvoiceLine[] = [];
  rows.slice(1).forEach((r, i) => {
    const rowNo = i + 2;
    const cell = (k: number): string => (r[k] ?? '').trim();
    const where = (k: number): string => `row ${rowNo}, ${colName(k)}`;
    if (r.length !== header.length) throw bad(file, `row ${rowNo}`, `has ${r.length} fields, the header has ${header.length}`);
    const model = cell(c.model).split(',')[0]?.trim() ?? '';
    if (model === '') throw bad(file, where(c.model), 'the model is empty');
    if (c.provider >= 0) {
      const p = cell(c.provider).toLowerCase();
      if (p !== 'openai' && p !== 'anthropic') throw bad(file, where(c.provider), `unknown provider ${JSON.stringify(cell(c.provider))}; expected openai or anthropic`);
      if (provider && provider !== p) throw bad(file, where(c.provider), `mixes providers (${provider} and ${p}); reconcile one provider's invoice at a time`);
      provider = p;
    }
    const line: InvoiceLine = { day: dayOf(file, where(c.day), cell(c.day)), model, at: `row ${rowNo}` };
    if (c.cost >= 0) line.costNusd = usd(file, where(c.cost), cell(c.cost).replace(/^\$/, ''), c.currency >= 0 ? cell(c.currency) : undefined);
    if (hasTokens) {
      const cached = c.cached >= 0 ? tokens(file, where(c.cached), cell(c.cached)) : 0;
      const input = c.input >= 0 ? tokens(file, where(c.input), cell(c.input)) : 0;
      if (inputIncludesCached && cached > input) throw bad(file, where(c.cached), `cached tokens (${cached}) exceed input_tokens (${input}), which include them`);
      line.inputTokens = inputIncludesCached ? input - cached : input;
      line.cachedInputTokens = cached;
      line.outputTokens = c.output >= 0 ? tokens(file, where(c.output), cell(c.output)) : 0;
    }
    lines.push(line);
  });
  if (lines.length === 0) throw bad(file, 'row 2', 'the file has a header and no rows');
  return { format: 'csv', provider, kind, lines };
}

/** Reads an export from its text; `file` only names it in messages. */
export function parseInvoice(file: string, text: string, providerHint?: InvoiceProvider): Invoice {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      const m = /position (\d+)/.exec((err as Error).message);
      const pos = m ? Number(m[1]) : undefined;
      const where = pos === undefined ? 'JSON' : (() => {
        const before = text.slice(0, pos).split('\n');
        return `line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
      })();
      throw bad(file, where, `malformed JSON (${(err as Error).message})`);
    }
    const inv = parseJsonReport(file, doc);
    if (providerHint && inv.provider && providerHint !== inv.provider) throw bad(file, 'top level', `this is ${inv.provider}'s ${inv.kind} report, but --provider says ${providerHint}`);
    return inv;
  }
  if (text.trim() === '') throw bad(file, 'row 1', 'the file is empty');
  return parseCsvReport(file, text, providerHint);
}
