/**
 * Figures: the CPU the telemetry worker spends per finished request: its server span and its two
 * HTTP histograms recorded with `recordFinishedRequest` (src/backend/http-telemetry.ts) and
 * exported as OTLP protobuf by serve's own SDK set-up (`createSdk`), in batches of 250 as the
 * worker gets them. Requests follow example 43's mix of routes, statuses and tenants.
 *
 * Two ways, alternating in fresh child processes of the same run: the histograms aggregated by
 * src/backend/histograms.ts (what serve does), and the same records through the SDK's own
 * Histogram (the producer switched off, so they take the OpenTelemetry API path), for the ratio.
 * The OTLP receiver is this process (an HTTP sink that answers 200), so a child's CPU is the
 * recording and exporting alone. No stack is needed; unlike req/s, this is robust to other load.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { figure, log, main, median, round, ROOT } from './lib.js';
import path from 'node:path';

const REPEATS = Number(process.env.BENCH_RECORD_REPEATS ?? 3);
const REQUESTS = 60_000;

if (process.argv[2] === 'child') {
  const how = process.argv[3];
  const { createSdk } = await import('../dist/src/backend/telemetry.js');
  const { sdk } = createSdk({ serviceVersion: 'bench', instanceId: 'bench' }, { logs: false });
  sdk.start();
  const { histograms } = await import('../dist/src/backend/histograms.js');
  if (how === 'sdk') histograms.enabled = false;
  const { recordFinishedBatch, appendFinishedRequest } = await import('../dist/src/backend/http-telemetry.js');
  // Example 43's mix by count (bench/load.js), with its statuses: an empty claim is 204.
  const routes = [['POST', '/api/v1/fleet/heartbeat', 38], ['POST', '/api/v1/fleet/claim', 29], ['POST', '/api/v1/fleet/tasks', 10], ['POST', '/api/v1/fleet/tasks/{task_id}/report', 10], ['POST', '/playground/run', 4], ['GET', '/api/v1/projects', 8], ['GET', '/api/v1/projects/{slug}', 1]];
  const projects = ['acme-live', 'globex-live', 'initech-live'];
  const reqs = [];
  for (let i = 0; i < 10_000; i++) {
    let x = (i * 7919) % 100;
    let r = routes[0];
    for (const rr of routes) {
      if (x < rr[2]) {
        r = rr;
        break;
      }
      x -= rr[2];
    }
    const status = r[1].endsWith('{slug}') ? 404 : r[1].endsWith('claim') && i % 3 ? 204 : 200;
    reqs.push({ method: r[0], route: r[1], path: r[1].replace('{task_id}', `tsk_${i}`).replace('{slug}', 'no-such'), startMs: Date.now(), seconds: 0.002 + (i % 50) / 10_000, bodyBytes: 100 + (i % 900), status, project: projects[i % 3], actor: `wrk_${i % 8}` });
  }
  let k = 0;
  const run = async (n) => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i += 250) {
      const batch = [];
      for (let j = i; j < i + 250 && j < n; j++) appendFinishedRequest(batch, reqs[k++ % reqs.length]);
      recordFinishedBatch(batch);
      await new Promise((r) => setImmediate(r));
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  await run(20_000); // warm-up
  const us = [];
  for (let i = 0; i < 3; i++) us.push(await run(REQUESTS));
  await sdk.shutdown();
  process.stdout.write(`${JSON.stringify({ us: median(us) })}\n`);
  process.exit(0);
}

function child(how, endpoint) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [path.join(ROOT, 'bench', 'telemetry-record.js'), 'child', how], { env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_METRIC_EXPORT_INTERVAL: '2000' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()).us) : reject(new Error(`child ${how} exited ${code}`))));
  });
}

await main('telemetry-record', async () => {
  let bytes = 0;
  const sink = http.createServer((req, res) => {
    req.on('data', (d) => (bytes += d.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${sink.address().port}`;
  const ours = [];
  const sdk = [];
  try {
    for (let i = 0; i < REPEATS; i++) {
      for (const how of i % 2 ? ['sdk', 'ours'] : ['ours', 'sdk']) {
        const us = round(await child(how, endpoint), 2);
        (how === 'ours' ? ours : sdk).push(us);
        log(`round ${i + 1} ${how === 'ours' ? 'histograms.ts' : "SDK's Histogram"}: ${us} µs CPU per finished request`);
      }
    }
  } finally {
    sink.close();
  }
  const how = `${REPEATS} alternating child processes per way, each ${REQUESTS.toLocaleString('en-US')} requests × 3 after a warm-up, in batches of 250; OTLP protobuf to a local sink (${round(bytes / 1e6, 0)} MB in all)`;
  return [
    figure({ id: 'telemetry-record', title: 'telemetry worker: CPU per finished request (span + 2 HTTP histograms, export included)', unit: 'µs', values: ours, target: null, measured: `µs CPU per request; the same with the SDK's Histogram: ${median(sdk)} µs (${round(median(ours) / median(sdk), 2)}×)`, how, extra: { sdkHistogramUs: sdk } }),
  ];
});
