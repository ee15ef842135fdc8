import type { VictoriaMetricsClient, InstantSample } from '../clients/victoria-metrics.js';
import { HOURLY_EVALUATED, RECORDING_RULES, type RecordingRule } from '../queries/alerts.js';
import { getEntry, renderExpr, type CatalogEntry } from '../queries/index.js';

/**
 * The long-range fast path of `cost`: whole clock hours come from the hourly recording rules
 * (src/queries/alerts.ts), the partial hours at both ends from the raw counters, so the total is
 * the same exact increase as the catalog query over the whole window, with ~1/3600 of the samples
 * at the stack's 1 s scrape interval.
 *
 * vmalert truncates each evaluation's time to the group interval, so the sample it records at
 * hour H is the catalog expression over (H − 1h, H]. Increases over adjacent windows add up to the
 * increase over their union, which is what makes the split exact. The whole hours are used only
 * when the group's evaluation marker has exactly one sample per hour in them: a gap (vmalert was
 * down) or a duplicate (it restarted within an hour) sends the report to the raw counters.
 *
 * Every part of every entry — the marker counts, the recorded hours, the two raw edges — is one
 * MetricsQL expression evaluated at the window's end (each part shifted with `offset`), so the
 * report costs one round trip, and a second only when vmalert has not written the newest hour yet.
 */

const HOUR_MS = 3_600_000;
/** Below this the raw query is cheap anyway, and the recorded hours would not pay for the extra parts. */
const MIN_WHOLE_HOURS = 3;
/** The label that tells the parts of the one query apart (dropped before the caller sees a sample). */
const PART = 'sagewai_cost_part';

export interface RecordedSpan {
  /** Whole hours read from the recording rules: (from, to]. */
  from: Date;
  to: Date;
  /** The recorded series read. */
  rules: string[];
}

/** The labels a recording rule keeps (those of the catalog entry it renders over one hour). */
const keptLabels = (r: RecordingRule): readonly string[] => (r.from === null ? [] : getEntry(r.from).groupBy);

/**
 * The recording rule that stores `entry`'s counter per hour with the fewest labels that still hold
 * the entry's grouping (per project rather than per project and model when the report is by
 * project), if there is one.
 */
export function ruleFor(entry: CatalogEntry): RecordingRule | undefined {
  // Only the plain shape `sum by (…) (increase_pure(counter{project}[range]))`: an entry with other
  // label filters or a compound expression (unpriced tokens, the backend's own job) cannot be
  // rebuilt from an hourly total that dropped those labels, so it stays on the raw counters.
  const counter = /^sum by \([\w, ]+\) \(increase_pure\((\w+)\{sagewai_project_id=~"\$project"\}\[\$__range\]\)\)$/.exec(entry.expr)?.[1];
  if (counter === undefined) return undefined;
  const fits = RECORDING_RULES.filter((r) => r.from !== null && r.expr.includes(`increase_pure(${counter}[`) && entry.groupBy.every((l) => keptLabels(r).includes(l)));
  return fits.sort((a, b) => keptLabels(a).length - keptLabels(b).length)[0];
}

/** The recorded hours' part of `entry`: the hourly totals summed over (to − range, to]. */
export function recordedExpr(entry: CatalogEntry, rule: RecordingRule, project: string | undefined, range: string): string {
  const shape: CatalogEntry = { ...entry, expr: `sum by (${entry.groupBy.join(', ')}) (sum_over_time(${rule.record}{sagewai_project_id=~"$project"}[$__range]))` };
  return renderExpr(shape, { project, range });
}

/** `expr` (one `[range]` in it) over the `ms` milliseconds that end `back` ms before the evaluation time. */
function shifted(expr: string, ms: number, back: number): string {
  return back > 0 ? expr.replace(`[${ms}ms]`, `[${ms}ms] offset ${back}ms`) : expr;
}

/** The parts of the one query, before they are labelled and joined. */
interface Part {
  /** Index of the entry, or -1 for the evaluation marker. */
  entry: number;
  name: string;
  expr: string;
}

