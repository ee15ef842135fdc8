import { useEffect, useRef, useState } from 'react';
import { collectModel } from '../../hud/collect.js';
import type { HudModel } from '../../hud/model.js';
import type { HudSources } from '../../hud/sources.js';

export interface UseHudModelOptions {
  project: string | null;
  refreshMs: number;
  /** A model already collected (e.g. by the caller), shown until the first refresh lands. */
  initial?: HudModel | null;
}

/**
 * Polls the sources: one refresh at a time (never overlapping), the next one `refreshMs` after
 * the previous finished, and at once when the tenant filter changes. Each model is assembled
 * against the previous one so trends and sparklines come from real consecutive samples.
 */
export function useHudModel(sources: HudSources, { project, refreshMs, initial = null }: UseHudModelOptions): HudModel | null {
  const [model, setModel] = useState<HudModel | null>(initial);
  const previous = useRef<HudModel | null>(initial);

  useEffect(() => {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const tick = async (): Promise<void> => {
      const next = await collectModel(sources, { project, previous: previous.current, signal: ctl.signal, timeoutMs: Math.max(2_000, refreshMs * 2) });
      if (ctl.signal.aborted) return;
      previous.current = next;
      setModel(next);
      timer = setTimeout(() => void tick(), refreshMs);
    };
    void tick();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [sources, project, refreshMs]);

  return model;
}
