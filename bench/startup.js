/**
 * Figure: CLI start-up, wall time of `node bin/run.js --version` (a new Node process each time,
 * as a user's shell runs it). 3 warm-up runs (disk cache), then 5 repeats of 5 runs; each
 * repeat's figure is its median.
 */
import { BIN, figure, main, median, round, timeCommand } from './lib.js';

await main('startup', async () => {
  const once = () => {
    const r = timeCommand(process.execPath, [BIN, '--version'], { timeoutMs: 30_000 });
    if (r.code !== 0 || !/\d+\.\d+\.\d+/.test(r.stdout)) throw new Error(`--version failed (${r.code}): ${r.stderr.slice(0, 300)}`);
    return r.ms;
  };
  for (let i = 0; i < 3; i++) once();
  const values = [];
  for (let r = 0; r < 5; r++) values.push(round(median(Array.from({ length: 5 }, once)), 1));
  return [
    figure({
      id: 'startup',
      title: 'CLI start-up, sagewai-obs --version',
      unit: 'ms',
      values,
      target: { op: '<=', value: 300 },
      measured: 'wall time of the whole process, spawn to exit',
      how: '`node bin/run.js --version` in a fresh process; 3 warm-up runs, 5 repeats × 5 runs, median per repeat',
    }),
  ];
});
