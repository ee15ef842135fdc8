/**
 * Figure: memory — peak total RSS of collector + VictoriaMetrics + VictoriaLogs + backend while
 * example 43 runs.
 *
 * A real stack and `serve` (telemetry on, default 2 s export, default simulated latency) on free
 * ports; `node bin/run.js run-example 43 --duration 60s` (its default is 180 s; shortened to bound
 * the bench) drives them. /proc/<pid>/status VmRSS of the four processes is sampled every 500 ms;
 * the figure is the largest sum seen. One run (the example is the expensive part).
 */
import { BIN, figure, log, main, rssBytes, sleep, startBackend, startStack, trackPid, untrackPid } from './lib.js';

const DURATION = process.env.BENCH_MEMORY_DURATION ?? '60s';

await main('memory', async () => {
  const stack = await startStack();
  const backend = await startBackend({ otlpHttp: stack.endpoints.otlpHttp, latencyScale: '1' });
  const pids = { collector: stack.pids.collector, 'victoria-metrics': stack.pids['victoria-metrics'], 'victoria-logs': stack.pids['victoria-logs'], backend: backend.pid };
  const peak = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  let peakTotal = 0;
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      let total = 0;
      for (const [k, pid] of Object.entries(pids)) {
        const rss = rssBytes(pid) ?? 0;
        peak[k] = Math.max(peak[k], rss);
        total += rss;
      }
      peakTotal = Math.max(peakTotal, total);
      samples++;
      await sleep(500);
    }
  })();
  // An async child, so the sampler keeps running while the example does.
  const { spawn } = await import('node:child_process');
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'run-example', '43', '--duration', DURATION, '--state-dir', stack.stateDir, '--backend-url', backend.url, '--token', backend.token, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    trackPid(child.pid);
    child.stdout.resume();
    child.on('exit', (c) => {
      untrackPid(child.pid);
      if (c !== 0) log(`run-example exited ${c}: ${err.slice(-600)}`);
      resolve(c);
    });
  });
  sampling = false;
  await sampler;
  if (code !== 0) throw new Error(`run-example 43 exited ${code}`);
  const mb = (b) => Math.round(b / 2 ** 20);
  log(`peak RSS: ${Object.entries(peak).map(([k, v]) => `${k} ${mb(v)} MiB`).join(', ')}; total peak ${mb(peakTotal)} MiB over ${samples} samples`);
  return [
    figure({
      id: 'memory',
      title: 'RSS of collector + VM + VL + backend during example 43',
      unit: 'MB',
      values: [Math.round(peakTotal / 1e6)],
      target: { op: '<=', value: 500 },
      measured: `peak of the sum (MB = 10^6 bytes); per-process peaks: ${Object.entries(peak).map(([k, v]) => `${k} ${Math.round(v / 1e6)}`).join(', ')} MB`,
      how: `run-example 43 --duration ${DURATION} against a fresh stack + serve (telemetry on); VmRSS sampled every 500 ms (${samples} samples); 1 run`,
      extra: { peakBytes: peak, peakTotalBytes: peakTotal },
    }),
  ];
});
