import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { downNative, upNative } from '../../src/stack/native.js';
import { freePorts } from '../../src/stack/ports.js';
import type { StackRecord } from '../../src/stack/state.js';

export interface TestStack {
  endpoints: StackRecord['endpoints'];
  stateDir: string;
  record: StackRecord;
  stop(): Promise<void>;
}

/**
 * Starts the real collector, VictoriaMetrics, VictoriaLogs and vmalert from the binary cache
 * (`npm run stack:install` fills it) on free loopback ports with a temporary state dir.
 * stop() kills the processes by PID and removes the directory.
 */
export async function startTestStack(options: { healthTimeoutMs?: number; alertWebhookUrl?: string } = {}): Promise<TestStack> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-stack-'));
  let lastErr: unknown;
  // A free port found now can be taken by a parallel test before we bind it: retry on that.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const { record } = await upNative({ stateDir, ports: await freePorts(), healthTimeoutMs: options.healthTimeoutMs ?? 60_000, alertWebhookUrl: options.alertWebhookUrl });
      let stopped = false;
      // A test run that ends without stop() (a crash, a forgotten afterAll) must not leave daemons behind.
      const pids = Object.values(record.components).map((c) => c.pid);
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
