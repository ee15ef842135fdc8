import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { genaiCollectorYaml, genaiConfigFile, loadPriceSource, pricingStatements } from '../src/genai/collector-config.js';
import { assetsDir } from '../src/paths.js';
import { commandLine } from '../src/stack/native.js';

const bookFile = path.join(assetsDir(), 'pricebook.json');

/** A copy of the price book with `edit` applied, loaded the way the generator loads it. */
function editedSource(edit: (raw: { entries: Array<Record<string, unknown>>; aliases: Record<string, string> }) => void) {
  const raw = JSON.parse(fs.readFileSync(bookFile, 'utf8'));
  edit(raw);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-genai-book-'));
  try {
    fs.writeFileSync(path.join(dir, 'pricebook.json'), JSON.stringify(raw));
    return loadPriceSource(path.join(dir, 'pricebook.json'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('genai collector config generated from the price book', () => {
  it('is committed exactly as the price book generates it (run `npm run genai-config` after changing the book)', () => {
    expect(fs.readFileSync(genaiConfigFile(), 'utf8')).toBe(genaiCollectorYaml());
  });

  it('prices every model and alias of the book at its integer nano-USD rates, and nothing else', () => {
    const src = loadPriceSource();
    const statements = pricingStatements(src).join('\n');
    for (const e of src.book.entries()) {
      const q = src.book.quote(e.model);
      const line = pricingStatements(src).find((s) => s.includes(`"sagewai.genai.price.model": "${e.model}"`));
      expect(line, e.model).toBeDefined();
      expect(line).toContain(`"sagewai.genai.price.input": ${q.inputNusd},`);
      expect(line).toContain(`"sagewai.genai.price.cached_input": ${q.cachedInputNusd},`);
      expect(line).toContain(`"sagewai.genai.price.output": ${q.outputNusd},`);
      expect(line).toContain(`"sagewai.genai.price.reasoning": ${q.reasoningNusd}}`);
    }
    for (const [alias, target] of Object.entries(src.aliases)) {
      const line = pricingStatements(src).find((s) => s.includes(`"sagewai.genai.price.model": "${target}"`));
      expect(line, alias).toContain(`span.attributes["gen_ai.request.model"] == "${alias}"`);
    }
    // No prefix matching of model ids (only the declared local providers' namespaces).
    expect(statements.match(/IsMatch\(span\.attributes\["gen_ai\.request\.model"\]/g)).toHaveLength(src.localProviders.length);
  });

  it('follows a price change in the book (no second copy of the prices)', () => {
    const changed = editedSource((raw) => {
      const e = raw.entries.find((x) => x.model === 'gpt-4o-mini');
      if (e) e.output = 0.7;
    });
    const line = pricingStatements(changed).find((s) => s.includes('"sagewai.genai.price.model": "gpt-4o-mini"'));
    expect(line).toContain('"sagewai.genai.price.output": 700,');
    // Reasoning follows the output price while the entry names none…
    expect(line).toContain('"sagewai.genai.price.reasoning": 700}');
    expect(genaiCollectorYaml(changed)).not.toBe(genaiCollectorYaml());
  });

  it('prices reasoning tokens at the entry\'s own reasoning price when it names one, and outside output', () => {
    const changed = editedSource((raw) => {
      const e = raw.entries.find((x) => x.model === 'gpt-5');
      if (e) e.reasoning = 7.5;
    });
    const statements = pricingStatements(changed);
    const line = statements.find((s) => s.includes('"sagewai.genai.price.model": "gpt-5"'));
    expect(line).toContain('"sagewai.genai.price.output": 10000,');
    expect(line).toContain('"sagewai.genai.price.reasoning": 7500}');
    const cost = statements.find((s) => s.startsWith('set(span.attributes["sagewai.genai.cost_nusd"]'));
    expect(cost).toContain('(span.attributes["sagewai.genai.out"] - span.attributes["sagewai.genai.reasoning"]) * span.attributes["sagewai.genai.price.output"]');
    expect(cost).toContain('span.attributes["sagewai.genai.reasoning"] * span.attributes["sagewai.genai.price.reasoning"]');
  });

  it('prices a model with price history by the span start time, in the windows quote() uses', () => {
    const src = editedSource((raw) => {
      const e = raw.entries.find((x) => x.model === 'gpt-4o-mini') as Record<string, unknown>;
      raw.entries.push({ ...e, output: 0.9, effective_from: '2027-01-01' });
    });
    const lines = pricingStatements(src).filter((s) => s.includes('"sagewai.genai.price.model": "gpt-4o-mini"'));
    expect(lines).toHaveLength(2);
    const jan1 = BigInt(Date.parse('2027-01-01T00:00:00Z')) * 1_000_000n;
    // The old price until the new one starts (an open first entry also covers the time before it,
    // as quote() has it); the new one from then on.
    expect(lines[0]).toContain('"sagewai.genai.price.output": 600, "sagewai.genai.price.reasoning": 600}');
    expect(lines[0]).toMatch(new RegExp(`\\) and span\\.start_time_unix_nano < ${jan1}$`));
    expect(lines[1]).toContain('"sagewai.genai.price.output": 900, "sagewai.genai.price.reasoning": 900}');
    expect(lines[1]).toMatch(new RegExp(`span\\.start_time_unix_nano >= ${jan1}$`));
    // The backend's own lookup agrees at both sides of the change.
    expect(src.book.quote('gpt-4o-mini', Date.parse('2026-12-31T23:59:59Z')).outputNusd).toBe(600);
    expect(src.book.quote('gpt-4o-mini', Date.parse('2027-01-01T00:00:00Z')).outputNusd).toBe(900);
    // A model with one open entry keeps no time condition: it prices every call, as quote() does.
    expect(pricingStatements(src).find((s) => s.includes('"sagewai.genai.price.model": "gpt-4o"'))).not.toContain('start_time_unix_nano');
  });

  it("never prices the built-in backend's spans, and reads the tenant attribute from the env with a default", () => {
    const first = pricingStatements(loadPriceSource())[0];
    expect(first).toContain('resource.attributes["service.name"] != "sagewai-admin"');
    // ...and its spans leave the pricing pipeline before any statement runs on them.
    const cfg = YAML.parse(genaiCollectorYaml()) as { processors: Record<string, { trace_conditions?: string[] }>; service: { pipelines: Record<string, { processors: string[] }> } };
    expect(cfg.processors['filter/genai-own-spans']?.trace_conditions).toEqual(['resource.attributes["service.name"] == "sagewai-admin"']);
    const order = cfg.service.pipelines['traces/genai']?.processors ?? [];
    expect(order.indexOf('filter/genai-own-spans')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('filter/genai-own-spans')).toBeLessThan(order.indexOf('transform/genai-price'));
    expect(genaiCollectorYaml()).toContain('span.attributes["${env:SAGEWAI_GENAI_TENANT_ATTRIBUTE:-tenant.id}"]');
  });

  it('wires its pipelines to the receiver and exporter of config.yaml, and the native runtime loads both files', () => {
    const base = YAML.parse(fs.readFileSync(path.join(assetsDir(), 'collector', 'config.yaml'), 'utf8')) as { receivers: Record<string, unknown>; exporters: Record<string, unknown>; processors: Record<string, unknown> };
    const genai = YAML.parse(genaiCollectorYaml()) as { service: { pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> }; connectors: Record<string, unknown>; processors: Record<string, unknown> };
    for (const p of Object.values(genai.service.pipelines)) {
      for (const rcv of p.receivers) expect(rcv in base.receivers || rcv in genai.connectors, rcv).toBe(true);
      for (const exp of p.exporters) expect(exp in base.exporters || exp in genai.connectors, exp).toBe(true);
      for (const proc of p.processors) expect(proc in base.processors || proc in genai.processors, proc).toBe(true);
    }
    // config.yaml's metrics pipeline runs the tenant mapping of external apps' gen_ai.client.* metrics.
    const basePipelines = (YAML.parse(fs.readFileSync(path.join(assetsDir(), 'collector', 'config.yaml'), 'utf8')) as { service: { pipelines: Record<string, { processors: string[] }> } }).service.pipelines;
    expect(basePipelines.metrics?.processors).toContain('transform/genai-metric-tenant');
    for (const p of Object.values(basePipelines)) for (const proc of p.processors) expect(proc in base.processors || proc in genai.processors, proc).toBe(true);
    const args = commandLine('collector', {} as never, '');
    expect(args.filter((x) => x.endsWith('.yaml')).map((x) => path.basename(x))).toEqual(['config.yaml', 'genai.yaml']);
  });
});
