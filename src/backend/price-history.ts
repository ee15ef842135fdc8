import { PriceBook, PriceBookError, type PriceEntry, type PriceQuote } from './pricebook.js';

/**
 * The price books a backend has used, each from its effective time on. A call is priced by the
 * book in effect at its time (the first book also covers everything before it), and inside that
 * book by the model's entry in effect then. A new book may only take effect from now on and
 * after every book already loaded, so no recorded call is ever re-priced.
 */
export interface Pricing {
  quote(model: string, at?: number): PriceQuote;
}

export interface BookInEffect {
  book: PriceBook;
  /** Epoch ms from which this book prices calls. */
  from: number;
}

export class PriceHistory implements Pricing {
  private readonly books: BookInEffect[] = [];

  constructor(books: BookInEffect[]) {
    for (const b of [...books].sort((x, y) => x.from - y.from)) this.books.push(b);
    if (this.books.length === 0) throw new Error('a price history needs at least one book');
  }

  /** The book in effect at `at`. */
  bookAt(at = Date.now()): PriceBook {
    let found = this.books[0]!;
    for (const b of this.books) if (b.from <= at) found = b;
    return found.book;
  }

  quote(model: string, at = Date.now()): PriceQuote {
    return this.bookAt(at).quote(model, at);
  }

  /** The entries in effect now, one per model (the shape of a book without history). */
  entries(at = Date.now()): PriceEntry[] {
    return this.bookAt(at).entries(at);
  }

  list(): ReadonlyArray<BookInEffect> {
    return this.books;
  }

  has(version: string): boolean {
    return this.books.some((b) => b.book.version === version);
  }

  /**
   * Why `book` cannot take effect at `from` (now or later, after every loaded book), as a
   * PriceBookError on the line of its effective_from or version; undefined when it can.
   */
  refusal(book: PriceBook, from: number, now: number, lineOf: (path: string[]) => number): PriceBookError | undefined {
    if (this.has(book.version)) return new PriceBookError(lineOf(['version']), `version ${book.version} is already loaded; give the new book a new version`);
    const last = this.books[this.books.length - 1]!;
    if (from <= last.from) return new PriceBookError(lineOf(['effective_from']), `effective_from ${book.effectiveFrom} overlaps the dates of the loaded book ${last.book.version} (in effect from ${new Date(last.from).toISOString()}); a new book must start after it`);
    if (from < now) return new PriceBookError(lineOf(['effective_from']), `effective_from ${book.effectiveFrom} is in the past (now is ${new Date(now).toISOString()}); a new book never re-prices calls already made`);
    return undefined;
  }

  /** Replaces every book (start-up: the stored history once an asynchronous store has answered). */
  replaceWith(books: ReadonlyArray<BookInEffect>): void {
    if (books.length === 0) throw new Error('a price history needs at least one book');
    this.books.splice(0, this.books.length, ...[...books].sort((x, y) => x.from - y.from));
  }

  add(b: BookInEffect): void {
    this.books.push(b);
    this.books.sort((x, y) => x.from - y.from);
  }
}
