import React, { memo, useMemo } from 'react';
import { Box, Text } from 'ink';
import type { HudModel } from '../../hud/model.js';
import { WIDE_MIN_COLUMNS, computeLayout, type PanelBox } from '../layout.js';
import { HELP_LINES, alertsLine, headerLine, kpiLines, panelLines, panelTitle, type PanelId } from '../panels.js';
import { Lines } from './lines.js';
import { Panel } from './panel.js';

export interface HudFrameProps {
  /** The model as seen under `filter` (see filterModel); null before the first answer. */
  readonly model: HudModel | null;
  readonly filter: string | null;
  readonly focus: PanelId;
  readonly showHelp: boolean;
  readonly columns: number;
  readonly rows: number;
  /** ANSI colours (false: plain text, no escape codes) */
  readonly color: boolean;
}

function PanelFor({ box, model, focus, bordered, color }: { readonly box: PanelBox; readonly model: HudModel; readonly focus: PanelId; readonly bordered: boolean; readonly color: boolean }): React.JSX.Element {
  const lines = useMemo(() => panelLines(box.id, model, box.width, box.height), [box.id, box.width, box.height, model]);
  const title = useMemo(() => panelTitle(box.id, model), [box.id, model]);
  return <Panel title={title} focused={focus === box.id} bordered={bordered} width={box.width} height={box.height} lines={lines} color={color} />;
}

/** One whole HUD frame. Draws only: all data arrives in props. */
export const HudFrame = memo(function HudFrame({ model, filter, focus, showHelp, columns, rows, color }: HudFrameProps): React.JSX.Element {
  // One column spare: a line filling the last column leaves terminals in a pending-wrap state that
  // throws off cursor arithmetic on redraw.
  const width = Math.max(40, columns - 1);
  const head = useMemo(() => {
    if (!model) return [];
    const alerts = alertsLine(model, width);
    return [headerLine(model, filter, width), ...(alerts ? [alerts] : []), ...kpiLines(model, width)];
  }, [model, filter, width]);
  const layout = useMemo(() => computeLayout(width, rows, head.length, focus, columns >= WIDE_MIN_COLUMNS), [width, rows, head.length, focus, columns]);
  const footer = `tab/←→ panels · p tenant (${filter ?? 'all'}) · ? help · q quit`;

  if (!model) {
    return (
      <Box flexDirection="column" width={width}>
        <Text bold>sagewai-obs hud</Text>
        <Text dimColor>querying metrics, live state and audit events…</Text>
      </Box>
    );
  }
  const body = showHelp ? (
    <Box flexDirection="column" borderStyle="double" borderColor="cyan" paddingX={1} width={Math.min(width, 90)}>
      <Text bold>Keys</Text>
      {HELP_LINES.map((l, i) => (
        <Text key={i} wrap="truncate">
          {l || ' '}
        </Text>
      ))}
    </Box>
  ) : layout.mode === 'wide' ? (
    <Box flexDirection="row">
      <Box flexDirection="column">
        {layout.left.map((b) => (
          <PanelFor key={b.id} box={b} model={model} focus={focus} bordered color={color} />
        ))}
      </Box>
      <Box flexDirection="column">
        {layout.right.map((b) => (
          <PanelFor key={b.id} box={b} model={model} focus={focus} bordered color={color} />
        ))}
      </Box>
    </Box>
  ) : (
    <Box flexDirection="column">
      {layout.left.map((b) => (
        <PanelFor key={b.id} box={b} model={model} focus={focus} bordered={false} color={color} />
      ))}
    </Box>
  );
  return (
    <Box flexDirection="column" width={width}>
      <Lines lines={head} width={width} color={color} />
      {body}
      <Text dimColor wrap="truncate">
        {footer}
      </Text>
    </Box>
  );
});
