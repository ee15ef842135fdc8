/** One refresh: ask every source at once, tolerate each one failing, assemble the model. */
import { describeCause } from '../errors.js';
import { assembleModel, type SourceResult } from './assemble.js';
import { startOfUtcDay, type HudModel } from './model.js';
import type { HudQuery, HudSources } from './sources.js';

export interface CollectOptions {
  project: string | null;
  previous: HudModel | null;
  now?: Date;
  eventLimit?: number;
  /** Give up on a source after this long and report it down (default 5 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

async function settle<T>(work: (signal: AbortSignal) => Promise<T>, timeoutMs: number, outer?: AbortSignal): Promise<SourceResult<T>> {
  const ctl = new AbortController();
  const onAbort = (): void => ctl.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort();
      reject(new Error(`no answer within ${Math.round(timeoutMs / 100) / 10} s`));
    }, timeoutMs);
  });
  try {
    return { ok: true, value: await Promise.race([work(ctl.signal), timeout]) };
  } catch (err) {
    return { ok: false, reason: shortReason(err) };
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
  }
}

/** A one-line reason that fits a panel: "connect ECONNREFUSED 127.0.0.1:8428" rather than a stack. */
export function shortReason(err: unknown): string {
  const text = describeCause(err).replace(/\s+/g, ' ').trim();
  const refused = /ECONNREFUSED\s*([\d.:[\]a-f]+)?/i.exec(text);
  if (refused) return `connection refused${refused[1] ? ` ${refused[1].replace(/:+$/, '')}` : ''}`;
  return text.length > 120 ? `${text.slice(0, 117)}…` : text || 'unknown error';
}

export async function collectModel(sources: HudSources, opts: CollectOptions): Promise<HudModel> {
  const now = opts.now ?? new Date();
  const spendWindow = { from: startOfUtcDay(now), to: now };
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const base: Omit<HudQuery, 'signal'> = { project: opts.project, now, spendWindow };
  const eventLimit = opts.eventLimit ?? 50;
  const alertsSource = sources.alerts?.bind(sources);
  const [metrics, live, logs, alerts] = await Promise.all([
    settle((signal) => sources.metrics({ ...base, signal }), timeoutMs, opts.signal),
    settle((signal) => sources.live({ ...base, signal }), timeoutMs, opts.signal),
    settle((signal) => sources.events({ ...base, signal, limit: eventLimit }), timeoutMs, opts.signal),
    alertsSource ? settle((signal) => alertsSource({ ...base, signal }), timeoutMs, opts.signal) : Promise.resolve(undefined),
  ]);
  return assembleModel({ now, project: opts.project, spendWindow, metrics, live, logs, previous: opts.previous, eventLimit, ...(alerts ? { alerts } : {}) });
}
