/**
 * Shared helpers of the benchmarks: machine description, statistics, a real stack and backend on
 * free loopback ports with temporary state (stopped by PID even when a bench fails), and the
 * result protocol run-all.js reads (one `BENCH_RESULT <json>` line on stdout).
 *
 * Benches import the compiled code from ../dist (run `npm run build` first; `npm run bench` does).
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'run.js');

export async function dist(rel) {
  const file = path.join(ROOT, 'dist', rel);
  if (!fs.existsSync(file)) throw new Error(`${path.relative(ROOT, file)} is missing: run \`npm run build\` first`);
  return import(new URL(`../dist/${rel}`, import.meta.url).href);
}

// ── machine ──
export function machine() {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg1m: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

/**
 * How fast this host runs one thread right now: the median time (ms) of five runs of a fixed
 * workload (JSON round trips and SHA-256 of 4 KiB, as a request does, 3,000 times). Lower is
 * faster. The host's speed moves up to twofold between runs of the same code, and within one
 * run, which no ratio inside a bench can cancel between benches or runs; each bench records
 * this at its start and its end so runs can be compared with the host's speed beside them.
 */
export function hostProbeMs() {
  const buf = Buffer.alloc(4096, 7);
  const runs = [];
  let sink = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 3000; i++) {
      const o = JSON.parse(JSON.stringify({ i, project: `tenant-${i % 50}`, cost_nusd: i * 37, tags: ['a', 'b', String(i)] }));
      sink += o.tags.length + crypto.createHash('sha256').update(buf).digest()[0];
    }
    runs.push(performance.now() - t0);
  }
  if (sink < 0) log('unreachable');
  return round(median(runs), 1);
}

// ── statistics ──
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
export function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length, values };
}
export const round = (x, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...a) => process.stderr.write(`[bench] ${a.join(' ')}\n`);

/**
 * A figure as run-all prints it. `target.op` is '<=' / '>=' / '==' ; `values` are the
 * repeated measurements (the median is the figure). `target: null` is a figure read side by side
 * (scaling, replicas, where a node stops): it is printed with no target and counts neither as met
 * nor as missed.
 */
export function figure({ id, title, unit, values, target, measured, how, extra }) {
  const s = summary(values);
  let ratio = null;
  let met;
  if (target === null) {
    met = null;
  } else if (target.op === '==') {
    met = s.values.every((v) => v === target.value);
  } else {
    ratio = target.value === 0 ? null : s.median / target.value;
    met = target.op === '<=' ? s.median <= target.value : s.median >= target.value;
  }
  return { id, title, unit, ...s, target, ratio, met, measured, how, ...(extra ? { extra } : {}) };
}

export function emit(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

// ── cleanup by PID, also on SIGTERM from run-all and on a crash ──
const cleanups = [];
const pidsToKill = new Set();
export function onCleanup(fn) {
  cleanups.push(fn);
}
export function trackPid(pid) {
  if (pid) pidsToKill.add(pid);
}
export function untrackPid(pid) {
  pidsToKill.delete(pid);
}
function killTracked() {
  for (const pid of pidsToKill) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  pidsToKill.clear();
}
process.once('exit', killTracked);
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.once(sig, () => {
    log(`${sig}: stopping processes`);
    void runCleanups().finally(() => {
      killTracked();
      process.exit(130);
    });
  });
}
export async function runCleanups() {
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      log(`cleanup failed: ${err.message}`);
    }
  }
}

/** Runs a bench body, emits its figures, cleans up, exits with 0 (figures out) or 1. */
export async function main(name, body) {
  const started = Date.now();
  const probeStart = hostProbeMs();
  const hostProbe = () => ({ startMs: probeStart, endMs: hostProbeMs() });
  let code = 0;
  try {
    // A bench returns its figures, or { figures, table } with a markdown table run-all adds to its report.
    const out = await body();
    const figures = Array.isArray(out) ? out : out.figures;
    emit({ bench: name, machine: machine(), hostProbe: hostProbe(), seconds: round((Date.now() - started) / 1000, 1), figures, ...(out.table ? { table: out.table } : {}) });
  } catch (err) {
    code = 1;
    log(`${name} failed: ${err.stack ?? err}`);
    emit({ bench: name, machine: machine(), hostProbe: hostProbe(), seconds: round((Date.now() - started) / 1000, 1), error: String(err.message ?? err), figures: [] });
  } finally {
    await runCleanups();
    killTracked();
  }
  process.exit(code);
}

