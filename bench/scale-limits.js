/**
 * Figures: where one node stops — a single VictoriaMetrics node's sample ingestion and a single
 * VictoriaLogs node's log-line ingestion, on the pinned binaries from the cache, on this machine.
 *
 * Each store runs alone (fresh temp data dir, free loopback port; VictoriaMetrics with the storage
 * and search flags `up` gives it, minus scraping). This process is the load generator: it sends
 * prebuilt request bodies (built before the clock starts, so building them costs the generator
 * nothing during a step) at a fixed rate per step, at most CONCURRENCY requests in flight:
 *
 *   VictoriaMetrics: `/api/v1/import/prometheus`, 10,000 samples per request over SERIES active
 *   series (3 labels each, values varying per pass, no timestamps: the store stamps each sample
 *   on arrival, as a scrape does). First every series is written once (new-series registration
 *   rate), then steps of increasing samples/s.
 *   VictoriaLogs: `/insert/jsonline`, 2,000 lines per request (~270 bytes each, shaped like the
 *   backend's audit records: event name, tenant, run id, model, numbers; 50 tenant streams,
 *   `_time` "0" = stamped on arrival), steps of increasing lines/s.
 *
 * A step "keeps up" when the store accepted ≥ 95 % of the step's target rate (counted from the
 * store's own /metrics: vm_rows_inserted_total{type="prometheus"}, vl_rows_ingested_total{type="jsonline"}) and the p99 of
 * its request durations stayed ≤ 1 s. With a bounded number of requests in flight a store that
 * cannot keep up slows its answers, so fewer requests go out and the accepted rate falls behind:
 * that step is where one node stops. The ramp ends at the first step that does not keep up.
 * Recorded per step: accepted rate, p50/p99, cores used by the store and by the generator, the
 * whole machine's busy fraction, the store's RSS and (VictoriaMetrics) active series.
 *
 * Backend requests/s on SQLite (one `serve`) are not measured here: throughput.js measures them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { cpuSeconds, dist, figure, log, machine, machineBusy, main, median, onCleanup, percentile, rssBytes, round, sleep, tmpDir, trackPid, untrackPid } from './lib.js';

const STEP_SECONDS = Number(process.env.BENCH_SCALE_STEP_SECONDS ?? 8);
const VM_SERIES = Number(process.env.BENCH_SCALE_VM_SERIES ?? 100_000);
const VM_RATES = (process.env.BENCH_SCALE_VM_RATES ?? '100000,200000,400000,800000,1600000,3200000').split(',').map(Number);
const VL_RATES = (process.env.BENCH_SCALE_VL_RATES ?? '10000,20000,40000,80000,160000,320000').split(',').map(Number);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 4);
const VM_BATCH = 10_000;
const VL_BATCH = 2_000;
const KEEP_UP_SHARE = 0.95;
const KEEP_UP_P99_MS = 1000;

/** Starts one pinned store binary on a free port; resolves once /health answers. */
async function startStore(component, argsFor) {
  const { resolveCacheDir, resolveInstalledBinary } = await dist('src/stack/binaries.js');
  const { spawnDaemon, stopPid } = await dist('src/stack/process.js');
  const { freePort } = await dist('src/stack/ports.js');
  const { waitHealthy } = await dist('src/stack/health.js');
  const bin = await resolveInstalledBinary(component, { cacheDir: resolveCacheDir(undefined) });
  const dir = tmpDir(`scale-${component}`);
  const port = await freePort();
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir);
  const proc = spawnDaemon(bin.path, argsFor(port, dataDir), { logFile: path.join(dir, 'log'), cwd: dir, env: process.env });
  trackPid(proc.pid);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopPid(proc.pid, 5000).catch(() => undefined);
    untrackPid(proc.pid);
  };
  onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}/health`, { timeoutMs: 30_000, gaveUp: () => (proc.exited() ? `${component} exited: ${fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-300)}` : undefined) });
  return { url, pid: proc.pid, stop };
}

/** Sum of the samples of one metric name (any labels) on a /metrics page; label filter optional. */
async function scrapeSum(url, name, labelIncludes = '') {
  const { request } = await import('undici');
  const text = await (await request(`${url}/metrics`)).body.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labelIncludes && !line.includes(labelIncludes)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Sends bodies[i % n] at `rate` items/s (each body holds `perBody` items) for `seconds`, at most
 * CONCURRENCY requests in flight; returns what went out and how long each request took.
 */
async function drive({ pool, pathAndQuery, contentType, bodies, perBody, rate, seconds, cursor }) {
  const perSecond = rate / perBody;
  const durations = [];
  let sent = 0;
  let inflight = 0;
  let failed = 0;
  let wake;
  const t0 = performance.now();
  const one = (body) => {
    inflight++;
    const a = performance.now();
    pool
      .request({ method: 'POST', path: pathAndQuery, headers: { 'content-type': contentType }, body, headersTimeout: 30_000, bodyTimeout: 30_000 })
      .then(async (res) => {
        await res.body.text();
        if (res.statusCode >= 300) failed++;
      })
      .catch(() => failed++)
      .finally(() => {
        durations.push(performance.now() - a);
        inflight--;
        wake?.();
      });
  };
  for (;;) {
    const elapsed = (performance.now() - t0) / 1000;
    if (elapsed >= seconds) break;
    const due = Math.min(Math.floor(elapsed * perSecond) + 1, Math.ceil(seconds * perSecond));
    while (sent < due && inflight < CONCURRENCY) {
      one(bodies[cursor.i % bodies.length]);
      cursor.i++;
      sent++;
    }
    await Promise.race([sleep(5), new Promise((r) => (wake = r))]);
  }
  const drainUntil = performance.now() + 15_000;
  while (inflight > 0 && performance.now() < drainUntil) await sleep(5);
  return { sentItems: sent * perBody, failed, durations, wallSeconds: (performance.now() - t0) / 1000 };
}

/** Sends each body once, CONCURRENCY at a time (closed loop). */
async function sendAll(pool, pathAndQuery, contentType, bodies) {
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await pool.request({ method: 'POST', path: pathAndQuery, headers: { 'content-type': contentType }, body, headersTimeout: 60_000, bodyTimeout: 60_000 });
      const text = await res.body.text();
      if (res.statusCode >= 300) throw new Error(`${pathAndQuery} answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** One rate step against a store: drives it and reads the store's own counters around it. */
