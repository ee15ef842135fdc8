import React, { memo } from 'react';
import { Box, Text } from 'ink';
import { Lines } from './lines.js';
import type { Line } from '../panels.js';

export interface PanelProps {
  readonly title: string;
  readonly focused: boolean;
  readonly bordered: boolean;
  /** content width and height, without border, padding and title */
  readonly width: number;
  readonly height: number;
  readonly lines: readonly Line[];
  readonly color: boolean;
}

export const Panel = memo(function Panel({ title, focused, bordered, width, height, lines, color }: PanelProps): React.JSX.Element {
  if (!bordered) {
    return (
      <Box flexDirection="column" width={width + 2}>
        <Text wrap="truncate" bold color={color && focused ? 'cyan' : undefined} inverse={focused}>
          {focused ? `▶ ${title}` : `  ${title}`}
        </Text>
        <Box paddingLeft={2}>
          <Lines lines={lines} width={width} height={height} color={color} />
        </Box>
      </Box>
    );
  }
  return (
    <Box flexDirection="column" borderStyle={focused ? 'bold' : 'round'} borderColor={color ? (focused ? 'cyan' : 'gray') : undefined} paddingX={1} width={width + 4} height={height + 3}>
      <Text wrap="truncate" bold color={color && focused ? 'cyan' : undefined}>
        {focused ? `▶ ${title}` : title}
      </Text>
      <Lines lines={lines} width={width} height={height} color={color} />
    </Box>
  );
});
