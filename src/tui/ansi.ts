/**
 * Lines of segments → terminal strings. Building the SGR codes here and handing Ink one string
 * per panel keeps a frame to a few dozen Ink nodes however many rows it shows, which is what
 * keeps a 1,000-agent frame cheap. With `color` false no escape codes are produced at all.
 */
import type { Line } from './panels.js';

const FG: Record<string, number> = { black: 30, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, white: 37, gray: 90 };

export function lineToString(line: Line, color: boolean): string {
  let out = '';
  for (const s of line) {
    if (!color || (!s.color && !s.bold && !s.dim && !s.inverse)) {
      out += s.t;
      continue;
    }
    const codes: number[] = [];
    if (s.bold) codes.push(1);
    if (s.dim) codes.push(2);
    if (s.inverse) codes.push(7);
    const fg = s.color ? FG[s.color] : undefined;
    if (fg !== undefined) codes.push(fg);
    out += `\u001b[${codes.join(';')}m${s.t}\u001b[0m`;
  }
  return out;
}

export function linesToString(lines: readonly Line[], color: boolean, height?: number): string {
  const rows = lines.map((l) => lineToString(l, color) || ' ');
  if (height !== undefined) while (rows.length < height) rows.push(' ');
  return rows.join('\n');
}
