import React, { useCallback, useMemo, useRef, useState } from 'react';
import { useApp } from 'ink';
import { filterModel, nextTenantFilter, type HudModel } from '../hud/model.js';
import type { HudSources } from '../hud/sources.js';
import { HudFrame } from './components/hud-frame.js';
import { useHudKeys } from './hooks/use-hud-keys.js';
import { useHudModel } from './hooks/use-hud-model.js';
import { useTerminalSize } from './hooks/use-terminal-size.js';
import { PANELS, type PanelId } from './panels.js';

export interface HudAppProps {
  readonly sources: HudSources;
  readonly project: string | null;
  readonly refreshMs: number;
  readonly initial?: HudModel | null;
  readonly color?: boolean;
}

/** The interactive HUD's root: owns focus, filter, help and the only exit(). */
export function HudApp({ sources, project, refreshMs, initial = null, color = true }: HudAppProps): React.JSX.Element {
  const { exit } = useApp();
  const [filter, setFilter] = useState<string | null>(project);
  const [focus, setFocus] = useState<PanelId>('agents');
  const [showHelp, setShowHelp] = useState(false);
  const model = useHudModel(sources, { project: filter, refreshMs, initial });
  // Key handlers can run before React re-subscribes them after a render; read the model through a ref.
  const latest = useRef(model);
  latest.current = model;
  const view = useMemo(() => (model ? filterModel(model, filter) : null), [model, filter]);
  const { columns, rows } = useTerminalSize();

  const move = useCallback((step: number) => setFocus((f) => PANELS[(PANELS.indexOf(f) + step + PANELS.length) % PANELS.length] ?? 'agents'), []);
  useHudKeys({
    next: () => move(1),
    previous: () => move(-1),
    pickTenant: () => setFilter((f) => nextTenantFilter(latest.current?.tenants ?? [], f)),
    toggleHelp: () => setShowHelp((h) => !h),
    closeHelp: () => setShowHelp(false),
    quit: () => exit(),
  });

  return <HudFrame model={view} filter={filter} focus={focus} showHelp={showHelp} columns={columns} rows={rows} color={color} />;
}
