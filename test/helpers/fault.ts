import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BackendClient, type RunFinished } from '../../src/clients/backend.js';
import { VictoriaLogsClient, type LogRecord } from '../../src/clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../../src/clients/victoria-metrics.js';
import { getEntry, renderExpr } from '../../src/queries/index.js';
import { rangeOf } from '../../src/report/cost.js';
import { vmForceFlush } from '../../src/stack/health.js';
import { reconcile } from '../../src/verify/index.js';
import { packageRoot } from '../../src/paths.js';

/**
 * Shared by the fault tier (test/*.fault.test.ts): bounded load against a real `serve`, ledger
 * totals from the backend, the same totals from VictoriaMetrics through the query catalog, and
 * an exact comparison that re-polls (after one scrape and a force flush) until both agree or a
 * deadline passes. Nothing here fakes a component; every number comes from a real process.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000, pollMs = 1000): Promise<{ value: T; waitedMs: number }> {
  const start = Date.now();
  let last: T | undefined;
  let lastErr: unknown;
  while (Date.now() - start < timeoutMs) {
    try {
      last = await fn();
      lastErr = undefined;
      if (ok(last)) return { value: last, waitedMs: Date.now() - start };
    } catch (err) {
      lastErr = err;
    }
    await sleep(pollMs);
  }
  throw new Error(`${what} did not converge within ${timeoutMs} ms; last: ${lastErr ? String(lastErr) : JSON.stringify(last)?.slice(0, 2000)}`);
}

export interface Tenant {
  project: string;
  agent: string;
  model: string;
}

export const ADMIN = { email: 'fault-admin@example.test', password: 'fault-Pa55word!-do-not-log' };

/** First-run setup (when needed), then each tenant's project and agent. */
export async function bootstrap(client: BackendClient, tenants: readonly Tenant[], agentExtra: { system_prompt?: string; max_output_tokens?: number } = {}): Promise<void> {
  if ((await client.setupStatus()).setup_required) await client.setup({ org_name: 'Fault Org', admin_email: ADMIN.email, admin_password: ADMIN.password });
  const projects = new Set((await client.listProjects()).map((p) => p.slug));
  for (const t of tenants) {
    if (!projects.has(t.project)) {
      await client.createProject({ slug: t.project, name: t.project });
      projects.add(t.project);
    }
    await client.createAgent(t.project, { name: t.agent, model: t.model, ...agentExtra });
  }
}

export interface LoadOptions {
  concurrency: number;
  /** Upper bound on runs started. */
  maxRuns: number;
  /** Upper bound on wall time. */
  maxMs: number;
  /** Pause after each run, per worker (keeps a long load bounded in count). */
  pauseMs?: number;
  message?: (n: number, t: Tenant) => string;
}

export interface LoadResult {
  /** Runs whose run_finished reached the client (acknowledged). */
  acked: RunFinished[];
  /** Requests that failed (connection refused, reset, 5xx, non-completed status), with a reason. */
  failures: Array<{ at: number; reason: string }>;
  started: number;
  elapsedMs: number;
}

export interface Load {
  /** Live view of the result so far. */
  readonly result: LoadResult;
  /** Stop starting new runs; resolves when the ones in flight have ended. */
  stop(): Promise<LoadResult>;
  done: Promise<LoadResult>;
}

/** Round-robin runs over the tenants with fixed-but-varied token counts, `concurrency` at a time. */
export function startLoad(client: BackendClient, tenants: readonly Tenant[], opts: LoadOptions): Load {
  const result: LoadResult = { acked: [], failures: [], started: 0, elapsedMs: 0 };
  const t0 = Date.now();
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && result.started < opts.maxRuns && Date.now() - t0 < opts.maxMs) {
      const n = result.started++;
      const t = tenants[n % tenants.length] as Tenant;
      try {
        const r = await client.run(t.project, { agent_name: t.agent, message: opts.message?.(n, t) ?? `fault load ${n}`, simulate: { input_tokens: 500 + ((n * 37) % 400), cached_input_tokens: (n * 13) % 100, output_tokens: 100 + ((n * 11) % 150) } });
        if (r.status === 'completed') result.acked.push(r);
        else result.failures.push({ at: Date.now(), reason: `run ${r.run_id} ${r.status}: ${r.error?.code}` });
      } catch (err) {
        result.failures.push({ at: Date.now(), reason: String((err as Error).message ?? err).slice(0, 200) });
        await sleep(100);
      }
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, () => worker())).then(() => {
    result.elapsedMs = Date.now() - t0;
    return result;
  });
  return {
    result,
    done,
    stop: async () => {
      stopped = true;
      return done;
    },
  };
}

