import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { PriceBook } from '../backend/pricebook.js';
import { assetsDir } from '../paths.js';

/**
 * The collector components that price the `gen_ai.*` spans of external apps, generated from the
 * one price book (docs/genai.md). The output is committed as assets/collector/genai.yaml and
 * loaded as a second `--config` next to config.yaml; test/genai-config.test.ts fails when the
 * committed file is out of step with the price book (`npm run genai-config` regenerates it).
 *
 * Flow: traces/genai (otlp → filter/genai-own-spans → transform/genai-price) →
 * signal_to_metrics/genai (integer sums) →
 * metrics/genai (delta_to_cumulative → transform/genai-usd) → the prometheus exporter, under the
 * metric and label names the catalog already reads for the built-in backend.
 */

/** Our own backend prices its calls in its ledger and exports those totals: never price it twice. */
export const OWN_SERVICE_NAME = 'sagewai-admin';
/** Env var naming the tenant attribute consulted after `sagewai.project_id`. */
export const TENANT_ATTRIBUTE_ENV = 'SAGEWAI_GENAI_TENANT_ATTRIBUTE';
export const DEFAULT_TENANT_ATTRIBUTE = 'tenant.id';
/** A single call reporting more tokens than this in one attribute is rejected as absurd. */
export const MAX_TOKENS_PER_CALL = 10_000_000;
/** Operation names (GenAI semconv) of a model call; agent and tool spans are never priced. */
export const CALL_OPERATIONS = ['chat', 'text_completion', 'generate_content', 'embeddings'] as const;
/** Operations that only aggregate or orchestrate calls (their usage, if any, would count twice). */
export const NON_CALL_OPERATIONS = ['invoke_agent', 'create_agent', 'execute_tool'] as const;

/** Token attributes, newest semconv name first, then the older names instrumentations still emit. */
export const TOKEN_ATTRIBUTES = {
  input: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  output: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  cachedInput: ['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens'],
  // GenAI semconv: a part of gen_ai.usage.output_tokens (OpenLLMetry's older name likewise).
  reasoning: ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens'],
} as const;

/** Reasons a GenAI span is rejected (label `sagewai_genai_reject_reason`). */
export const REJECT_REASONS = ['missing_model', 'invalid_model', 'missing_tokens', 'non_integer_tokens', 'negative_tokens', 'absurd_tokens', 'cached_exceeds_input', 'reasoning_exceeds_output'] as const;

// Working attributes on the span copy inside the genai pipeline (never exported as spans).
const K = 'sagewai.genai';
const a = (key: string): string => `span.attributes[${JSON.stringify(key)}]`;
const r = (key: string): string => `resource.attributes[${JSON.stringify(key)}]`;
const STATUS = a(`${K}.status`);
const IN = a(`${K}.in`);
const OUT = a(`${K}.out`);
const CACHED = a(`${K}.cached`);
const REASONING = a(`${K}.reasoning`);
const MODEL = a('gen_ai.request.model');
const PENDING = `${STATUS} == "pending"`;
const str = (s: string): string => JSON.stringify(s);
const tenantAttr = `\${env:${TENANT_ATTRIBUTE_ENV}:-${DEFAULT_TENANT_ATTRIBUTE}}`;

function reject(reason: (typeof REJECT_REASONS)[number], condition: string): string[] {
  return [`set(${a(`${K}.reject_reason`)}, ${str(reason)}) where ${PENDING} and (${condition})`, `set(${STATUS}, "rejected") where ${PENDING} and ${a(`${K}.reject_reason`)} == ${str(reason)}`];
}

/** Escapes a literal for an RE2 pattern inside an OTTL string. */
const reEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The price book as the generator reads it: the validated PriceBook (prices, alias targets) plus
 * the alias names and local providers listed in the same file.
 */
export interface GenaiPriceSource {
  book: PriceBook;
  aliases: Record<string, string>;
  localProviders: string[];
}

