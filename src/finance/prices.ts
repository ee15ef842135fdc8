import fs from 'node:fs';
import Table from 'cli-table3';
import { PriceBook, PriceBookError } from '../backend/pricebook.js';
import { BackendApiError, toCliError, type BackendClient, type PriceBookImported, type PriceBookVersion } from '../clients/backend.js';
import { UserError } from '../errors.js';

/**
 * `prices import` / `prices list`: the price-book history lives in the backend; these read the
 * file, check it here first (so a bad file fails without a backend), and send its text so the
 * backend's own checks name the same lines.
 */
const HINT = 'fix that line; prices are USD per million tokens with at most three decimals, one entry per model and effective_from, and a new book starts now or later';

export function readBookFile(file: string): { text: string; book: PriceBook } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read the price book ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'pass the path of a JSON price book shaped like the bundled assets/pricebook.json');
  }
  try {
    return { text, book: PriceBook.parse(text) };
  } catch (err) {
    if (err instanceof PriceBookError) throw new UserError(`${file}:${err.line}: ${err.reason}`, HINT);
    throw err;
  }
}

export async function importPriceBook(client: BackendClient, file: string): Promise<PriceBookImported & { file: string }> {
  const { text } = readBookFile(file);
  try {
    return { ...(await client.importPriceBook(text)), file };
  } catch (err) {
    if (err instanceof BackendApiError && (err.status === 409 || err.status === 422)) {
      const e = (err.body as { error?: { message?: string; line?: number } } | undefined)?.error;
      const reason = (e?.message ?? err.message).replace(/^line \d+: /, '');
      throw new UserError(`${file}${e?.line !== undefined ? `:${e.line}` : ''}: ${reason}`, HINT);
    }
    throw toCliError(err, client.baseUrl);
  }
}

export async function listPriceBooks(client: BackendClient): Promise<PriceBookVersion[]> {
  try {
    return await client.listPriceBooks();
  } catch (err) {
    throw toCliError(err, client.baseUrl);
  }
}

export function priceBooksTable(items: PriceBookVersion[]): string {
  const t = new Table({ head: ['version', 'in effect from', 'models', ''] });
  for (const b of items) t.push([b.version, b.effective_from, b.models, b.active ? 'active' : Date.parse(b.effective_from) > Date.now() ? 'scheduled' : '']);
  return t.toString();
}