export async function waitForAcked(load: Load, n: number, timeoutMs = 60_000): Promise<void> {
  await eventually(`${n} acknowledged runs`, async () => load.result.acked.length, (v) => v >= n, timeoutMs, 100);
}

export interface Totals {
  cost_nusd: number;
  input: number;
  cached_input: number;
  output: number;
  reasoning: number;
  calls: number;
}

/** The ledger's totals per project (GET /api/v1/analytics/costs). */
export async function ledgerByProject(client: BackendClient, from: Date, projects: readonly string[]): Promise<Map<string, Totals>> {
  const r = await client.costs({ from, to: new Date(Date.now() + 1000), group_by: ['project'] });
  const out = new Map<string, Totals>();
  for (const p of projects) out.set(p, { cost_nusd: 0, input: 0, cached_input: 0, output: 0, reasoning: 0, calls: 0 });
  for (const g of r.groups) {
    if (!g.project || !projects.includes(g.project)) continue;
    out.set(g.project, { cost_nusd: g.cost_nusd ?? Math.round(g.cost_usd * 1e9), input: g.input_tokens, cached_input: g.cached_input_tokens, output: g.output_tokens, reasoning: g.reasoning_tokens, calls: g.calls });
  }
  return out;
}

/** The same totals from VictoriaMetrics with the catalog's cost.by_project, tokens.by_project and calls.by_project. */
export async function metricsByProject(vm: VictoriaMetricsClient, from: Date, projects: readonly string[]): Promise<Map<string, Totals>> {
  const to = new Date();
  const range = rangeOf({ from, to });
  const [cost, tokens, calls] = await Promise.all(
    ['cost.by_project', 'tokens.by_project', 'calls.by_project'].map((id) => vm.query(renderExpr(getEntry(id), { range }), { time: to })),
  );
  const out = new Map<string, Totals>();
  for (const p of projects) out.set(p, { cost_nusd: 0, input: 0, cached_input: 0, output: 0, reasoning: 0, calls: 0 });
  const at = (p: string | undefined) => (p ? out.get(p) : undefined);
  for (const s of cost ?? []) {
    const t = at(s.metric.sagewai_project_id);
    if (t) t.cost_nusd += Math.round(s.value * 1e9);
  }
  for (const s of tokens ?? []) {
    const t = at(s.metric.sagewai_project_id);
    const type = s.metric.gen_ai_token_type;
    if (t && (type === 'input' || type === 'output' || type === 'cached_input' || type === 'reasoning')) t[type] += Math.round(s.value);
  }
  for (const s of calls ?? []) {
    const t = at(s.metric.sagewai_project_id);
    if (t) t.calls += Math.round(s.value);
  }
  return out;
}

export interface ProjectDiff {
  project: string;
  ledger: Totals;
  metrics: Totals;
  /** metrics − ledger in USD, from whole nano-dollars (the ledger's unit, and src/verify's precision). */
  cost_diff_usd: number;
  token_diff: number;
  call_diff: number;
}

export interface ExactReconciliation {
  ok: boolean;
  attempts: number;
  waitedMs: number;
  rows: ProjectDiff[];
  /** src/verify's per-project/model reconciliation on the same window (last attempt). */
  verify: Awaited<ReturnType<typeof reconcile>>;
  /** Its rows for this case's projects that differ. */
  verifyMismatches: Array<Awaited<ReturnType<typeof reconcile>>['rows'][number]>;
}

/**
 * Waits one scrape, force-flushes VictoriaMetrics, then compares ledger and metrics per project
 * (cost to the nano-dollar, tokens and calls exactly) and runs src/verify's reconciliation;
 * re-polls until everything agrees or timeoutMs passes. Returns the last comparison either way.
 */