export function loadPriceSource(file = path.join(assetsDir(), 'pricebook.json')): GenaiPriceSource {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { aliases?: Record<string, string>; local_providers?: string[] };
  return { book: new PriceBook(raw), aliases: raw.aliases ?? {}, localProviders: raw.local_providers ?? [] };
}

/** The OTTL statements of transform/genai-price, in order. */
export function pricingStatements(src: GenaiPriceSource): string[] {
  const { book } = src;
  const anyUsage = Object.values(TOKEN_ATTRIBUTES).flat().map((k) => `${a(k)} != nil`).join(' or ');
  const op = a('gen_ai.operation.name');
  const isCall = `(${CALL_OPERATIONS.map((o) => `${op} == ${str(o)}`).join(' or ')}) or (${op} == nil and (${anyUsage}))`;
  const s: string[] = [];

  // 1. Which spans are model calls of an external app.
  s.push(`set(${STATUS}, "pending") where ${r('service.name')} != ${str(OWN_SERVICE_NAME)} and (${isCall})`);
  // A failed call that reports no usage was not billed: not a rejection, not a call.
  s.push(`set(${STATUS}, "failed") where ${PENDING} and span.status.code == STATUS_CODE_ERROR and not (${anyUsage})`);

  // 2. Tenant: sagewai.project_id (span, then resource), then the configured attribute (span,
  //    then resource), then service.name. The result is the span's sagewai.project_id.
  const tenant = a('sagewai.project_id');
  s.push(`set(${tenant}, ${r('sagewai.project_id')}) where ${STATUS} != nil and ${tenant} == nil and ${r('sagewai.project_id')} != nil`);
  s.push(`set(${tenant}, ${a(tenantAttr)}) where ${STATUS} != nil and ${tenant} == nil and ${a(tenantAttr)} != nil`);
  s.push(`set(${tenant}, ${r(tenantAttr)}) where ${STATUS} != nil and ${tenant} == nil and ${r(tenantAttr)} != nil`);
  s.push(`set(${tenant}, ${r('service.name')}) where ${STATUS} != nil and ${tenant} == nil and ${r('service.name')} != nil`);
  s.push(`set(${tenant}, "unknown_service") where ${STATUS} != nil and ${tenant} == nil`);
  // The app is the agent: `cost --by agent` and the HUD show each external app by name.
  s.push(`set(${a('sagewai.agent.name')}, ${r('service.name')}) where ${STATUS} != nil and ${r('service.name')} != nil`);
  s.push(`set(${a('sagewai.agent.name')}, "unknown_service") where ${STATUS} != nil and ${a('sagewai.agent.name')} == nil`);
  // Provider as the app reports it (newer name, then the older gen_ai.system).
  s.push(`set(${a('gen_ai.provider.name')}, ${a('gen_ai.system')}) where ${STATUS} != nil and ${a('gen_ai.provider.name')} == nil and ${a('gen_ai.system')} != nil`);

  // 3. Model: the requested one, else the one the response names.
  s.push(`set(${MODEL}, ${a('gen_ai.response.model')}) where ${STATUS} != nil and ${MODEL} == nil and ${a('gen_ai.response.model')} != nil`);
  s.push(...reject('missing_model', `${MODEL} == nil`));
  s.push(...reject('invalid_model', `not IsString(${MODEL})`));

  // 4. Token counts, normalised to four working attributes. Input includes cached input and
  //    output includes reasoning (GenAI semconv); embeddings have no output.
  for (const [target, keys] of [[IN, TOKEN_ATTRIBUTES.input], [OUT, TOKEN_ATTRIBUTES.output], [CACHED, TOKEN_ATTRIBUTES.cachedInput], [REASONING, TOKEN_ATTRIBUTES.reasoning]] as const) {
    for (const key of keys) s.push(`set(${target}, ${a(key)}) where ${PENDING} and ${target} == nil and ${a(key)} != nil`);
  }
  s.push(`set(${OUT}, 0) where ${PENDING} and ${OUT} == nil and ${op} == "embeddings"`);
  s.push(`set(${CACHED}, 0) where ${PENDING} and ${CACHED} == nil`);
  s.push(`set(${REASONING}, 0) where ${PENDING} and ${REASONING} == nil`);
  s.push(...reject('missing_tokens', `${IN} == nil or ${OUT} == nil`));
  s.push(...reject('non_integer_tokens', `not IsInt(${IN}) or not IsInt(${OUT}) or not IsInt(${CACHED}) or not IsInt(${REASONING})`));
  s.push(...reject('negative_tokens', `${IN} < 0 or ${OUT} < 0 or ${CACHED} < 0 or ${REASONING} < 0`));
  s.push(...reject('absurd_tokens', `${IN} > ${MAX_TOKENS_PER_CALL} or ${OUT} > ${MAX_TOKENS_PER_CALL}`));
  s.push(...reject('cached_exceeds_input', `${CACHED} > ${IN}`));
  s.push(...reject('reasoning_exceeds_output', `${REASONING} > ${OUT}`));

  // 5. Prices from the book, integer nano-USD per token; exact lookup (model id or alias).
  const aliasesOf = new Map<string, string[]>();
  for (const [alias, target] of Object.entries(src.aliases)) aliasesOf.set(target, [...(aliasesOf.get(target) ?? []), alias]);
  // A model with price history gets one statement per window, chosen by the span's start time,
  // so a call is priced at the price in effect when it was made (the windows quote() uses).
  const nanos = (ms: number): string => (BigInt(ms) * 1_000_000n).toString();
  for (const w of book.priceWindows()) {
    const q = book.quote(w.model, w.fromMs ?? (w.toMs !== null ? w.toMs - 1 : Date.now()));
    const names = [w.model, ...(aliasesOf.get(w.model) ?? [])];
    const when = [w.fromMs !== null ? ` and span.start_time_unix_nano >= ${nanos(w.fromMs)}` : '', w.toMs !== null ? ` and span.start_time_unix_nano < ${nanos(w.toMs)}` : ''].join('');
    s.push(`merge_maps(span.attributes, {${priceMap(q.model, q.provider, q.inputNusd, q.cachedInputNusd, q.outputNusd, q.reasoningNusd)}}, "upsert") where ${PENDING} and (${names.map((n) => `${MODEL} == ${str(n)}`).join(' or ')})${when}`);
  }
  for (const local of src.localProviders) {
    s.push(`merge_maps(span.attributes, {${priceMap('', local, 0, 0, 0, 0)}}, "upsert") where ${PENDING} and IsMatch(${MODEL}, ${str(`^${reEscape(local)}/`)})`);
  }
  const priceModel = a(`${K}.price.model`);
  s.push(`set(${priceModel}, ${MODEL}) where ${PENDING} and ${priceModel} == ""`);
  s.push(`set(${STATUS}, "priced") where ${PENDING} and ${priceModel} != nil`);
  s.push(`set(${STATUS}, "unpriced") where ${PENDING}`);
  s.push(`set(${a('gen_ai.provider.name')}, ${a(`${K}.price.provider`)}) where ${STATUS} == "priced" and ${a('gen_ai.provider.name')} == nil`);
  s.push(`set(${a('gen_ai.provider.name')}, "unknown") where ${STATUS} != nil and ${a('gen_ai.provider.name')} == nil`);

  // 6. Tokens by type as the ledger counts them (input = uncached input, output = without
  //    reasoning) and the cost, each token priced once.
  const counted = `(${STATUS} == "priced" or ${STATUS} == "unpriced")`;
  s.push(`set(${a(`${K}.tokens.input`)}, ${IN} - ${CACHED}) where ${counted}`);
  s.push(`set(${a(`${K}.tokens.output`)}, ${OUT} - ${REASONING}) where ${counted}`);
  s.push(
    `set(${a(`${K}.cost_nusd`)}, (${IN} - ${CACHED}) * ${a(`${K}.price.input`)} + ${CACHED} * ${a(`${K}.price.cached_input`)} + (${OUT} - ${REASONING}) * ${a(`${K}.price.output`)} + ${REASONING} * ${a(`${K}.price.reasoning`)}) where ${STATUS} == "priced"`,
  );
  s.push(`set(${a('sagewai.priced')}, "true") where ${STATUS} == "priced"`);
  s.push(`set(${a('sagewai.priced')}, "false") where ${STATUS} == "unpriced"`);
  return s;
}

