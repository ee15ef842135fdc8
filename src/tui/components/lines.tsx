import React, { memo, useMemo } from 'react';
import { Text } from 'ink';
import { linesToString } from '../ansi.js';
import type { Line } from '../panels.js';

export interface LinesProps {
  readonly lines: readonly Line[];
  /** When set, the block is exactly this many rows tall. */
  readonly height?: number;
  readonly color: boolean;
}

/** A block of pre-laid-out lines drawn as one Text node (lines are already fitted to the width). */
export const Lines = memo(function Lines({ lines, height, color }: LinesProps): React.JSX.Element {
  const text = useMemo(() => linesToString(height === undefined ? lines : lines.slice(0, height), color, height), [lines, height, color]);
  return <Text wrap="truncate-end">{text}</Text>;
});