export async function reconcileExact(opts: { client: BackendClient; vmUrl: string; vlUrl: string; from: Date; projects: readonly string[]; timeoutMs?: number; onAttempt?: (line: string) => void }): Promise<ExactReconciliation> {
  const vm = new VictoriaMetricsClient(opts.vmUrl);
  const vl = new VictoriaLogsClient(opts.vlUrl);
  const start = Date.now();
  let attempts = 0;
  for (;;) {
    attempts++;
    await sleep(2500);
    await vmForceFlush(opts.vmUrl).catch(() => undefined);
    const ledger = await ledgerByProject(opts.client, opts.from, opts.projects);
    const metrics = await metricsByProject(vm, opts.from, opts.projects);
    const rows = opts.projects.map((p) => {
      const l = ledger.get(p) as Totals;
      const m = metrics.get(p) as Totals;
      return {
        project: p,
        ledger: l,
        metrics: m,
        cost_diff_usd: (m.cost_nusd - l.cost_nusd) / 1e9,
        token_diff: m.input - l.input + (m.output - l.output) + (m.cached_input - l.cached_input),
        call_diff: m.calls - l.calls,
        exactTokens: m.input === l.input && m.output === l.output && m.cached_input === l.cached_input,
      };
    });
    const verify = await reconcile({ vm, vl, backend: opts.client, window: { from: opts.from, to: new Date() }, reconcileTimeoutMs: 0, slideToNow: true });
    // Only this case's tenants: a window that starts within an export + scrape (~3 s) of another
    // tenant's burst sees that tenant's last increase land inside it with no ledger rows
    // (the metric lags the ledger by design; docs/faults.md).
    const ours = verify.rows.filter((r) => opts.projects.includes(r.project));
    const verifyOk = verify.error === undefined && opts.projects.every((p) => ours.some((r) => r.project === p)) && ours.every((r) => r.diff_usd === 0);
    const ok = verifyOk && rows.every((r) => r.cost_diff_usd === 0 && r.exactTokens && r.call_diff === 0);
    if (!ok) opts.onAttempt?.(`attempt ${attempts}: ${JSON.stringify(rows.filter((r) => r.cost_diff_usd !== 0 || !r.exactTokens || r.call_diff !== 0).map((r) => ({ p: r.project, l: r.ledger, m: r.metrics })))} verify mismatches ${JSON.stringify(verify.mismatches.filter((r) => opts.projects.includes(r.project)))}`);
    if (ok || Date.now() - start > (opts.timeoutMs ?? 45_000)) {
      return { ok, attempts, waitedMs: Date.now() - start, rows: rows.map(({ exactTokens: _e, ...r }) => r), verify, verifyMismatches: ours.filter((r) => r.diff_usd !== 0) };
    }
  }
}

/** All log records matching a LogsQL query since `from` (bounded by `limit`). */
export async function logsSince(vlUrl: string, query: string, from: Date, limit = 10_000): Promise<LogRecord[]> {
  return new VictoriaLogsClient(vlUrl).query(query, { start: from, end: new Date(Date.now() + 60_000), limit });
}

/** Raw samples VictoriaMetrics holds for a selector in [start, end] (/api/v1/export). */
export async function exportSamples(vmUrl: string, selector: string, start: Date, end: Date): Promise<Array<{ metric: Record<string, string>; values: number[]; timestamps: number[] }>> {
  const params = new URLSearchParams({ 'match[]': selector, start: String(start.getTime() / 1000), end: String(end.getTime() / 1000) });
  const res = await fetch(`${vmUrl}/api/v1/export?${params}`, { signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`export failed: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { metric: Record<string, string>; values: number[]; timestamps: number[] });
}

/** Number of requests whose outcome the client saw, in a window. */
export function failuresBetween(r: LoadResult, from: number, to: number): number {
  return r.failures.filter((f) => f.at >= from && f.at <= to).length;
}

export interface ListeningSocket {
  pid: number;
  address: string;
  port: number;
  family: 4 | 6;
}

function parseHexAddress(hex: string, family: 4 | 6): string {
  if (family === 4) {
    const n = hex.match(/../g) as string[];
    return n.reverse().map((b) => parseInt(b, 16)).join('.');
  }
  // IPv6 in /proc/net/tcp6: four little-endian 32-bit words.
  const words = (hex.match(/.{8}/g) as string[]).map((w) => (w.match(/../g) as string[]).reverse().join(''));
  const groups = words.join('').match(/.{4}/g) as string[];
  return groups.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
}

/** Every listening TCP socket owned by these PIDs, from /proc/<pid>/fd and /proc/<pid>/net/tcp{,6}. */
export function listeningSockets(pids: readonly number[]): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const pid of pids) {
    const inodes = new Set<string>();
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1] as string);
      } catch {
        // fd closed meanwhile
      }
    }
    for (const [file, family] of [['tcp', 4], ['tcp6', 6]] as const) {
      let text = '';
      try {
        text = fs.readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length < 10) continue;
        const [local, , state] = [cols[1] as string, cols[2], cols[3]];
        if (state !== '0A' || !inodes.has(cols[9] as string)) continue; // 0A = LISTEN
        const [addrHex, portHex] = local.split(':') as [string, string];
        out.push({ pid, address: parseHexAddress(addrHex, family), port: parseInt(portHex, 16), family });
      }
    }
  }
  return out;
}

export const isLoopback = (s: ListeningSocket): boolean => (s.family === 4 ? s.address.startsWith('127.') : s.address === '0:0:0:0:0:0:0:1' || s.address === '0:0:0:0:0:ffff:7f00:1' || /^0:0:0:0:0:ffff:7f/.test(s.address));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI (`bin/run.js`) with exactly `env`; SIGKILLed after timeoutMs. */
export function runBuiltCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