function priceMap(model: string, provider: string, input: number, cached: number, output: number, reasoning: number): string {
  return [
    `${str(`${K}.price.model`)}: ${str(model)}`,
    `${str(`${K}.price.provider`)}: ${str(provider)}`,
    `${str(`${K}.price.input`)}: ${input}`,
    `${str(`${K}.price.cached_input`)}: ${cached}`,
    `${str(`${K}.price.output`)}: ${output}`,
    `${str(`${K}.price.reasoning`)}: ${reasoning}`,
  ].join(', ');
}

/**
 * transform/genai-metric-tenant: the same tenant mapping for the GenAI metrics external apps send
 * (`gen_ai.client.token.usage`, `gen_ai.client.operation.duration`), stored as sent and never
 * priced (the spans are). Runs in config.yaml's metrics pipeline.
 */
export function metricTenantStatements(): string[] {
  const t = 'datapoint.attributes["sagewai.project_id"]';
  const dp = (key: string): string => `datapoint.attributes[${JSON.stringify(key)}]`;
  // The resource test first: it settles our own backend's data points without running the regex.
  const external = `${r('service.name')} != ${str(OWN_SERVICE_NAME)} and IsMatch(metric.name, "^gen_ai[.]client[.]")`;
  return [
    `set(${t}, ${r('sagewai.project_id')}) where ${external} and ${t} == nil and ${r('sagewai.project_id')} != nil`,
    `set(${t}, ${dp(tenantAttr)}) where ${external} and ${t} == nil and ${dp(tenantAttr)} != nil`,
    `set(${t}, ${r(tenantAttr)}) where ${external} and ${t} == nil and ${r(tenantAttr)} != nil`,
    `set(${t}, ${r('service.name')}) where ${external} and ${t} == nil and ${r('service.name')} != nil`,
  ];
}

