/**
 * Progress of long work (STYLE 11), on stderr. Library code reports steps through the `Steps`
 * interface and knows nothing about terminals; the command picks the renderer:
 *   - a terminal: one live line per running step with a spinner and a ticking elapsed time,
 *     replaced by "✓ step  12.3 s" when it ends;
 *   - not a terminal (CI logs, a pipe): one line per finished step with its duration, no escapes;
 *   - --json: nothing.
 */
import type { ChalkInstance } from 'chalk';
import { colorErr } from './color.js';

export interface StepEnd {
  ok?: boolean;
  /** Replaces the label in the final line, e.g. "victoria-metrics: built from source". */
  detail?: string;
}

export interface Steps {
  /** A step starts; call the returned function when it ends. */
  begin(label: string): (end?: StepEnd) => number;
  /** A detail worth a line of its own (a URL being fetched, a fallback taken). */
  note(line: string): void;
}

/** Seconds with one decimal under a minute, then "2m 05s". */
export function formatElapsed(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

/** Steps as plain lines through a callback: what library code falls back to without a renderer. */
export function lineSteps(say: (line: string) => void, now: () => number = Date.now): Steps {
  return {
    begin(label) {
      const t0 = now();
      return (end = {}) => {
        const ms = now() - t0;
        say(`${end.ok === false ? 'failed' : 'done'}: ${end.detail ?? label} (${formatElapsed(ms)})`);
        return ms;
      };
    },
    note: say,
  };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface StepRenderer extends Steps {
  /** Clears the live line and stops the timer; safe to call twice. */
  stop(): void;
}

export interface RendererOptions {
  stream?: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };
  /** Live line with a ticking elapsed time; default: the stream is a terminal. */
  live?: boolean;
  color?: ChalkInstance;
  now?: () => number;
  tickMs?: number;
}

/** For --json: no output at all. */
export const silentSteps: StepRenderer = {
  begin: () => {
    const t0 = Date.now();
    return () => Date.now() - t0;
  },
  note: () => undefined,
  stop: () => undefined,
};

/** The renderer for a command: live in a terminal, a line per finished step otherwise. */
export function createStepRenderer(opts: RendererOptions = {}): StepRenderer {
  const stream = opts.stream ?? process.stderr;
  const live = opts.live ?? stream.isTTY === true;
  const c = opts.color ?? colorErr();
  const now = opts.now ?? Date.now;
  const running = new Map<number, { label: string; t0: number }>();
  let nextId = 0;
  let frame = 0;
  let shown = false;
  let timer: NodeJS.Timeout | undefined;

  const clear = (): void => {
    if (shown) stream.write('\r\u001b[2K');
    shown = false;
  };
  const draw = (): void => {
    if (!live || running.size === 0) return;
    const t = now();
    const parts = [...running.values()].map((s) => `${s.label} ${c.dim(formatElapsed(t - s.t0))}`);
    let text = `${c.cyan(FRAMES[frame++ % FRAMES.length] ?? '-')} ${parts.join(c.dim(' · '))}`;
    const width = Math.max(20, (stream.columns || 100) - 1);
    // Keep to one row so the next redraw replaces it (cut by visible length, escapes aside).
    // eslint-disable-next-line no-control-regex
    const visible = text.replace(/\u001b\[[0-9;]*m/g, '');
    if (visible.length > width) text = `${visible.slice(0, width - 1)}…`;
    clear();
    stream.write(text);
    shown = true;
  };
  const ensureTimer = (): void => {
    if (!live || timer) return;
    timer = setInterval(draw, opts.tickMs ?? 100);
    timer.unref();
  };
  const stopTimerIfIdle = (): void => {
    if (running.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  return {
    begin(label) {
      const id = nextId++;
      const t0 = now();
      running.set(id, { label, t0 });
      ensureTimer();
      draw();
      let ended = false;
      return (end = {}) => {
        const ms = now() - t0;
        if (ended) return ms;
        ended = true;
        running.delete(id);
        clear();
        const ok = end.ok !== false;
        const mark = ok ? c.green('✓') : c.red('✗');
        stream.write(`${live ? `${mark} ` : ok ? '' : 'failed: '}${end.detail ?? label} ${live ? c.dim(formatElapsed(ms)) : `(${formatElapsed(ms)})`}\n`);
        stopTimerIfIdle();
        draw();
        return ms;
      };
    },
    note(line) {
      clear();
      stream.write(`${live ? c.dim(line) : line}\n`);
      draw();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      running.clear();
      clear();
    },
  };
}
