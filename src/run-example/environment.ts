import { newRunExampleBackendDir, startBackgroundBackend, type BackgroundBackend, type StartedBackendRecord } from '../backend/background.js';
import { resolveEndpoints } from '../clients/endpoints.js';
import { UserError, describeCause } from '../errors.js';
import { downNative, upNative } from '../stack/native.js';
import { stackStatus } from '../stack/status.js';
import type { StackEndpoints } from '../stack/state.js';

/**
 * What run-example needs around an example: a running stack and a reachable backend. It starts
 * what is missing and remembers what it started, so it can stop exactly that at the end.
 */
export interface EnvironmentOptions {
  stateDir?: string | undefined;
  /**
   * Explicit --backend-url: must answer, never replaced by a backend we start. Several URLs,
   * comma-separated, are replicas of one backend on one database: the load is spread over them.
   */
  backendUrl?: string | undefined;
  vmUrl?: string | undefined;
  vlUrl?: string | undefined;
  token?: string | undefined;
  say: (line: string) => void;
}

export interface Environment {
  stateDir: string;
  vmUrl: string;
  vlUrl: string;
  /** The first of backendUrls (verification reads the shared ledger through it). */
  backendUrl: string;
  backendUrls: string[];
  token: string | undefined;
  started: { stack: boolean; backend: boolean };
  /** The backend this environment started (running detached, recorded for `down`), if any. */
  startedBackend: StartedBackendRecord | undefined;
  /**
   * Stops what this environment started. With `keep`, leaves it running and lets this process
   * exit without it: the stack's and the backend's records stay, so `down` stops them later.
   */
  release(keep: boolean): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

export async function prepareEnvironment(o: EnvironmentOptions): Promise<Environment> {
  // An explicit backend URL is checked first: a typo must not cost a stack start-up.
  const explicit = o.backendUrl === undefined ? undefined : o.backendUrl.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
  if (explicit !== undefined) {
    if (explicit.length === 0) throw new UserError('--backend-url is empty', 'sagewai-obs run-example 43 --backend-url http://127.0.0.1:8000');
    for (const u of explicit) {
      let ok = false;
      try {
        ok = ['http:', 'https:'].includes(new URL(u).protocol);
      } catch {
        ok = false;
      }
      if (!ok) throw new UserError(`invalid backend URL ${JSON.stringify(u)}`, 'sagewai-obs run-example 43 --backend-url http://127.0.0.1:8001,http://127.0.0.1:8002');
      if (!(await answers(u))) throw new UserError(`the backend at ${u} is unreachable`, ['sagewai-obs serve   (start one)', 'or leave out --backend-url and run-example starts its own']);
    }
  }
  const ep = resolveEndpoints({ 'state-dir': o.stateDir, 'backend-url': explicit?.[0], 'vm-url': o.vmUrl, 'vl-url': o.vlUrl, token: o.token });
  let stackStarted = false;
  let stackEndpoints: StackEndpoints | undefined;
  if (o.vmUrl === undefined && o.vlUrl === undefined) {
    const st = await stackStatus({ stateDir: ep.stateDir });
    if (st.running && st.endpoints) {
      stackEndpoints = st.endpoints;
      const sick = st.components.filter((c) => !c.healthy).map((c) => `${c.component}: ${c.detail ?? 'unhealthy'}`);
      if (sick.length > 0) o.say(`warning: the running stack is not healthy (${sick.join('; ')})`);
    } else {
      o.say(`no stack running in ${ep.stateDir}: starting the native stack`);
      const up = await upNative({ stateDir: ep.stateDir, onProgress: (l) => o.say(`  ${l}`) });
      stackEndpoints = up.record.endpoints;
      stackStarted = !up.alreadyRunning;
    }
  }
  const vmUrl = o.vmUrl ?? stackEndpoints?.vmUrl ?? ep.vmUrl;
  const vlUrl = o.vlUrl ?? stackEndpoints?.vlUrl ?? ep.vlUrl;

  let backend: BackgroundBackend | undefined;
  let backendUrl = ep.backendUrl;
  let token = ep.token;
  if (o.backendUrl === undefined && !(await answers(backendUrl))) {
    o.say('no backend reachable: starting `sagewai-obs serve`');
    const env: NodeJS.ProcessEnv = {};
    if (stackEndpoints && !process.env.OTEL_EXPORTER_OTLP_ENDPOINT) env.OTEL_EXPORTER_OTLP_ENDPOINT = stackEndpoints.otlpHttp;
    try {
      // A fresh data directory (so a fresh service.instance.id) per started backend: a restarted
      // backend on an old data directory continues the old series, and a plain HTTP counter that
      // restarts from 0 and climbs back to its old value shows no increase at all in the window.
      const dataDir = newRunExampleBackendDir(ep.stateDir);
      // Detached, its output in <dataDir>/serve.log, so that under --keep this process can exit
      // while the backend runs on: a child on pipes holds its parent until the child exits.
      backend = await startBackgroundBackend({ stateDir: ep.stateDir, dataDir, env });
    } catch (err) {
      if (stackStarted) await downNative({ stateDir: ep.stateDir }).catch(() => undefined);
      throw new UserError(`could not start the backend: ${describeCause(err)}`, ['npm run build   (when running from a clone)', 'sagewai-obs serve   (start it yourself and pass --backend-url)']);
    }
    backendUrl = backend.url;
    token = o.token ?? backend.operatorToken;
    o.say(`backend on ${backendUrl} (pid ${backend.pid}, log ${backend.record.logFile})`);
  }
  return {
    stateDir: ep.stateDir,
    vmUrl,
    vlUrl,
    backendUrl,
    backendUrls: explicit && explicit.length > 1 ? explicit : [backendUrl],
    token,
    started: { stack: stackStarted, backend: backend !== undefined },
    startedBackend: backend?.record,
    async release(keep: boolean) {
      if (keep) {
        backend?.keep();
        return;
      }
      // The backend first: its last telemetry export still reaches the stack's collector.
      if (backend) await backend.stopAndForget();
      if (stackStarted) await downNative({ stateDir: ep.stateDir });
    },
  };
}