const LABELS = ['sagewai.project_id', 'sagewai.agent.name', 'gen_ai.provider.name', 'gen_ai.request.model'];
const labels = (...extra: Array<{ key: string; default_value?: string }>): Array<{ key: string; default_value?: string }> => [...LABELS.map((key) => ({ key })), ...extra];
const RESOURCE = [{ key: 'service.name' }, { key: 'service.namespace' }];

/** The signal_to_metrics/genai definitions: integer sums, one per counter the catalog reads. */
function connectorSpans(): unknown[] {
  const counted = `${STATUS} == "priced" or ${STATUS} == "unpriced"`;
  const tokens = (type: string, value: string): unknown => ({
    name: 'sagewai.llm.tokens',
    description: 'LLM tokens by type of external GenAI apps, from their gen_ai.* spans.',
    unit: '{token}',
    include_resource_attributes: RESOURCE,
    attributes: labels({ key: 'gen_ai.token.type', default_value: type }),
    conditions: [counted],
    sum: { value, monotonic: true },
  });
  return [
    {
      // Summed as integer nano-USD here; transform/genai-usd turns the cumulative total into USD.
      name: 'sagewai.llm.cost.usd',
      description: 'LLM spend of external GenAI apps in USD, priced from the price book.',
      unit: '{USD}',
      include_resource_attributes: RESOURCE,
      attributes: labels(),
      conditions: [`${STATUS} == "priced"`],
      sum: { value: a(`${K}.cost_nusd`), monotonic: true },
    },
    tokens('input', a(`${K}.tokens.input`)),
    tokens('cached_input', CACHED),
    tokens('output', a(`${K}.tokens.output`)),
    tokens('reasoning', REASONING),
    {
      name: 'sagewai.llm.calls',
      description: 'LLM calls of external GenAI apps, priced or not.',
      unit: '{call}',
      include_resource_attributes: RESOURCE,
      attributes: labels({ key: 'sagewai.priced' }),
      conditions: [counted],
      sum: { value: '1', monotonic: true },
    },
    {
      name: 'sagewai.genai.rejected.spans',
      description: 'GenAI spans rejected (missing, non-integer, negative or absurd token counts; no model): never priced.',
      unit: '{span}',
      include_resource_attributes: RESOURCE,
      attributes: [{ key: 'sagewai.project_id' }, { key: 'sagewai.agent.name' }, { key: `${K}.reject_reason` }],
      conditions: [`${STATUS} == "rejected"`],
      sum: { value: '1', monotonic: true },
    },
  ];
}

