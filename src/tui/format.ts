/** Number and time formatting for the HUD: short, fixed-ish width, never inventing a value. */
import type { KpiUnit, SourceStatus, Trend } from '../hud/model.js';

export const DASH = '—';

/** Dollars; `precise` shows sub-dollar amounts to 1/100 of a cent (spend so far), rates keep cents. */
export function formatUsd(v: number | null, precise = false): string {
  if (v === null) return DASH;
  const a = Math.abs(v);
  if (a === 0) return '$0.00';
  if (a < 0.01 || (precise && a < 1)) return `$${v.toFixed(4)}`;
  if (a < 1000) return `$${v.toFixed(2)}`;
  if (a < 1e6) return `$${(v / 1000).toFixed(1)}k`;
  return `$${(v / 1e6).toFixed(2)}M`;
}

export function formatRate(v: number | null, suffix = '/s'): string {
  if (v === null) return DASH;
  const a = Math.abs(v);
  if (a === 0) return `0${suffix}`;
  if (a < 10) return `${v.toFixed(2)}${suffix}`;
  if (a < 1000) return `${v.toFixed(1)}${suffix}`;
  return `${(v / 1000).toFixed(1)}k${suffix}`;
}

export function formatSeconds(v: number | null): string {
  if (v === null) return DASH;
  if (v < 1) return `${Math.round(v * 1000)}ms`;
  return `${v.toFixed(2)}s`;
}

export function formatRatio(v: number | null): string {
  if (v === null) return DASH;
  const pct = v * 100;
  return `${pct < 10 && pct !== 0 ? pct.toFixed(1) : pct.toFixed(0)}%`;
}

export function formatCount(v: number | null): string {
  return v === null ? DASH : String(Math.round(v));
}

export function formatKpi(unit: KpiUnit, v: number | null): string {
  switch (unit) {
    case 'req/s':
      return formatRate(v);
    case 'seconds':
      return formatSeconds(v);
    case 'ratio':
      return formatRatio(v);
    case 'usd':
      return formatUsd(v, true);
    case 'usd/h':
      return v === null ? DASH : `${formatUsd(v)}/h`;
    case 'count':
      return formatCount(v);
  }
}

/** Elapsed time as 4s, 2m05s, 1h02m. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** HH:MM:SS in UTC (the spend day is a UTC day too). */
export function clock(iso: string | null): string {
  if (!iso) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return DASH;
  return d.toISOString().slice(11, 19);
}

export function trendArrow(t: Trend): string {
  return t === 'up' ? '↑' : t === 'down' ? '↓' : t === 'flat' ? '→' : '';
}

const BLOCKS = '▁▂▃▄▅▆▇█';

/** Unicode-block sparkline of the last `width` points, scaled from 0 to the max shown. */
export function sparkline(series: readonly number[], width: number): string {
  if (width <= 0 || series.length === 0) return '';
  const pts = series.slice(-width);
  let max = 0;
  for (const p of pts) if (p > max) max = p;
  let out = '';
  for (const p of pts) out += max <= 0 ? BLOCKS[0] : BLOCKS[Math.min(7, Math.max(0, Math.round((p / max) * 7)))];
  return out;
}

export function downText(s: SourceStatus): string {
  if (s.state === 'ok') return '';
  return `down: ${s.reason} (last good ${s.lastGoodAt ? clock(s.lastGoodAt) : 'never'})`;
}

export function fit(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  return width === 1 ? '…' : `${text.slice(0, width - 1)}…`;
}

export function pad(text: string, width: number, right = false): string {
  const t = fit(text, width);
  return right ? t.padStart(width) : t.padEnd(width);
}