export function tmpDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sagewai-bench-${prefix}-`));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ── stack and backend ──
/** The real collector + VictoriaMetrics + VictoriaLogs from the binary cache, free ports, temp state. */
export async function startStack() {
  const { upNative, downNative } = await dist('src/stack/native.js');
  const { freePorts } = await dist('src/stack/ports.js');
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-bench-stack-'));
    try {
      const { record } = await upNative({ stateDir, ports: await freePorts(), healthTimeoutMs: 60_000 });
      const pids = Object.fromEntries(Object.entries(record.components).map(([c, v]) => [c, v.pid]));
      for (const pid of Object.values(pids)) trackPid(pid);
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await downNative({ stateDir, purge: true, timeoutMs: 5000 }).catch(() => undefined);
        for (const pid of Object.values(pids)) untrackPid(pid);
        fs.rmSync(stateDir, { recursive: true, force: true });
      };
      onCleanup(stop);
      return { stateDir, record, endpoints: record.endpoints, pids, stop };
    } catch (err) {
      lastErr = err;
      fs.rmSync(stateDir, { recursive: true, force: true });
      if (!/already in use|not healthy|exited/.test(String(err.message))) break;
    }
  }
  throw lastErr;
}

/**
 * `sagewai-obs serve --port 0` as a child process. telemetry: an OTLP/HTTP base URL (full
 * telemetry to a real collector) or null (OTEL_SDK_DISABLED=true and --no-telemetry).
 */
export async function startBackend({ otlpHttp = null, latencyScale = '0', env = {}, args = [], exportIntervalMs } = {}) {
  const { spawnBackend } = await dist('src/backend/spawn.js');
  const e = { SAGEWAI_OBS_LATENCY_SCALE: latencyScale, ...env };
  const a = [...args];
  if (otlpHttp) {
    e.OTEL_EXPORTER_OTLP_ENDPOINT = otlpHttp;
    e.OTEL_SDK_DISABLED = 'false';
    if (exportIntervalMs) e.OTEL_METRIC_EXPORT_INTERVAL = String(exportIntervalMs);
  } else {
    e.OTEL_SDK_DISABLED = 'true';
    a.push('--no-telemetry');
  }
  const b = await spawnBackend({ env: e, args: a, timeoutMs: 30_000 });
  trackPid(b.pid);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await b.stop().catch(() => undefined);
    untrackPid(b.pid);
    fs.rmSync(b.stateDir, { recursive: true, force: true });
  };
  onCleanup(stop);
  return { url: b.url, pid: b.pid, token: b.operatorToken, dataDir: b.dataDir, stop };
}

// ── small HTTP helpers (undici) ──
export async function api(baseUrl, token, method, p, { body, project, headers = {} } = {}) {
  const { request } = await import('undici');
  const h = { authorization: `Bearer ${token}`, ...headers };
  if (project) h['x-project-id'] = project;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await request(new URL(p, baseUrl), { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`${method} ${p} → ${res.statusCode}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Raw instant query; returns {ms, result}. nocache=1 like the CLI's client. */
export async function vmQuery(vmUrl, expr, time) {
  const { request } = await import('undici');
  const u = new URL('/api/v1/query', vmUrl);
  u.searchParams.set('query', expr);
  u.searchParams.set('nocache', '1');
  if (time !== undefined) u.searchParams.set('time', String(time));
  const t0 = performance.now();
  const res = await request(u, { method: 'GET', headersTimeout: 120_000, bodyTimeout: 120_000 });
  const json = await res.body.json();
  const ms = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`VM query ${res.statusCode}: ${JSON.stringify(json).slice(0, 300)}`);
  return { ms, result: json.data.result };
}

/** Runs a command (no shell), returns {ms, code, stdout, stderr}. */
export function timeCommand(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: opts.timeoutMs ?? 120_000, env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? ROOT });
  const ms = performance.now() - t0;
  return { ms, code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Resident set size in bytes of one PID (Linux /proc), or null when gone. */
export function rssBytes(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Runs bench/load.js (the load generator) in its own process against a backend and returns its
 * JSON summary. The generator and the server share this machine's cores.
 */
export function runLoad(config, timeoutMs = 180_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'load.js')], { stdio: ['pipe', 'pipe', 'inherit'] });
    trackPid(child.pid);
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      untrackPid(child.pid);
      const line = out.split('\n').find((l) => l.startsWith('LOAD_RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('LOAD_RESULT '.length)));
      else reject(new Error(`load generator exited ${signal ?? code}: ${out.slice(-500)}`));
    });
    child.stdin.end(JSON.stringify(config));
  });
}

/**
 * CPU seconds (user + system) a PID has used so far (Linux /proc, clock ticks of 10 ms), or null.
 * With `thread`, only that thread's (its TID; the PID itself is the process's main thread).
 */
export function cpuSeconds(pid, thread) {
  try {
    const s = fs.readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** Busy fraction of all cores since a previous reading (Linux /proc/stat); pass nothing to start. */
export function machineBusy(prev) {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  if (!prev) return { idle, total };
  return round(1 - (idle - prev.idle) / (total - prev.total), 2);
}