async function step({ store, counter, extra, ...load }) {
  const before = { rows: await counter(), cpu: cpuSeconds(store.pid), gen: process.cpuUsage(), busy: machineBusy() };
  const r = await drive(load);
  const rows = (await counter()) - before.rows;
  const cpu = cpuSeconds(store.pid) - before.cpu;
  const gen = process.cpuUsage(before.gen);
  const sorted = r.durations.slice().sort((a, b) => a - b);
  const acceptedPerS = rows / r.wallSeconds;
  const p99 = percentile(sorted, 99);
  return {
    target: load.rate,
    accepted: round(acceptedPerS, 0),
    share: round(acceptedPerS / load.rate, 3),
    keptUp: acceptedPerS >= KEEP_UP_SHARE * load.rate && p99 <= KEEP_UP_P99_MS && r.failed === 0,
    p50ms: round(percentile(sorted, 50), 1),
    p99ms: round(p99, 1),
    failedRequests: r.failed,
    storeCores: round(cpu / r.wallSeconds, 2),
    // What one core of the store took: the figure that does not depend on how much CPU the
    // neighbours left it (the throughput bench's CPU per request, for a store).
    perStoreCore: cpu > 0 ? round(rows / cpu, 0) : null,
    generatorCores: round((gen.user + gen.system) / 1e6 / r.wallSeconds, 2),
    machineBusy: machineBusy(before.busy),
    storeRssMB: round((rssBytes(store.pid) ?? 0) / 1e6, 0),
    ...(extra ? await extra() : {}),
  };
}

async function ramp(name, rates, run) {
  const steps = [];
  for (const rate of rates) {
    const s = await run(rate);
    steps.push(s);
    log(`${name} ${rate}/s: accepted ${s.accepted}/s (${Math.round(s.share * 100)} %), p99 ${s.p99ms} ms, store ${s.storeCores} cores (${s.perStoreCore}/s per core), generator ${s.generatorCores} cores, machine ${Math.round(s.machineBusy * 100)} % busy, RSS ${s.storeRssMB} MB${s.activeSeries !== undefined ? `, ${s.activeSeries} series` : ''} → ${s.keptUp ? 'kept up' : 'STOPPED keeping up'}`);
    if (!s.keptUp) break;
  }
  const kept = steps.filter((s) => s.keptUp);
  return { steps, keptUpTo: kept.length ? kept[kept.length - 1] : null, stoppedAt: steps.find((s) => !s.keptUp) ?? null, maxAccepted: Math.max(...steps.map((s) => s.accepted)) };
}

