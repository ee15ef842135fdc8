/**
 * The one place the CLI decides whether to colour its output, and the chalk instances it colours
 * with. Precedence, strongest first:
 *   1. `--no-color` on the command line (any command, also `--help`);
 *   2. `FORCE_COLOR` (0/false: never; 1/true/empty: basic; 2: 256; 3: truecolor), as Node does;
 *   3. `NO_COLOR` set to anything but the empty string (https://no-color.org);
 *   4. otherwise colour only when the stream is a terminal that is not `TERM=dumb`.
 * The HUD keeps its own SGR writer in src/tui/ansi.ts (measured faster in bench/hud-frame.js)
 * but asks `colorEnabled()` whether to use it.
 */
import { Chalk, type ChalkInstance } from 'chalk';

export type ColorLevel = 0 | 1 | 2 | 3;

interface Decide {
  stream?: Pick<NodeJS.WriteStream, 'isTTY'> & { getColorDepth?: () => number };
  env?: NodeJS.ProcessEnv;
  argv?: readonly string[];
}

let flagOverride: boolean | undefined;

/** Set by the base command once flags are parsed (`--color` / `--no-color`); undefined resets. */
export function setColorFlag(value: boolean | undefined): void {
  flagOverride = value;
}

function noColorInArgv(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const i = argv.indexOf('--no-color');
  return i !== -1 && (end === -1 || i < end);
}

function forced(value: string): ColorLevel | undefined {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'true' || v === '1') return 1;
  if (v === '0' || v === 'false') return 0;
  if (v === '2') return 2;
  if (v === '3') return 3;
  return undefined;
}

/** The colour level for one output stream (stdout by default). */
export function colorLevel(opts: Decide = {}): ColorLevel {
  const stream = opts.stream ?? process.stdout;
  const env = opts.env ?? process.env;
  const argv = opts.argv ?? process.argv.slice(2);
  if (flagOverride === false || noColorInArgv(argv)) return 0;
  if (env.FORCE_COLOR !== undefined) {
    const level = forced(env.FORCE_COLOR);
    if (level !== undefined) return level;
  }
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  const depth = stream.getColorDepth?.() ?? 4;
  return depth >= 24 ? 3 : depth >= 8 ? 2 : 1;
}

export function colorEnabled(opts: Decide = {}): boolean {
  return colorLevel(opts) > 0;
}

/** A chalk for stdout (results). */
export function color(): ChalkInstance {
  return new Chalk({ level: colorLevel({ stream: process.stdout }) });
}

/** A chalk for stderr (progress, warnings, errors). */
export function colorErr(): ChalkInstance {
  return new Chalk({ level: colorLevel({ stream: process.stderr }) });
}

/** The words the CLI colours the same way everywhere. */
export function statusWord(c: ChalkInstance, ok: boolean | 'warn', text: string): string {
  if (ok === 'warn') return c.yellow(text);
  return ok ? c.green(text) : c.red.bold(text);
}
