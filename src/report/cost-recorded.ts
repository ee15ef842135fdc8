import type { VictoriaMetricsClient, InstantSample } from '../clients/victoria-metrics.js';
import { HOURLY_EVALUATED, RECORDING_RULES, type RecordingRule } from '../queries/alerts.js';
import { getEntry, renderExpr, type CatalogEntry } from '../queries/index.js';

/**
 * The long-range fast path of `cost`: whole clock hours come from the hourly recording rules
 * (src/queries/alerts.ts), the partial hours at both ends from the raw counters, so the total is
 * the same exact increase as the catalog query over the whole window, with ~1/1800 of the samples
 * at the stack's 2 s scrape interval.
 *
 * vmalert truncates each evaluation's time to the group interval, so the sample it records at
 * hour H is the catalog expression over (H − 1h, H]. Increases over adjacent windows add up to the
 * increase over their union, which is what makes the split exact. The whole hours are used only
 * when the group's evaluation marker has exactly one sample per hour in them: a gap (vmalert was
 * down) or a duplicate (it restarted within an hour) sends the report to the raw counters.
 */

const HOUR_MS = 3_600_000;
/** Below this the raw query is cheap anyway, and the recorded hours would not pay for the extra round trips. */
const MIN_WHOLE_HOURS = 3;

export interface RecordedSpan {
  /** Whole hours read from the recording rules: (from, to]. */
  from: Date;
  to: Date;
  /** The recorded series read. */
  rules: string[];
}

/** The recording rule that stores `entry`'s counter per hour, if its labels can be regrouped into the entry's. */
export function ruleFor(entry: CatalogEntry): RecordingRule | undefined {
  // Only the plain shape `sum by (…) (increase_pure(counter{project}[range]))`: an entry with other
  // label filters or a compound expression (unpriced tokens, the backend's own job) cannot be
  // rebuilt from an hourly total that dropped those labels, so it stays on the raw counters.
  const counter = /^sum by \([\w, ]+\) \(increase_pure\((\w+)\{sagewai_project_id=~"\$project"\}\[\$__range\]\)\)$/.exec(entry.expr)?.[1];
  if (counter === undefined) return undefined;
  return RECORDING_RULES.find((r) => {
    if (r.from === null || !r.expr.includes(`increase_pure(${counter}[`)) return false;
    const kept = getEntry(r.from).groupBy;
    return entry.groupBy.every((l) => kept.includes(l));
  });
}

/** The recorded hours' part of `entry`: the hourly totals summed over (to − range, to]. */
export function recordedExpr(entry: CatalogEntry, rule: RecordingRule, project: string | undefined, range: string): string {
  const shape: CatalogEntry = { ...entry, expr: `sum by (${entry.groupBy.join(', ')}) (sum_over_time(${rule.record}{sagewai_project_id=~"$project"}[$__range]))` };
  return renderExpr(shape, { project, range });
}

const seconds = (ms: number): string => `${Math.max(1, Math.round(ms / 1000))}s`;

/**
 * Which whole hours of (from, to] the recording rules cover. The newest hour may not be recorded
 * yet (vmalert writes hour H at its first evaluation after H), so the span may end an hour early.
 * Null when fewer than MIN_WHOLE_HOURS are covered exactly once.
 */
export async function coveredHours(vm: VictoriaMetricsClient, window: { from: Date; to: Date }): Promise<{ from: Date; to: Date } | null> {
  const h1 = Math.ceil(window.from.getTime() / HOUR_MS) * HOUR_MS;
  const h2 = Math.floor(window.to.getTime() / HOUR_MS) * HOUR_MS;
  const candidates = [h2, h2 - HOUR_MS].filter((end) => (end - h1) / HOUR_MS >= MIN_WHOLE_HOURS);
  const counts = await Promise.all(
    candidates.map(async (end) => {
      const s = await vm.query(`count_over_time(${HOURLY_EVALUATED}[${seconds(end - h1)}])`, { time: new Date(end) });
      return s.reduce((n, x) => n + x.value, 0);
    }),
  );
  for (const [i, end] of candidates.entries()) {
    if (counts[i] === (end - h1) / HOUR_MS) return { from: new Date(h1), to: new Date(end) };
  }
  return null;
}

/**
 * `entry` over the window as recorded hours plus raw edges, or null when the rules cannot serve it
 * (an entry grouped by a label the rules drop, such as the agent). The caller sums the samples by
 * its own labels, exactly as it does the single raw query's.
 */
export async function queryViaRecorded(
  vm: VictoriaMetricsClient,
  entry: CatalogEntry,
  span: { from: Date; to: Date },
  window: { from: Date; to: Date },
  project: string | undefined,
): Promise<InstantSample[] | null> {
  const rule = ruleFor(entry);
  if (!rule) return null;
  const parts: Array<Promise<InstantSample[]>> = [vm.query(recordedExpr(entry, rule, project, seconds(span.to.getTime() - span.from.getTime())), { time: span.to })];
  // Raw edges: (from, first whole hour] and (last recorded hour, to]. Windows are whole
  // milliseconds apart here, and MetricsQL takes millisecond durations, so nothing is cut or doubled.
  const head = span.from.getTime() - window.from.getTime();
  const tail = window.to.getTime() - span.to.getTime();
  if (head > 0) parts.push(vm.query(renderExpr(entry, { project, range: `${head}ms` }), { time: span.from }));
  if (tail > 0) parts.push(vm.query(renderExpr(entry, { project, range: `${tail}ms` }), { time: window.to }));
  return (await Promise.all(parts)).flat();
}

export function recordedRules(entries: readonly CatalogEntry[]): string[] {
  return [...new Set(entries.map((e) => ruleFor(e)?.record).filter((r): r is string => r !== undefined)), HOURLY_EVALUATED];
}
