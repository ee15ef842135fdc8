import fs from 'node:fs';
import { BackendClient } from '../clients/backend.js';
import { CheckFailedError, UserError } from '../errors.js';
import { RequestCounter } from '../driver/counter.js';
import { CountingPool } from '../driver/counting-pool.js';
import { LiveProgress, type ExampleCheck, type ExampleResultBase } from '../driver/context.js';
import { EXAMPLES, type ExampleDefinition } from './catalog-of-examples.js';
import { readStackRecord } from '../stack/state.js';
import { prepareEnvironment, type Environment } from './environment.js';
import { resolveStateDir } from '../clients/endpoints.js';
import { watchFirstData } from './first-data.js';
import { progressLine } from './report.js';
import { verifyRun } from './verify.js';
import { alertChecks } from './alerts.js';

export { EXAMPLES } from './catalog-of-examples.js';
export { renderReport } from './report.js';

export interface RunExampleOptions {
  example: string;
  durationMs?: number | undefined;
  seed?: number | undefined;
  verify: boolean;
  keep: boolean;
  stateDir?: string | undefined;
  backendUrl?: string | undefined;
  vmUrl?: string | undefined;
  vlUrl?: string | undefined;
  token?: string | undefined;
  /** Write the JSON report here as well. */
  reportFile?: string | undefined;
  /** Progress lines (stderr in the CLI; nothing under --json). */
  say?: ((line: string) => void) | undefined;
  progressIntervalMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface RunExampleReport {
  example: string;
  title: string;
  ok: boolean;
  endpoints: { backendUrl: string; vmUrl: string; vlUrl: string };
  started: { stack: boolean; backend: boolean };
  /** Seconds from the first request until the first cost number was visible through the catalog. */
  timeToFirstDataSeconds: number | null;
  result: ExampleResultBase;
  verification: { checks: ExampleCheck[]; settleSeconds: number } | null;
  failed: string[];
  /** What --keep left running of what this run started, and how to stop it; null otherwise. */
  kept: KeptSummary | null;
}

export interface KeptSummary {
  stateDir: string;
  stack: boolean;
  backend: { url: string; pid: number; dataDir: string; logFile: string } | null;
  /** The state dir flag later commands need to find what was kept ('' for the default state dir). */
  stateDirFlag: string;
  /** Stops everything kept: the stack and the backend. */
  stopCommand: string;
}

function keptSummary(env: Environment): KeptSummary | null {
  if (!env.started.stack && !env.startedBackend) return null;
  // Shown as commands to copy: a path with spaces or quotes is quoted for the shell.
  const quoted = /^[\w/.,:@%+=-]+$/.test(env.stateDir) ? env.stateDir : `'${env.stateDir.replace(/'/g, `'\\''`)}'`;
  const stateDirFlag = env.stateDir === resolveStateDir(undefined) ? '' : ` --state-dir ${quoted}`;
  const b = env.startedBackend;
  return {
    stateDir: env.stateDir,
    stack: env.started.stack,
    backend: b ? { url: b.url, pid: b.pid, dataDir: b.dataDir, logFile: b.logFile } : null,
    stateDirFlag,
    stopCommand: `sagewai-obs down${stateDirFlag}`,
  };
}

export function exampleDefinition(id: string): ExampleDefinition {
  const def = EXAMPLES[id];
  if (!def) throw new UserError(`unknown example ${JSON.stringify(id)}`, `use one of ${Object.keys(EXAMPLES).sort().join(', ')}`);
  return def;
}

/**
 * Runs one example end to end: makes sure a stack and a backend are there, drives the workload
 * with live progress, optionally verifies the stores with the catalog's queries, stops what it
 * started (or, with `keep`, leaves it running for `down` to stop), and throws CheckFailedError
 * naming every failed check.
 */
export async function runExample(o: RunExampleOptions): Promise<RunExampleReport> {
  const def = exampleDefinition(o.example);
  if (o.durationMs !== undefined && (!Number.isFinite(o.durationMs) || o.durationMs <= 0)) {
    throw new UserError(`duration must be positive, got ${o.durationMs} ms`, 'e.g. --duration 30s');
  }
  const say = o.say ?? (() => undefined);
  const env = await prepareEnvironment({ stateDir: o.stateDir, backendUrl: o.backendUrl, vmUrl: o.vmUrl, vlUrl: o.vlUrl, token: o.token, say });
  const counter = new RequestCounter();
  const progress = new LiveProgress();
  const watcher = watchFirstData(env.vmUrl, counter);
  const startedAt = Date.now();
  const ticker = setInterval(() => say(progressLine(def.id, Date.now() - startedAt, counter, progress, watcher.seconds(), watcher.spendUsd())), o.progressIntervalMs ?? 5000);
  let report: RunExampleReport | undefined;
  try {
    say(`example ${def.id} (${def.title}) against ${env.backendUrls.join(', ')}${def.defaultDurationMs > 0 ? ` for ${Math.round((o.durationMs ?? def.defaultDurationMs) / 1000)} s` : ''}`);
    const result = await def.run({
      backendUrl: env.backendUrl,
      backendUrls: env.backendUrls,
      token: env.token,
      vmUrl: env.vmUrl,
      vlUrl: env.vlUrl,
      otlpHttp: readStackRecord(env.stateDir)?.endpoints.otlpHttp,
      durationMs: o.durationMs ?? (def.defaultDurationMs > 0 ? def.defaultDurationMs : undefined),
      seed: o.seed,
      counter,
      progress,
      signal: o.signal,
      log: (l) => say(`  ${l}`),
    });
    clearInterval(ticker);
    say(progressLine(def.id, Date.now() - startedAt, counter, progress, watcher.seconds(), watcher.spendUsd()));

    let verification: RunExampleReport['verification'] = null;
    if (o.verify) {
      say('verifying: board panels, cost reconciliation, requests by status class, audit events');
      const pool = new CountingPool(new URL(env.backendUrl).origin, counter);
      const api = new BackendClient({ baseUrl: env.backendUrl, token: env.token }, pool);
      try {
        const fromMs = (counter.firstRequestAt ?? startedAt) - 1000;
        const v = await verifyRun({ vmUrl: env.vmUrl, vlUrl: env.vlUrl, api, counter, fromMs, panels: def.panels, expectedEvents: def.expectedEvents(result), exclusiveBackend: env.started.backend, log: (l) => say(`  ${l}`) });
        verification = { checks: [...v.checks, ...(await alertChecks({ stateDir: env.stateDir, vmUrl: env.vmUrl, allowed: def.allowedAlerts, say }))], settleSeconds: v.settleSeconds };
      } finally {
        await pool.close();
      }
    }
    // Time to first data is measured by the watcher; a very short run may end before it sees it.
    const deadline = Date.now() + 15_000;
    while (watcher.seconds() === null && Date.now() < deadline && progress.spendUsd > 0) await new Promise((r) => setTimeout(r, 250));
    const ttfd = watcher.seconds();
    if ('timeToFirstDataSeconds' in result) (result as { timeToFirstDataSeconds: number | null }).timeToFirstDataSeconds = ttfd;
    const all = [...result.checks, ...(verification?.checks ?? [])];
    const failed = all.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
    report = {
      example: def.id,
      title: def.title,
      ok: failed.length === 0,
      endpoints: { backendUrl: env.backendUrl, vmUrl: env.vmUrl, vlUrl: env.vlUrl },
      started: env.started,
      timeToFirstDataSeconds: ttfd,
      result,
      verification,
      failed,
      kept: o.keep ? keptSummary(env) : null,
    };
  } finally {
    clearInterval(ticker);
    await watcher.stop();
    await env.release(o.keep);
  }
  if (o.reportFile) fs.writeFileSync(o.reportFile, `${JSON.stringify(report, null, 2)}\n`);
  if (!report.ok) throw new CheckFailedError(`${report.failed.length} check(s) failed:\n  - ${report.failed.join('\n  - ')}`, report);
  return report;
}
