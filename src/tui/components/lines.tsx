import React, { memo, useCallback, useMemo } from 'react';
import { Transform } from 'ink';
import { lineToString } from '../ansi.js';
import type { Line } from '../panels.js';

export interface LinesProps {
  readonly lines: readonly Line[];
  /** Width of the block (lines are already fitted to it). */
  readonly width: number;
  /** When set, the block is exactly this many rows tall. */
  readonly height?: number;
  readonly color: boolean;
}

/**
 * A block of pre-laid-out lines drawn as one Ink node. Ink measures a text node by its content
 * and keeps every content it ever measured in a module-level cache that is never cleared; a HUD
 * whose numbers change every refresh would grow it by tens of MB an hour. So Ink is given a
 * blank block of the same size to measure (one cache entry per size), and the real lines are
 * put in at output time through <Transform>, which is applied line by line.
 */
export const Lines = memo(function Lines({ lines, width, height, color }: LinesProps): React.JSX.Element {
  const rows = useMemo(() => {
    const out = (height === undefined ? lines : lines.slice(0, height)).map((l) => lineToString(l, color));
    if (height !== undefined) while (out.length < height) out.push('');
    if (out.length === 0) out.push('');
    return out;
  }, [lines, height, color]);
  const blank = useMemo(() => Array.from({ length: rows.length }, () => ' '.repeat(Math.max(1, width))).join('\n'), [rows.length, width]);
  const fill = useCallback((_blankLine: string, index: number): string => rows[index] ?? '', [rows]);
  return <Transform transform={fill}>{blank}</Transform>;
});
