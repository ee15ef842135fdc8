/**
 * Figure: time to first data — from `sagewai-obs up` (binaries already cached) to the first cost
 * sample visible through the query catalog.
 *
 * Each repeat, on free loopback ports with a fresh temporary state dir: t0; `node bin/run.js up
 * --runtime native` (a real CLI process, until it exits with the stack healthy); `serve --port 0`
 * with telemetry to the new collector (default export interval, default simulated latency);
 * one project + one agent + one POST /playground/run; then the catalog's `kpi.spend_total` is
 * polled against VictoriaMetrics every 250 ms (no force-flush: what a user would see) until it
 * is above 0. The figure is t0 → that answer. 3 repeats (each starts and stops a whole stack).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, api, dist, figure, log, main, median, onCleanup, round, sleep, startBackend, timeCommand, trackPid, untrackPid, vmQuery } from './lib.js';

const REPEATS = Number(process.env.BENCH_FIRST_DATA_REPEATS ?? 3);

await main('first-data', async () => {
  const { freePorts } = await dist('src/stack/ports.js');
  const { downNative } = await dist('src/stack/native.js');
  const { readStackRecord } = await dist('src/stack/state.js');
  const { getEntry, renderExpr } = await dist('src/queries/index.js');
  const totals = [];
  const parts = [];
  for (let i = 0; i < REPEATS; i++) {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-bench-first-'));
    let pids = [];
    const stopStack = async () => {
      await downNative({ stateDir, purge: true, timeoutMs: 5000 }).catch(() => undefined);
      for (const pid of pids) untrackPid(pid);
      fs.rmSync(stateDir, { recursive: true, force: true });
    };
    onCleanup(stopStack);
    const p = await freePorts();
    const t0 = performance.now();
    const up = timeCommand(process.execPath, [BIN, 'up', '--json', '--runtime', 'native', '--state-dir', stateDir, '--otlp-grpc-port', String(p.otlpGrpc), '--otlp-http-port', String(p.otlpHttp), '--prom-port', String(p.promExporter), '--collector-metrics-port', String(p.collectorMetrics), '--collector-health-port', String(p.collectorHealth), '--vm-port', String(p.vm), '--vl-port', String(p.vl), '--vmalert-port', String(p.vmalert)], { timeoutMs: 90_000 });
    const record = readStackRecord(stateDir);
    pids = record ? Object.values(record.components).map((c) => c.pid) : [];
    for (const pid of pids) trackPid(pid);
    if (up.code !== 0 || !record) throw new Error(`up failed (${up.code}): ${up.stderr.slice(-400)}`);
    const tUp = performance.now();
    const upJson = JSON.parse(up.stdout);
    const backend = await startBackend({ otlpHttp: record.endpoints.otlpHttp, latencyScale: '1' });
    const tServe = performance.now();
    await api(backend.url, backend.token, 'POST', '/api/v1/projects', { body: { slug: 'first-data', name: 'First data' } });
    await api(backend.url, backend.token, 'POST', '/playground/agent', { project: 'first-data', body: { name: 'first-agent', model: 'claude-haiku-4-5', system_prompt: 'You help.', strategy: 'direct', temperature: 0.2, tools: [] } });
    const { request } = await import('undici');
    const run = await request(new URL('/playground/run', backend.url), { method: 'POST', headers: { authorization: `Bearer ${backend.token}`, 'x-project-id': 'first-data', 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ agent_name: 'first-agent', message: 'Summarise the ticket thread.' }) });
    const text = await run.body.text();
    if (run.statusCode !== 200 || !text.includes('run_finished')) throw new Error(`first run failed: ${run.statusCode} ${text.slice(0, 200)}`);
    const tRun = performance.now();
    const expr = renderExpr(getEntry('kpi.spend_total'), { range: '1h' });
    // Where the time goes: when the collector's exporter first shows the cost (SDK export +
    // collector batch), polled every 50 ms beside the catalog query.
    let onExporter = null;
    let exporterTimer = setInterval(() => {
      void request(record.endpoints.promExporter)
        .then((r) => r.body.text())
        .then((t) => {
          const line = t.split('\n').find((l) => l.startsWith('sagewai_llm_cost_usd_total{') && l.includes('sagewai_project_id="first-data"'));
          if (onExporter === null && line && Number(line.slice(line.lastIndexOf(' ') + 1)) > 0) onExporter = performance.now();
        })
        .catch(() => undefined);
    }, 50);
    const stopExporterPoll = () => {
      if (exporterTimer) clearInterval(exporterTimer);
      exporterTimer = null;
    };
    onCleanup(stopExporterPoll);
    let seen = null;
    while (performance.now() - t0 < 60_000) {
      try {
        const { result } = await vmQuery(record.endpoints.vmUrl, expr);
        const v = Number(result[0]?.value?.[1]);
        if (v > 0) {
          seen = performance.now();
          break;
        }
      } catch {
        // VictoriaMetrics may still be warming up: poll again
      }
      await sleep(250);
    }
    stopExporterPoll();
    // The scrape that carried the first cost: the timestamp VictoriaMetrics stored with it.
    let scrapedAt = null;
    if (seen !== null) {
      const raw = await vmQuery(record.endpoints.vmUrl, 'sagewai_llm_cost_usd_total{sagewai_project_id="first-data"}[5m]').catch(() => ({ result: [] }));
      const firstPositive = raw.result.flatMap((r) => r.values ?? []).filter(([, v]) => Number(v) > 0).map(([ts]) => Number(ts) * 1000);
      // performance.now() and wall clock share one origin in this process.
      if (firstPositive.length) scrapedAt = Math.min(...firstPositive) - performance.timeOrigin;
    }
    await backend.stop();
    await stopStack();
    if (seen === null) throw new Error('no cost sample became visible within 60 s');
    const s = (a, b) => (a === null || b === null ? null : round((b - a) / 1000, 2));
    const total = s(t0, seen);
    totals.push(total);
    const ready = upJson.readyMs ?? {};
    parts.push({
      upSeconds: s(t0, tUp),
      upComponentsHealthySeconds: round(Math.max(...Object.values(ready)) / 1000, 2),
      upScrapesUpSeconds: upJson.scrapesUpMs === undefined ? null : round(upJson.scrapesUpMs / 1000, 2),
      serveSeconds: s(tUp, tServe),
      setupAndFirstRunSeconds: s(tServe, tRun),
      untilVisibleSeconds: s(tRun, seen),
      runToExporterSeconds: s(tRun, onExporter),
      exporterToScrapeSeconds: s(onExporter, scrapedAt),
      scrapeToVisibleSeconds: s(scrapedAt, seen),
    });
    log(`repeat ${i + 1}: ${total} s (${JSON.stringify(parts[parts.length - 1])})`);
  }
  const m = (k) => median(parts.map((x) => x[k]).filter((x) => x !== null));
  return [
    figure({
      id: 'first-data',
      title: 'time to first data: up → first cost visible via catalog',
      unit: 's',
      values: totals,
      target: { op: '<=', value: 5 },
      measured: `median parts: up ${m('upSeconds')} s (components healthy ${m('upComponentsHealthySeconds')} s, first scrapes up ${m('upScrapesUpSeconds')} s after up's start), serve ${m('serveSeconds')} s, setup + first run ${m('setupAndFirstRunSeconds')} s, run → visible in VictoriaMetrics ${m('untilVisibleSeconds')} s (run → on the collector's exporter ${m('runToExporterSeconds')} s, → scraped ${m('exporterToScrapeSeconds')} s, → visible ${m('scrapeToVisibleSeconds')} s)`,
      how: `${REPEATS} repeats; each: fresh state, \`up --runtime native\` (cached binaries) as a CLI process, \`serve\` with telemetry on (2 s metric export), 1 project + agent + run, then kpi.spend_total polled every 250 ms without force-flush`,
      extra: { parts },
    }),
  ];
});
