import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downNative, upNative } from '../../src/stack/native.js';
import { freePort, freePorts } from '../../src/stack/ports.js';
import { DEFAULT_CLUSTER_PORTS, type ClusterPorts } from '../../src/stack/cluster.js';
import type { StackRecord } from '../../src/stack/state.js';

export interface TestStack {
  endpoints: StackRecord['endpoints'];
  stateDir: string;
  record: StackRecord;
  stop(): Promise<void>;
}

/** Free loopback ports for the cluster profile's own processes. */
async function freeClusterPorts(): Promise<ClusterPorts> {
  const out = {} as ClusterPorts;
  const seen = new Set<number>();
  for (const k of Object.keys(DEFAULT_CLUSTER_PORTS) as (keyof ClusterPorts)[]) {
    let p = await freePort();
    while (seen.has(p)) p = await freePort();
    seen.add(p);
    out[k] = p;
  }
  return out;
}

/**
 * Starts the real collector, VictoriaMetrics, VictoriaLogs and vmalert from the binary cache
 * (`npm run stack:install` fills it) on free loopback ports with a temporary state dir.
 * stop() kills the processes by PID and removes the directory.
 */
export async function startTestStack(options: { healthTimeoutMs?: number; alertWebhookUrl?: string; profile?: 'cluster' } = {}): Promise<TestStack> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-stack-'));
  let lastErr: unknown;
  // A free port found now can be taken by a parallel test before we bind it: retry on that.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const cluster = options.profile === 'cluster' ? { profile: 'cluster' as const, clusterPorts: await freeClusterPorts() } : {};
      const { record } = await upNative({ stateDir, ports: await freePorts(), healthTimeoutMs: options.healthTimeoutMs ?? 60_000, alertWebhookUrl: options.alertWebhookUrl, ...cluster });
      let stopped = false;
      // A test run that ends without stop() (a crash, a forgotten afterAll) must not leave daemons behind.
      const pids = [...Object.values(record.components), ...Object.values(record.cluster?.processes ?? {})].map((c) => c.pid);
      const killOnExit = () => {
        for (const pid of pids) {
          try {
            if (pid) process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      };
      process.once('exit', killOnExit);
      return {
        endpoints: record.endpoints,
        stateDir,
        record,
        async stop() {
          if (stopped) return;
          stopped = true;
          process.removeListener('exit', killOnExit);
          await downNative({ stateDir, purge: true, timeoutMs: 5000 });
          fs.rmSync(stateDir, { recursive: true, force: true });
        },
      };
    } catch (err) {
      lastErr = err;
      if (!/already in use|not healthy|exited/.test(String((err as Error).message))) break;
    }
  }
  fs.rmSync(stateDir, { recursive: true, force: true });
  const e = lastErr as Error & { tryThis?: readonly string[] };
  throw new Error(`startTestStack: ${e.message}${e.tryThis ? ` (try: ${e.tryThis.join('; ')})` : ''}`, { cause: lastErr });
}