function parts(entries: readonly CatalogEntry[], window: { from: Date; to: Date }, h1: number, end: number, project: string | undefined): Part[] {
  const to = window.to.getTime();
  const head = h1 - window.from.getTime();
  const tail = to - end;
  const out: Part[] = [
    // Marker counts over all hours but the newest, and over the newest alone: a missing newest
    // hour (vmalert writes hour H at its first evaluation after H) is told apart from a gap.
    { entry: -1, name: 'older', expr: shifted(`count_over_time(${HOURLY_EVALUATED}[${end - HOUR_MS - h1}ms])`, end - HOUR_MS - h1, to - end + HOUR_MS) },
    { entry: -1, name: 'newest', expr: shifted(`count_over_time(${HOURLY_EVALUATED}[${HOUR_MS}ms])`, HOUR_MS, to - end) },
  ];
  entries.forEach((e, i) => {
    const rule = ruleFor(e)!;
    out.push({ entry: i, name: 'recorded', expr: shifted(recordedExpr(e, rule, project, `${end - h1}ms`), end - h1, tail) });
    // Raw edges: (from, first whole hour] and (last recorded hour, to]. Windows are whole
    // milliseconds apart here, and MetricsQL takes millisecond durations, so nothing is cut or doubled.
    if (head > 0) out.push({ entry: i, name: 'head', expr: shifted(renderExpr(e, { project, range: `${head}ms` }), head, to - h1) });
    if (tail > 0) out.push({ entry: i, name: 'tail', expr: renderExpr(e, { project, range: `${tail}ms` }) });
  });
  return out;
}

/**
 * `entries` over the window as recorded hours plus raw edges, one result list per entry (the caller
 * sums the samples by its own labels, exactly as it does the raw queries'), or null when the rules
 * cannot serve them: an entry without a rule, a window under MIN_WHOLE_HOURS whole hours, or an
 * hour vmalert did not evaluate exactly once. Then the caller reads the raw counters.
 */
export async function queryRecorded(
  vm: VictoriaMetricsClient,
  entries: readonly CatalogEntry[],
  window: { from: Date; to: Date },
  project: string | undefined,
): Promise<{ span: RecordedSpan; results: InstantSample[][] } | null> {
  if (!entries.every((e) => ruleFor(e) !== undefined)) return null;
  const h1 = Math.ceil(window.from.getTime() / HOUR_MS) * HOUR_MS;
  const h2 = Math.floor(window.to.getTime() / HOUR_MS) * HOUR_MS;
  for (const end of [h2, h2 - HOUR_MS]) {
    const hours = (end - h1) / HOUR_MS;
    if (hours < MIN_WHOLE_HOURS) return null;
    const list = parts(entries, window, h1, end, project);
    const expr = `union(${list.map((p, i) => `label_set(${p.expr}, "${PART}", "${i}")`).join(', ')})`;
    const samples = await vm.query(expr, { time: window.to });
    const results: InstantSample[][] = entries.map(() => []);
    const marks = { older: 0, newest: 0 };
    for (const s of samples) {
      const p = list[Number(s.metric[PART])];
      if (p === undefined) continue;
      const { [PART]: _, ...metric } = s.metric;
      if (p.entry < 0) marks[p.name as keyof typeof marks] += s.value;
      else results[p.entry]!.push({ ...s, metric });
    }
    if (marks.older === hours - 1 && marks.newest === 1) {
      return { span: { from: new Date(h1), to: new Date(end), rules: recordedRules(entries) }, results };
    }
    // Only a newest hour not written yet is worth one more try, an hour earlier; a gap or a
    // duplicate anywhere else is not going to go away.
    if (!(end === h2 && marks.older === hours - 1 && marks.newest === 0)) return null;
  }
  return null;
}

export function recordedRules(entries: readonly CatalogEntry[]): string[] {
  return [...new Set(entries.map((e) => ruleFor(e)?.record).filter((r): r is string => r !== undefined)), HOURLY_EVALUATED];
}