/** The whole generated collector config fragment, as an object. */
export function genaiCollectorConfig(src: GenaiPriceSource): Record<string, unknown> {
  return {
    processors: {
      // Our own backend's spans leave this pipeline at once (its traces pipeline and span metrics
      // still get them): a condition on the resource alone is evaluated once per batch of a
      // service, where the pricing statements below each tested every span of every request.
      'filter/genai-own-spans': {
        error_mode: 'ignore',
        trace_conditions: [`${r('service.name')} == ${str(OWN_SERVICE_NAME)}`],
      },
      'transform/genai-price': {
        error_mode: 'ignore',
        trace_statements: [{ context: 'span', statements: pricingStatements(src) }],
      },
      'transform/genai-metric-tenant': {
        error_mode: 'ignore',
        metric_statements: [{ context: 'datapoint', statements: metricTenantStatements() }],
      },
      'delta_to_cumulative/genai': {
        // Longer than the prometheus exporter's metric_expiration (10m): a quiet series keeps
        // its total instead of restarting from the next delta.
        max_stale: '1h',
      },
      'transform/genai-usd': {
        error_mode: 'propagate',
        metric_statements: [
          {
            context: 'datapoint',
            statements: ['set(datapoint.value_double, Double(datapoint.value_int) / 1000000000.0) where metric.name == "sagewai.llm.cost.usd"'],
          },
        ],
      },
    },
    connectors: {
      'signal_to_metrics/genai': { spans: connectorSpans() },
    },
    service: {
      pipelines: {
        'traces/genai': { receivers: ['otlp'], processors: ['memory_limiter', 'filter/genai-own-spans', 'transform/genai-price'], exporters: ['signal_to_metrics/genai'] },
        'metrics/genai': { receivers: ['signal_to_metrics/genai'], processors: ['delta_to_cumulative/genai', 'transform/genai-usd'], exporters: ['prometheus'] },
      },
    },
  };
}

export function genaiConfigFile(): string {
  return path.join(assetsDir(), 'collector', 'genai.yaml');
}

/** The committed file's exact text. */
export function genaiCollectorYaml(src: GenaiPriceSource = loadPriceSource()): string {
  const header = [
    '# GENERATED from assets/pricebook.json by `npm run genai-config` (src/genai/collector-config.ts).',
    '# Do not edit: test/genai-config.test.ts fails when this file and the price book disagree.',
    '# Loaded as a second --config after config.yaml; prices the gen_ai.* spans of external apps',
    `# (price book ${src.book.version}) into sagewai_llm_{cost_usd,tokens,calls}_total. See docs/genai.md.`,
    `# ${TENANT_ATTRIBUTE_ENV}: the tenant attribute after sagewai.project_id (default ${DEFAULT_TENANT_ATTRIBUTE}).`,
    '',
  ].join('\n');
  return header + YAML.stringify(genaiCollectorConfig(src), { lineWidth: 0 });
}

export function writeGenaiConfig(file = genaiConfigFile()): string {
  fs.writeFileSync(file, genaiCollectorYaml());
  return file;
}
