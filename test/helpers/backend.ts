import fs from 'node:fs';
import { spawnBackend } from '../../src/backend/spawn.js';

/**
 * Spawns the built CLI's `serve --port 0` (run `npm run build` first) in a temporary state dir.
 * Without `otlpHttp` the backend's telemetry is off (OTEL_SDK_DISABLED=true); with it, the
 * backend exports to that OTLP/HTTP endpoint every 500 ms.
 */
export interface TestBackend {
  url: string;
  pid: number;
  dataDir: string;
  stateDir: string;
  operatorToken: string;
  /** null while it runs; otherwise its exit code, or the signal that ended it. */
  exited(): number | string | null;
  /** The last 4,000 characters of its stderr. */
  stderrTail(): string;
  /** SIGTERM (drain + flush), then remove the temp state dir (a caller's own dataDir is kept). */
  stop(): Promise<void>;
  /** SIGKILL, keep the data dir (for restart tests). */
  kill(): Promise<void>;
}

export interface TestBackendOptions {
  otlpHttp?: string;
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  args?: string[];
}

export async function startTestBackend(opts: TestBackendOptions = {}): Promise<TestBackend> {
  const env: NodeJS.ProcessEnv = { SAGEWAI_OBS_LATENCY_SCALE: '0.1', ...opts.env };
  if (opts.otlpHttp) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = opts.otlpHttp;
    env.OTEL_METRIC_EXPORT_INTERVAL ??= '500';
    env.OTEL_SDK_DISABLED = 'false';
  } else {
    env.OTEL_SDK_DISABLED = 'true';
  }
  const b = await spawnBackend({ ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), env, ...(opts.args ? { args: opts.args } : {}) });
  const ownsData = opts.dataDir === undefined;
  return {
    url: b.url,
    pid: b.pid,
    dataDir: b.dataDir,
    stateDir: b.stateDir,
    operatorToken: b.operatorToken,
    exited: () => b.child.exitCode ?? b.child.signalCode ?? null,
    stderrTail: () => b.stderrTail(),
    stop: async () => {
      await b.stop();
      fs.rmSync(b.stateDir, { recursive: true, force: true });
      if (ownsData) return;
    },
    kill: async () => {
      await b.kill();
    },
  };
}
