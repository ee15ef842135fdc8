/**
 * JSON.parse that also remembers the line each value starts on, so a validator can name the line
 * of a file at fault (a price book's bad price, a duplicate model). Paths are JSON paths as arrays
 * (`['entries', 3, 'input']`); `lineOf` falls back to the nearest parent that has a line.
 */
export class JsonSyntaxError extends Error {
  constructor(readonly line: number, readonly column: number, message: string) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'JsonSyntaxError';
  }
}

export interface JsonWithLines {
  value: unknown;
  lineOf(path: ReadonlyArray<string | number>): number;
}

export function parseJsonWithLines(text: string): JsonWithLines {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const fail = (message: string): never => {
    throw new JsonSyntaxError(line, i - lineStart + 1, message);
  };
  const ws = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === '\n') {
        line++;
        i++;
        lineStart = i;
      } else if (c === ' ' || c === '\t' || c === '\r') i++;
      else break;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      if (text[i] === '\n') fail('line break inside a string');
      i++;
    }
    if (i >= text.length) fail('unterminated string');
    i++;
    try {
      return JSON.parse(text.slice(start, i)) as string;
    } catch {
      return fail('bad escape in a string');
    }
  };
  const value = (path: Array<string | number>): unknown => {
    ws();
    lines.set(JSON.stringify(path), line);
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a "key"');
        const key = str();
        ws();
        if (text[i] !== ':') fail(`expected ":" after "${key}"`);
        i++;
        obj[key] = value([...path, key]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value([...path, arr.length]));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) return fail('expected a value');
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const v = value([]);
  ws();
  if (i < text.length) fail('unexpected text after the end of the document');
  return {
    value: v,
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const l = lines.get(JSON.stringify(path.slice(0, n)));
        if (l !== undefined) return l;
      }
      return 1;
    },
  };
}
