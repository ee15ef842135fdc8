/**
 * The one way into the HUD's Ink UI (STYLE 2). Commands call `renderHud`; benches and docs
 * call `renderFrameToString`.
 */
import React from 'react';
import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { render, renderToString } from 'ink';
import { collectModel } from '../hud/collect.js';
import type { HudModel } from '../hud/model.js';
import type { HudSources } from '../hud/sources.js';
import { HudFrame } from './components/hud-frame.js';
import { HudApp } from './hud-app.js';
import { colorEnabled } from '../ui/color.js';
import type { PanelId } from './panels.js';

export type { PanelId } from './panels.js';

export interface FrameOptions {
  columns?: number;
  rows?: number;
  /** Tenant filter the frame is labelled with (default: the model's own). */
  filter?: string | null;
  focus?: PanelId;
  showHelp?: boolean;
  /** Keep ANSI colours (default false: plain text). */
  color?: boolean;
}

/** One frame of the HUD as text, exactly as the interactive HUD would draw it. */
export function renderFrameToString(model: HudModel, opts: FrameOptions = {}): string {
  return frameText(renderToString(frameElement(model, opts), { columns: opts.columns ?? 120 }), opts);
}

/** The frame `renderFrameToString` and `createLiveFrameRenderer` both draw. */
function frameElement(model: HudModel, opts: FrameOptions): React.JSX.Element {
  return <HudFrame model={model} filter={opts.filter === undefined ? model.project : opts.filter} focus={opts.focus ?? 'agents'} showHelp={opts.showHelp ?? false} columns={opts.columns ?? 120} rows={opts.rows ?? 40} color={opts.color ?? false} />;
}

const frameText = (out: string, opts: FrameOptions): string => (opts.color ? out : stripVTControlCharacters(out));

export interface HudOptions {
  sources: HudSources;
  project: string | null;
  refreshMs: number;
  once: boolean;
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

const ENTER_ALT_SCREEN = '\u001b[?1049h\u001b[H';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';

/**
 * Runs the HUD. `--json` returns the model for the command to print; `--once`, or stdout/stdin
 * not being a terminal, prints one plain frame; otherwise the interactive HUD runs on the
 * alternate screen until the user quits, and the terminal is restored whatever happens.
 */
export async function renderHud(opts: HudOptions): Promise<{ model: HudModel | null }> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  try {
    if (opts.json) return { model: await collectModel(opts.sources, { project: opts.project, previous: null }) };
    const interactive = !opts.once && stdout.isTTY === true && stdin.isTTY === true;
    if (!interactive) {
      const model = await collectModel(opts.sources, { project: opts.project, previous: null });
      const color = colorEnabled({ stream: stdout });
      // Not a terminal: no size to follow, so COLUMNS/LINES if set, else a 120×40 frame.
      const columns = stdout.columns || Number(process.env.COLUMNS) || 120;
      const rows = stdout.rows || Number(process.env.LINES) || 40;
      const text = renderFrameToString(model, { columns, rows, color });
      stdout.write(`${text}\n`);
      return { model };
    }
    stdout.write(ENTER_ALT_SCREEN);
    try {
      const app = render(<HudApp sources={opts.sources} project={opts.project} refreshMs={opts.refreshMs} color={colorEnabled({ stream: stdout })} />, {
        stdout,
        stdin,
        exitOnCtrlC: false,
        patchConsole: true,
        // Ink 6.8's incremental mode garbled this frame in tmux (lines repeated after redraws);
        // the default redraw is wrapped in synchronized-output escapes, so it does not flicker.
        incrementalRendering: false,
        maxFps: 15,
      });
      await app.waitUntilExit();
    } finally {
      stdout.write(LEAVE_ALT_SCREEN);
    }
    return { model: null };
  } finally {
    await opts.sources.close?.();
  }
}

/** A frame renderer that keeps one Ink instance, as the interactive HUD does between refreshes. */
export interface LiveFrameRenderer {
  /** Draws the model and returns the frame Ink wrote (plain text unless color). */
  draw(model: HudModel): string;
  unmount(): void;
}

/**
 * The interactive HUD's redraw path without a terminal: one Ink instance kept across frames (its
 * React tree and layout nodes are reused; only what changed re-renders), writing every frame in
 * full to an in-memory stream. Benches use it to time a live frame; `renderFrameToString` builds
 * a fresh tree each call, as `--once` does.
 */
export function createLiveFrameRenderer(opts: FrameOptions = {}): LiveFrameRenderer {
  const columns = opts.columns ?? 120;
  const rows = opts.rows ?? 40;
  let last = '';
  const sink = Object.assign(new Writable({ write: (chunk: Buffer | string, _enc, done) => ((last = chunk.toString()), done()) }), { columns, rows, isTTY: false });
  let app: ReturnType<typeof render> | undefined;
  return {
    draw(model) {
      if (app) app.rerender(frameElement(model, opts));
      else app = render(frameElement(model, opts), { stdout: sink as unknown as NodeJS.WriteStream, debug: true, patchConsole: false, exitOnCtrlC: false });
      return frameText(last, opts);
    },
    unmount() {
      app?.unmount();
      app = undefined;
    },
  };
}