function vmBodies() {
  // Variants of each 10,000-series chunk with other values, so consecutive passes do not repeat a
  // series' value (VictoriaMetrics stores repeated values almost for free).
  const variants = 3;
  const chunks = Math.ceil(VM_SERIES / VM_BATCH);
  const bodies = [];
  for (let v = 0; v < variants; v++) {
    for (let c = 0; c < chunks; c++) {
      let s = '';
      for (let i = c * VM_BATCH; i < Math.min(VM_SERIES, (c + 1) * VM_BATCH); i++) {
        s += `sagewai_scale_bench_value{job="scale-bench",instance="node-${i % 500}",series="${i}"} ${round(Math.random() * 1000, 2)}\n`;
      }
      bodies.push(Buffer.from(s));
    }
  }
  return { bodies, chunks };
}

function vlBodies() {
  const events = ['agent.run.started', 'agent.run.completed', 'fleet.task.claimed', 'auth.login.success', 'budget.warning'];
  const models = ['claude-haiku-4-5', 'gpt-4.1-mini', 'gemini-2.5-flash'];
  const bodies = [];
  let n = 0;
  for (let b = 0; b < 20; b++) {
    let s = '';
    for (let i = 0; i < VL_BATCH; i++, n++) {
      const ev = events[n % events.length];
      s += `${JSON.stringify({ date: '0', _msg: `${ev} run r-${(n * 7919) % 1_000_003} tokens ${(n * 31) % 5000}`, 'event.name': ev, 'sagewai.project_id': `tenant-${n % 50}`, 'service.name': 'sagewai-admin', severity: n % 17 === 0 ? 'WARN' : 'INFO', 'sagewai.run_id': `r-${(n * 7919) % 1_000_003}`, 'gen_ai.request.model': models[n % models.length], 'gen_ai.usage.input_tokens': (n * 31) % 5000, 'sagewai.cost_usd': round(((n * 13) % 1000) / 1e4, 4) })}\n`;
    }
    bodies.push(Buffer.from(s));
  }
  return bodies;
}

