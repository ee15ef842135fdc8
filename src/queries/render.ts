import { UserError } from '../errors.js';
import { catalog } from './catalog.js';
import type { CatalogEntry } from './types.js';

export interface RenderOptions {
  /** One project slug; unset means every project (`.*`). The value is matched literally. */
  project?: string | undefined;
  /** The `$__range` window, e.g. `3600s`. */
  range: string;
  /** The `$__rate_interval` window; default `1m` (many 1–2 s scrapes, tolerant of a missed one). */
  rateInterval?: string | undefined;
}

export const DEFAULT_RATE_INTERVAL = '1m';

const byId = new Map(catalog.map((e) => [e.id, e]));

export function getEntry(id: string): CatalogEntry {
  const e = byId.get(id);
  if (!e) throw new Error(`no catalog entry with id ${JSON.stringify(id)}`);
  return e;
}

/** Escape regex metacharacters so a project slug matches only itself. */
export function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Escape for the inside of a double-quoted MetricsQL / LogsQL string literal. */
function escapeStringLiteral(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

const DURATION = /^\d+(ms|s|m|h|d|w)$/;

/** The expression with its placeholders filled, ready to send to VictoriaMetrics or VictoriaLogs. */
export function renderExpr(entry: CatalogEntry, opts: RenderOptions): string {
  const rate = opts.rateInterval ?? DEFAULT_RATE_INTERVAL;
  for (const [name, v] of [['range', opts.range], ['rate interval', rate]] as const) {
    if (!DURATION.test(v)) throw new UserError(`invalid ${name} ${JSON.stringify(v)} for query ${entry.id}`, 'use a whole number with a unit, e.g. 3600s');
  }
  const project = opts.project === undefined || opts.project === '' ? '.*' : escapeStringLiteral(escapeRegex(opts.project));
  return entry.expr
    .replace(/\$__rate_interval\b/g, rate)
    .replace(/\$__range\b/g, opts.range)
    .replace(/\$project\b/g, () => project);
}
