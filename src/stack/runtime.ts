import path from 'node:path';
import { UserError } from '../errors.js';
import { purgeBackendDataDirs, stopStartedBackend, type PurgedBackendDirs, type StopOutcome } from '../backend/background.js';
import { dockerAvailable, downDocker, upDocker } from './docker.js';
import { downNative, upNative, type DownResult, type UpOptions, type UpResult } from './native.js';
import { readStackRecord } from './state.js';
import { waitFirstScrapes } from './status.js';
import { lineSteps } from '../ui/progress.js';

export type Runtime = 'auto' | 'native' | 'docker';

/** auto = docker when a Docker engine answers, else native. */
export async function chooseRuntime(runtime: Runtime): Promise<'native' | 'docker'> {
  if (runtime !== 'auto') return runtime;
  return (await dockerAvailable()) ? 'docker' : 'native';
}

/**
 * Starts the stack and returns once it can be read: every component healthy and VictoriaMetrics'
 * first scrape of each target (the collector's exporter, its own telemetry, itself) up. Without
 * that last wait, `status` or a query right after `up` saw no series for up to a scrape interval.
 */
export async function up(options: UpOptions & { runtime: Runtime }): Promise<UpResult & { runtime: 'native' | 'docker' }> {
  const t0 = Date.now();
  // A stack already recorded decides the runtime, so `up` twice never starts a second one.
  const recorded = readStackRecord(path.resolve(options.stateDir))?.runtime;
  const runtime = recorded ?? (await chooseRuntime(options.runtime));
  if (runtime === 'docker' && ((options.extraRules?.length ?? 0) > 0 || options.alertWebhookUrl)) {
    // The compose file mounts only the generated rules and sends no notifications (docs/alerts.md).
    throw new UserError('--rules and --alert-webhook apply to the native runtime; the docker runtime loads only the generated rules and notifies no one', ['sagewai-obs up --runtime native --rules … --alert-webhook …', 'or edit the vmalert service in docker-compose.yml (docs/alerts.md)']);
  }
  if (runtime === 'docker' && options.profile === 'cluster') {
    throw new UserError('--profile cluster is a native profile; under Docker the cluster topology is docker-compose.cluster.yml', ['sagewai-obs up --runtime native --profile cluster', 'docker compose -f docker-compose.cluster.yml up -d (docs/scale.md)']);
  }
  const result = runtime === 'docker' ? await upDocker(options) : await upNative(options);
  const steps = options.steps ?? lineSteps(options.onProgress ?? (() => undefined));
  const end = steps.begin('VictoriaMetrics: waiting for the first scrape of every target');
  try {
    await waitFirstScrapes(result.record.endpoints.vmUrl, { timeoutMs: options.healthTimeoutMs ?? 60_000 });
  } catch (err) {
    end({ ok: false, detail: 'VictoriaMetrics: first scrapes not up' });
    throw new UserError(`the stack started but cannot be read yet: ${(err as Error).message}`, [
      `sagewai-obs status --state-dir ${options.stateDir}`,
      `read the logs in ${path.join(path.resolve(options.stateDir), 'logs')}`,
      `sagewai-obs down --state-dir ${options.stateDir}`,
    ]);
  }
  end({ detail: 'VictoriaMetrics: first scrape of every target up' });
  return { runtime, ...result, scrapesUpMs: Date.now() - t0 };
}

/** The background backend `down` stopped (run-example's, kept or left behind), and how it went. */
export interface StoppedBackend {
  url: string;
  pid: number;
  stopped: StopOutcome;
}

/** What `down` reports of the stack and of the backend run-example started. */
type StackDown = DownResult & { runtime: 'native' | 'docker' | null; backend: StoppedBackend | null };

/**
 * Stops the backend run-example started in this state dir (if recorded), then the stack. The
 * backend goes first so that its last telemetry export still reaches the collector.
 */
export async function down(options: { stateDir: string; purge?: boolean | undefined; timeoutMs?: number | undefined }): Promise<StackDown & { backendDataDirs?: PurgedBackendDirs }> {
  const stateDir = path.resolve(options.stateDir);
  const b = await stopStartedBackend(stateDir, options.timeoutMs ?? 10_000);
  const backend = b ? { url: b.record.url, pid: b.record.pid, stopped: b.stopped } : null;
  const record = readStackRecord(stateDir);
  let result: StackDown;
  if (record?.runtime === 'docker') {
    await downDocker(options);
    result = { runtime: 'docker', wasRunning: true, stopped: {}, purged: Boolean(options.purge), backend };
  } else {
    result = { runtime: record ? 'native' : null, ...(await downNative(options)), backend };
  }
  return options.purge ? { ...result, backendDataDirs: purgeBackendDataDirs(stateDir) } : result;
}
