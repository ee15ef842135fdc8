/**
 * Where each panel goes for a terminal size. Wide terminals get two bordered columns; narrow
 * ones (under 120 columns) stack the panels without borders and give the focused one more rows.
 * The whole frame stays one row shorter than the terminal so Ink never has to scroll.
 */
import { PANELS, type PanelId } from './panels.js';

export interface PanelBox {
  id: PanelId;
  width: number;
  /** content lines, excluding title and border */
  height: number;
}

export interface Layout {
  mode: 'wide' | 'narrow';
  columns: number;
  /** rows available for panels (below header and KPI bar, above the footer) */
  bodyRows: number;
  left: PanelBox[];
  right: PanelBox[];
}

export const WIDE_MIN_COLUMNS = 120;
export const MIN_COLUMNS = 40;

function split(total: number, weights: number[], min: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const out = weights.map((w) => Math.max(min, Math.floor((total * w) / sum)));
  let diff = total - out.reduce((a, b) => a + b, 0);
  for (let i = 0; diff > 0; i = (i + 1) % out.length, diff--) out[i] = (out[i] ?? 0) + 1;
  return out;
}

/** `columns` is the width to draw in; `wide` says whether the terminal is wide enough for two columns. */
export function computeLayout(columns: number, rows: number, headRows: number, focus: PanelId, wide = columns >= WIDE_MIN_COLUMNS): Layout {
  const cols = Math.max(MIN_COLUMNS, columns);
  // header/KPI lines above, one footer line, one spare row
  const bodyRows = Math.max(PANELS.length * 2, rows - headRows - 2);
  if (wide) {
    const leftW = Math.floor(cols * 0.6);
    const rightW = cols - leftW;
    // each bordered panel spends 3 rows on border and title
    const [agents, missions] = split(bodyRows - 6, [3, 2], 1);
    const [fleet, spend, events] = split(bodyRows - 9, [1, 1, 1.3], 1);
    return {
      mode: 'wide',
      columns: cols,
      bodyRows,
      left: [
        { id: 'agents', width: leftW - 4, height: agents ?? 1 },
        { id: 'missions', width: leftW - 4, height: missions ?? 1 },
      ],
      right: [
        { id: 'fleet', width: rightW - 4, height: fleet ?? 1 },
        { id: 'spend', width: rightW - 4, height: spend ?? 1 },
        { id: 'events', width: rightW - 4, height: events ?? 1 },
      ],
    };
  }
  // narrow: one title line per panel, the focused panel takes the spare rows
  const content = bodyRows - PANELS.length;
  const base = Math.max(1, Math.floor(content / (PANELS.length + 2)));
  const focusExtra = Math.max(0, content - base * PANELS.length);
  return {
    mode: 'narrow',
    columns: cols,
    bodyRows,
    left: PANELS.map((id) => ({ id, width: cols - 2, height: id === focus ? base + focusExtra : base })),
    right: [],
  };
}
