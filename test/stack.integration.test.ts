import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processStartTime } from '../src/backend/data-dir-lock.js';
import { packageRoot } from '../src/paths.js';
import { freePorts } from '../src/stack/ports.js';
import type { StackStatus } from '../src/stack/status.js';
import type { StackRecord } from '../src/stack/state.js';

/** `up` → `status --json` → `up` again → `down` through the built CLI, with the real binaries. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let stateDir: string;
let portArgs: string[];
let pids: number[] = [];

beforeAll(async () => {
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-up-'));
  const p = await freePorts();
  portArgs = [
    '--otlp-grpc-port', String(p.otlpGrpc), '--otlp-http-port', String(p.otlpHttp), '--prom-port', String(p.promExporter),
    '--collector-metrics-port', String(p.collectorMetrics), '--collector-health-port', String(p.collectorHealth), '--vm-port', String(p.vm), '--vl-port', String(p.vl), '--vmalert-port', String(p.vmalert),
  ];
});

afterAll(async () => {
  // Whatever happened above, leave no process behind.
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(stateDir, { recursive: true, force: true });
});

describe('up / status / down (native runtime)', () => {
  it('up starts all four, prints URLs and time-to-ready; status --json shows them healthy and the scrape up', async () => {
    const r = await cli(['up', '--runtime', 'native', '--state-dir', stateDir, ...portArgs]);
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(fs.readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as StackRecord;
    pids = Object.values(record.components).map((c) => c.pid as number);
    expect(pids).toHaveLength(4);
    expect(pids.every(alive)).toBe(true);
    for (const url of [record.endpoints.vmUrl, record.endpoints.vlUrl, record.endpoints.collectorHealth, record.endpoints.otlpHttp]) expect(r.stdout).toContain(url);
    expect(r.stdout.match(/ready in \d+ ms/g)).toHaveLength(4);
    expect(r.stdout).toMatch(/first scrapes up {2}\d+ ms after up started/);
    // Not a terminal: one progress line per step with its duration on stderr, no escape codes.
    expect(r.stderr).toMatch(/^victoria-metrics healthy \(\d+\.\d s\)$/m);
    expect(r.stderr).toMatch(/^VictoriaMetrics: first scrape of every target up \(\d+\.\d s\)$/m);
    expect(r.stderr).not.toContain('\u001b');

    // `up` returns only once the stack can be read: `status` at once, no polling, says healthy,
    // and VictoriaMetrics already holds up == 1 for every scrape job.
    const s = await cli(['status', '--json', '--state-dir', stateDir]);
    expect(s.code, s.stderr).toBe(0);
    const status = JSON.parse(s.stdout) as StackStatus;
    // nocache=1 as every query of the CLI's client: without it VictoriaMetrics evaluates an instant
    // query -search.latencyOffset (1 s) in the past, which can be before a scrape `up` just saw.
    const upSeries = (await (await fetch(`${record.endpoints.vmUrl}/api/v1/query?query=up&nocache=1`)).json()) as { data: { result: { metric: { job: string }; value: [number, string] }[] } };
    expect(Object.fromEntries(upSeries.data.result.map((r) => [r.metric.job, r.value[1]]))).toEqual({ 'otel-collector': '1', 'otelcol-internal': '1', 'victoria-metrics': '1' });
    expect(status?.components.map((c) => [c.component, c.healthy, c.pid])).toEqual([
      ['collector', true, record.components.collector.pid],
      ['victoria-metrics', true, record.components['victoria-metrics'].pid],
      ['victoria-logs', true, record.components['victoria-logs'].pid],
      ['vmalert', true, record.components.vmalert.pid],
    ]);
    expect(status?.collectorScrape).toMatchObject({ job: 'otel-collector', up: true });
    expect(status?.healthy).toBe(true);

    // vmalert starts only once VictoriaMetrics answers: started beside it, a rule group evaluated
    // before the store listened kept "connection refused" as its rules' last error until its next
    // evaluation, and `verify` failed meanwhile. VictoriaMetrics took `ready in N ms` from its
    // spawn to answer; vmalert's process must have started about that much later. The slack:
    // /proc's start times are whole 10 ms clock ticks, and `ready in` counts from just before the
    // spawn call. Started together (before this change) the gap read 10 ms against 74.
    const vmReadyMs = Number(/VictoriaMetrics .*ready in (\d+) ms/.exec(r.stdout)?.[1]);
    expect(vmReadyMs).toBeGreaterThan(0);
    // Start times in clock ticks since boot (10 ms each on Linux).
    const tickMs = 1000 / 100;
    const startTicks = (pid: number | null): number => Number(processStartTime(pid as number));
    const gapMs = (startTicks(record.components.vmalert.pid) - startTicks(record.components['victoria-metrics'].pid)) * tickMs;
    expect(gapMs).toBeGreaterThanOrEqual(vmReadyMs - 3 * tickMs);
  });

  it('up twice is safe: it reports the running stack and starts nothing', async () => {
    const r = await cli(['up', '--runtime', 'native', '--state-dir', stateDir, ...portArgs]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^already running/);
    const record = JSON.parse(fs.readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as StackRecord;
    expect(Object.values(record.components).map((c) => c.pid)).toEqual(pids);
  });

  it('a component that dies on start fails `up` with its log, and the others are stopped', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-up-fail-'));
    try {
      const p = await freePorts();
      const ports = ['--otlp-grpc-port', String(p.otlpGrpc), '--otlp-http-port', String(p.otlpHttp), '--prom-port', String(p.promExporter), '--collector-metrics-port', String(p.collectorMetrics), '--collector-health-port', String(p.collectorHealth), '--vm-port', String(p.vm), '--vl-port', String(p.vl), '--vmalert-port', String(p.vmalert)];
      const broken = path.join(other, 'broken-collector');
      fs.writeFileSync(broken, '#!/bin/sh\necho "config error: this collector is broken" >&2\nexit 3\n', { mode: 0o755 });
      const r = await cli(['up', '--runtime', 'native', '--state-dir', path.join(other, 'state'), '--collector-bin', broken, ...ports]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Error: collector exited \(code 3\) before becoming healthy .*this collector is broken/m);
      expect(r.stderr).toMatch(/^Try this: read .*collector\.log/m);
      expect(fs.existsSync(path.join(other, 'state', 'stack.json'))).toBe(false);
      // VictoriaLogs was started beside the collector and must have been stopped again.
      const vlLog = fs.readFileSync(path.join(other, 'state', 'logs', 'victoria-logs.log'), 'utf8');
      expect(vlLog).toMatch(/started server at http:\/\/127\.0\.0\.1|listening|started/i);
      expect(await fetch(`http://127.0.0.1:${p.vl}/health`).then(() => 'answered', () => 'refused')).toBe('refused');
      // VictoriaMetrics (the scraper) and vmalert start only once the collector answers: never here.
      expect(fs.existsSync(path.join(other, 'state', 'logs', 'victoria-metrics.log'))).toBe(false);
      expect(await fetch(`http://127.0.0.1:${p.vm}/health`).then(() => 'answered', () => 'refused')).toBe('refused');
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('down stops every process by PID and keeps the data; down --purge removes it', async () => {
    const r = await cli(['down', '--state-dir', stateDir, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ runtime: 'native', wasRunning: true, purged: false });
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
    expect(fs.readdirSync(path.join(stateDir, 'data', 'victoria-metrics')).length).toBeGreaterThan(0);

    const s = await cli(['status', '--json', '--state-dir', stateDir]);
    expect(JSON.parse(s.stdout)).toMatchObject({ running: false, healthy: false });

    const p = await cli(['down', '--purge', '--state-dir', stateDir]);
    expect(p.code, p.stderr).toBe(0);
    expect(fs.existsSync(path.join(stateDir, 'data'))).toBe(false);
  });
});
