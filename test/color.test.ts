import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { colorLevel, setColorFlag } from '../src/ui/color.js';

const tty = { isTTY: true, getColorDepth: () => 8 };
const pipe = { isTTY: false };

afterEach(() => setColorFlag(undefined));

describe('one colour decision for the CLI', () => {
  it('colours a terminal, never a pipe or TERM=dumb', () => {
    expect(colorLevel({ stream: tty, env: {}, argv: [] })).toBe(2);
    expect(colorLevel({ stream: pipe, env: {}, argv: [] })).toBe(0);
    expect(colorLevel({ stream: tty, env: { TERM: 'dumb' }, argv: [] })).toBe(0);
  });

  it('honours NO_COLOR (non-empty only), FORCE_COLOR over it, and --no-color over both', () => {
    expect(colorLevel({ stream: tty, env: { NO_COLOR: '1' }, argv: [] })).toBe(0);
    expect(colorLevel({ stream: tty, env: { NO_COLOR: '' }, argv: [] })).toBe(2);
    expect(colorLevel({ stream: pipe, env: { FORCE_COLOR: '1' }, argv: [] })).toBe(1);
    expect(colorLevel({ stream: pipe, env: { FORCE_COLOR: '3', NO_COLOR: '1' }, argv: [] })).toBe(3);
    expect(colorLevel({ stream: tty, env: { FORCE_COLOR: '0' }, argv: [] })).toBe(0);
    expect(colorLevel({ stream: pipe, env: { FORCE_COLOR: '1' }, argv: ['status', '--no-color'] })).toBe(0);
    // After `--` it is an argument for something else, not our flag.
    expect(colorLevel({ stream: pipe, env: { FORCE_COLOR: '1' }, argv: ['x', '--', '--no-color'] })).toBe(1);
    setColorFlag(false);
    expect(colorLevel({ stream: tty, env: { FORCE_COLOR: '1' }, argv: [] })).toBe(0);
  });

  it('the built CLI: FORCE_COLOR colours an error, --no-color and NO_COLOR keep it plain', async () => {
    const bin = path.join(packageRoot(), 'bin', 'run.js');
    const run = (args: string[], env: NodeJS.ProcessEnv): Promise<string> =>
      new Promise((resolve) => {
        const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR'));
        execFile(process.execPath, [bin, ...args], { env: { ...base, ...env }, timeout: 30_000 }, (_err, _stdout, stderr) => resolve(stderr));
      });
    const forced = await run(['up', '--bogus'], { FORCE_COLOR: '1' });
    expect(forced).toMatch(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]+mError:`));
    expect(await run(['up', '--bogus', '--no-color'], { FORCE_COLOR: '1' })).toMatch(/^Error: /);
    expect(await run(['up', '--bogus'], { NO_COLOR: '1' })).toMatch(/^Error: /);
  }, 60_000);
});
