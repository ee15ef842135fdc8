import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { assetsDir } from '../paths.js';

/**
 * The versioned price book (assets/pricebook.json). Lookup is exact — a model id or an explicit
 * alias — never a prefix match; `ollama/…` and `lmstudio/…` are free because their provider is
 * declared local. Anything else is unpriced (cost 0, priced=false), never guessed.
 */

const price = z.number().nonnegative().refine((v) => Number.isInteger(Math.round(v * 1000)) && Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-9, 'at most 3 decimals per million tokens');

const entrySchema = z.object({
  provider: z.string().min(1),
  model: z.string().min(1),
  input: price,
  cached_input: price,
  output: price,
  effective_from: z.string(),
  source: z.string(),
});

const bookSchema = z.object({
  version: z.string().min(1),
  effective_from: z.string(),
  local_providers: z.array(z.string()).default([]),
  entries: z.array(entrySchema),
  aliases: z.record(z.string()).default({}),
});

export type PriceEntry = z.infer<typeof entrySchema>;

export interface PriceQuote {
  priced: boolean;
  provider: string;
  /** The canonical model id (alias resolved). */
  model: string;
  /** nano-USD per token. */
  inputNusd: number;
  cachedInputNusd: number;
  outputNusd: number;
  version: string;
}

export interface TokenCounts {
  input: number;
  cachedInput: number;
  output: number;
}

export class PriceBook {
  readonly version: string;
  readonly effectiveFrom: string;
  private readonly byModel = new Map<string, PriceEntry>();
  private readonly aliases: Record<string, string>;
  private readonly local: Set<string>;

  constructor(raw: unknown) {
    const book = bookSchema.parse(raw);
    this.version = book.version;
    this.effectiveFrom = book.effective_from;
    for (const e of book.entries) {
      if (this.byModel.has(e.model)) throw new Error(`price book lists ${e.model} twice`);
      this.byModel.set(e.model, e);
    }
    this.aliases = book.aliases;
    for (const [alias, target] of Object.entries(this.aliases)) {
      if (!this.byModel.has(target)) throw new Error(`price book alias ${alias} points at unknown model ${target}`);
    }
    this.local = new Set(book.local_providers);
  }

  static load(file = path.join(assetsDir(), 'pricebook.json')): PriceBook {
    return new PriceBook(JSON.parse(fs.readFileSync(file, 'utf8')));
  }

  entries(): PriceEntry[] {
    return [...this.byModel.values()];
  }

  quote(modelId: string): PriceQuote {
    const slash = modelId.indexOf('/');
    const ns = slash > 0 ? modelId.slice(0, slash) : undefined;
    if (ns !== undefined && this.local.has(ns)) {
      return { priced: true, provider: ns, model: modelId, inputNusd: 0, cachedInputNusd: 0, outputNusd: 0, version: this.version };
    }
    const canonical = this.byModel.has(modelId) ? modelId : this.aliases[modelId];
    const e = canonical !== undefined ? this.byModel.get(canonical) : undefined;
    if (!e) {
      return { priced: false, provider: ns ?? 'unknown', model: modelId, inputNusd: 0, cachedInputNusd: 0, outputNusd: 0, version: this.version };
    }
    return {
      priced: true,
      provider: e.provider,
      model: e.model,
      inputNusd: Math.round(e.input * 1000),
      cachedInputNusd: Math.round(e.cached_input * 1000),
      outputNusd: Math.round(e.output * 1000),
      version: this.version,
    };
  }

  /** Integer nano-USD for a call. */
  static costNusd(q: PriceQuote, t: TokenCounts): number {
    return t.input * q.inputNusd + t.cachedInput * q.cachedInputNusd + t.output * q.outputNusd;
  }
}
