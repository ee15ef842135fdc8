import fs from 'node:fs';
import path from 'node:path';
import { assetsDir } from '../paths.js';

/**
 * The price book (assets/pricebook.json) read by the examples themselves, independently of the
 * backend's pricing code, so an example's expected figures are not the backend checking itself.
 */
export interface Book {
  version: string;
  local_providers: string[];
  entries: Array<{ model: string; input: number; output: number; cached_input: number; reasoning?: number }>;
  aliases?: Record<string, string>;
}

export function loadBook(file = path.join(assetsDir(), 'pricebook.json')): Book {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Book;
}

export function isLocal(book: Book, model: string): boolean {
  return book.local_providers.some((p) => model.startsWith(`${p}/`));
}

/**
 * Cost of one call in integer nano-USD: tokens × (USD per million tokens × 1000). Reasoning tokens
 * (not part of `output`) cost the entry's reasoning price, or its output price when it names none.
 */
export function callNusd(book: Book, model: string, input: number, output: number, reasoning = 0): number {
  if (isLocal(book, model)) return 0;
  const id = book.aliases?.[model] ?? model;
  const e = book.entries.find((x) => x.model === id);
  if (!e) throw new Error(`the price book has no price for ${model}`);
  return input * Math.round(e.input * 1000) + output * Math.round(e.output * 1000) + reasoning * Math.round((e.reasoning ?? e.output) * 1000);
}
