import { HOURLY_EVALUATED, RECORDING_RULES } from '../queries/alerts.js';
import { getEntry } from '../queries/index.js';

/**
 * What vmalert's hourly cost rules record for given raw counter series, computed directly: for
 * stores filled by an import (the cost benches), where running `vmalert -replay` over every series
 * is too slow. test/cost-recorded.integration.test.ts checks it against what the real vmalert
 * writes for the same series.
 *
 * For hour H a rule stores, per group of its labels, the sum over the group's series of
 * increase_pure over (H − 1h, H]: the series' last sample ≤ H minus its last sample ≤ H − 1h (0
 * when there is none), a drop between two samples counted as a restart from 0. A group with no
 * sample in the hour gets no sample (vmalert writes what the query returned).
 */

export interface ImportSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

const HOUR_MS = 3_600_000;

interface RuleShape {
  record: string;
  counter: string;
  labels: readonly string[];
  catalog: string;
}

const SHAPES: readonly RuleShape[] = RECORDING_RULES.flatMap((r) => {
  const counter = /increase_pure\((\w+)\[/.exec(r.expr)?.[1];
  return r.from === null || counter === undefined ? [] : [{ record: r.record, counter, labels: getEntry(r.from).groupBy, catalog: r.from }];
});

/** Per hour in `hours` (ms, ascending), the increase_pure of one series over (H − 1h, H]; NaN when no sample lies in it. */
export function hourlyIncreases(s: ImportSeries, hours: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let prev = 0;
  // Skip to the first sample after the first window's start, remembering the one before it.
  const start = (hours[0] ?? 0) - HOUR_MS;
  while (i < s.timestamps.length && s.timestamps[i]! <= start) prev = s.values[i++]!;
  for (const h of hours) {
    let inc = 0;
    let seen = false;
    while (i < s.timestamps.length && s.timestamps[i]! <= h) {
      const v = s.values[i++]!;
      inc += v >= prev ? v - prev : v;
      prev = v;
      seen = true;
    }
    out.push(seen ? inc : Number.NaN);
  }
  return out;
}

/**
 * The recorded series (every hourly rule plus the evaluation marker) for `series` at the whole
 * hours `hours`, as /api/v1/import lines' objects. Groups are summed within `series`: pass all the
 * series of a group together (every rule keeps the project, so one project's series at a time is enough).
 */
export function recordedSeries(series: readonly ImportSeries[], hours: readonly number[], opts: { marker?: boolean } = {}): ImportSeries[] {
  const groups = new Map<string, { metric: Record<string, string>; values: number[] }>();
  for (const s of series) {
    const inc = hourlyIncreases(s, hours);
    for (const r of SHAPES) {
      if (s.metric.__name__ !== r.counter) continue;
      const metric: Record<string, string> = { __name__: r.record };
      for (const l of r.labels) if (s.metric[l] !== undefined && s.metric[l] !== '') metric[l] = s.metric[l]!;
      metric.sagewai_catalog = r.catalog;
      const key = JSON.stringify(metric);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { metric, values: hours.map(() => Number.NaN) }));
      inc.forEach((v, j) => {
        if (!Number.isNaN(v)) g.values[j] = Number.isNaN(g.values[j]!) ? v : g.values[j]! + v;
      });
    }
  }
  const out: ImportSeries[] = [];
  for (const g of groups.values()) {
    const keep = g.values.map((v, j) => [v, hours[j]!] as const).filter(([v]) => !Number.isNaN(v));
    if (keep.length) out.push({ metric: g.metric, values: keep.map(([v]) => v), timestamps: keep.map(([, t]) => t) });
  }
  if (opts.marker) out.push({ metric: { __name__: HOURLY_EVALUATED }, values: hours.map(() => 1), timestamps: [...hours] });
  return out;
}