await main('scale-limits', async () => {
  const { Pool } = await import('undici');
  const { commandLine } = await dist('src/stack/native.js');
  const { withDefaults } = await dist('src/stack/ports.js');
  const load0 = machine().loadavg1m;

  // ── VictoriaMetrics ──
  const { bodies, chunks } = vmBodies();
  const vm = await startStore('victoria-metrics', (port, dataDir) => commandLine('victoria-metrics', withDefaults({ vm: port }), dataDir).filter((a) => !a.startsWith('-promscrape')));
  const vmPool = new Pool(vm.url, { connections: CONCURRENCY, pipelining: 1 });
  onCleanup(() => vmPool.close().catch(() => undefined));
  // Counted by the import handler, which answers only once its rows are in the storage; the
  // storage's own vm_rows_added_to_storage_total is refreshed on /metrics only now and then.
  const vmRows = () => scrapeSum(vm.url, 'vm_rows_inserted_total', 'type="prometheus"');
  const vmLoad = { pool: vmPool, pathAndQuery: '/api/v1/import/prometheus', contentType: 'text/plain', bodies, perBody: VM_BATCH, cursor: { i: 0 } };
  // Every series once, as fast as the store takes it: the new-series registration rate.
  const reg0 = performance.now();
  const regRows0 = await vmRows();
  await sendAll(vmPool, vmLoad.pathAndQuery, vmLoad.contentType, bodies.slice(0, chunks));
  const regSeconds = (performance.now() - reg0) / 1000;
  const newSeriesPerS = round(((await vmRows()) - regRows0) / regSeconds, 0);
  log(`VictoriaMetrics: ${VM_SERIES} new series written once in ${round(regSeconds, 2)} s (${newSeriesPerS} new series/s)`);
  // Series the store holds: all were created in this fresh data dir (its /metrics refreshes the
  // storage figures every few seconds, so this trails by as much).
  const activeSeries = async () => ({ activeSeries: await scrapeSum(vm.url, 'vm_new_timeseries_created_total') });
  const vmRamp = await ramp('VictoriaMetrics', VM_RATES, (rate) => step({ store: vm, counter: vmRows, extra: activeSeries, ...vmLoad, rate, seconds: STEP_SECONDS }));
  await vmPool.close();
  await vm.stop();

  // ── VictoriaLogs ──
  const vl = await startStore('victoria-logs', (port, dataDir) => commandLine('victoria-logs', withDefaults({ vl: port }), dataDir));
  const vlPool = new Pool(vl.url, { connections: CONCURRENCY, pipelining: 1 });
  onCleanup(() => vlPool.close().catch(() => undefined));
  const vlRows = () => scrapeSum(vl.url, 'vl_rows_ingested_total', 'type="jsonline"');
  const vlLoad = { pool: vlPool, pathAndQuery: `/insert/jsonline?_stream_fields=${encodeURIComponent('service.name,sagewai.project_id')}&_time_field=date&_msg_field=_msg`, contentType: 'application/stream+json', bodies: vlBodies(), perBody: VL_BATCH, cursor: { i: 0 } };
  const vlRamp = await ramp('VictoriaLogs', VL_RATES, (rate) => step({ store: vl, counter: vlRows, ...vlLoad, rate, seconds: STEP_SECONDS }));
  await vlPool.close();
  await vl.stop();

  const load1 = machine().loadavg1m;
  const where = (r, unit) =>
    r.stoppedAt
      ? `kept up to ${r.keptUpTo ? `${r.keptUpTo.target.toLocaleString('en-US')} ${unit}` : 'none of the steps'}; at ${r.stoppedAt.target.toLocaleString('en-US')} ${unit} it accepted ${r.stoppedAt.accepted.toLocaleString('en-US')} (${Math.round(r.stoppedAt.share * 100)} %, p99 ${r.stoppedAt.p99ms} ms, store ${r.stoppedAt.storeCores} cores = ${(r.stoppedAt.perStoreCore ?? 0).toLocaleString('en-US')} per core, generator ${r.stoppedAt.generatorCores} cores, machine ${Math.round(r.stoppedAt.machineBusy * 100)} % busy, RSS ${r.stoppedAt.storeRssMB} MB)`
      : `kept up at every step up to ${r.keptUpTo.target.toLocaleString('en-US')} ${unit}: the ramp did not reach its limit (raise the rates)`;
  const how = `stores alone on the pinned binaries, fresh data, ${CONCURRENCY} requests in flight at most, ${STEP_SECONDS} s per step, generator in the bench process with prebuilt bodies; keeps up = ≥ ${KEEP_UP_SHARE * 100} % of the target accepted (store's own counters) and p99 ≤ ${KEEP_UP_P99_MS} ms; load average ${load0} at the start, ${load1} at the end`;
  return [
    figure({
      id: 'scale-vm-ingest',
      title: `one VictoriaMetrics node: samples/s accepted at most (${VM_SERIES.toLocaleString('en-US')} active series)`,
      unit: 'samples/s',
      values: [vmRamp.maxAccepted],
      // No target: where one node stops, read in docs/scale.md.
      target: null,
      measured: `${where(vmRamp, 'samples/s')}; ${VM_SERIES.toLocaleString('en-US')} new series registered at ${newSeriesPerS.toLocaleString('en-US')}/s`,
      how: `/api/v1/import/prometheus, ${VM_BATCH.toLocaleString('en-US')} samples per request; ${how}`,
      extra: { steps: vmRamp.steps, newSeriesPerS, series: VM_SERIES },
    }),
    figure({
      id: 'scale-vl-ingest',
      title: 'one VictoriaLogs node: log lines/s accepted at most (~270-byte JSON lines, 50 streams)',
      unit: 'lines/s',
      values: [vlRamp.maxAccepted],
      target: null,
      measured: where(vlRamp, 'lines/s'),
      how: `/insert/jsonline, ${VL_BATCH.toLocaleString('en-US')} lines per request; ${how}`,
      extra: { steps: vlRamp.steps, medianP99ms: median(vlRamp.steps.map((s) => s.p99ms)) },
    }),
  ];
});
