import { stripVTControlCharacters } from 'node:util';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { createStepRenderer, formatElapsed, lineSteps } from '../src/ui/progress.js';

function sink(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 80, write: (s: string) => ((out.text += s), true) };
  return out;
}

describe('progress with elapsed time', () => {
  it('formats seconds, then minutes', () => {
    expect(formatElapsed(1234)).toBe('1.2 s');
    expect(formatElapsed(125_000)).toBe('2m 05s');
  });

  it('not a terminal: one line per finished step with its duration, no escape codes', () => {
    let t = 0;
    const s = sink(false);
    const r = createStepRenderer({ stream: s, now: () => t, color: new Chalk({ level: 0 }) });
    const end = r.begin('building victoria-metrics');
    t = 83_400;
    end({ detail: 'built victoria-metrics v1.151.0' });
    const fail = r.begin('downloading x');
    t += 2_000;
    fail({ ok: false });
    r.stop();
    expect(s.text).toBe('built victoria-metrics v1.151.0 (1m 23s)\nfailed: downloading x (2.0 s)\n');
  });

  it('a terminal: a live line whose elapsed time ticks, replaced by a ✓ line at the end', async () => {
    let t = 0;
    const s = sink(true);
    const r = createStepRenderer({ stream: s, now: () => t, tickMs: 5, color: new Chalk({ level: 1 }) });
    const end = r.begin('building collector');
    t = 1_500;
    await new Promise((res) => setTimeout(res, 30));
    t = 61_000;
    await new Promise((res) => setTimeout(res, 30));
    end();
    r.stop();
    const plain = stripVTControlCharacters(s.text);
    expect(plain).toContain('building collector 1.5 s');
    expect(plain).toContain('building collector 1m 01s');
    expect(plain.trimEnd().split(/[\r\n]/).pop()).toBe('✓ building collector 1m 01s');
  });

  it('without a renderer, library steps still become plain lines', () => {
    const lines: string[] = [];
    let t = 0;
    const st = lineSteps((l) => lines.push(l), () => t);
    const end = st.begin('x');
    t = 500;
    expect(end({ detail: 'x done' })).toBe(500);
    expect(lines).toEqual(['done: x done (0.5 s)']);
  });
});
