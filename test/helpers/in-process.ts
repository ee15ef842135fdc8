import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { vi } from 'vitest';
import type { RunningBackend } from '../../src/backend/server.js';
import type { OpenedStore } from '../../src/backend/store.js';
import { packageRoot } from '../../src/paths.js';

/**
 * In-process helpers for command tests: a backend on port 0 over a fresh SQLite store, and an
 * oclif command run with its output captured. The backend modules are imported inside
 * `startInProcessBackend`, not at this module's top, so a test can register its OpenTelemetry
 * providers first (instruments are bound to whatever provider exists when their module loads).
 */
export interface InProcessBackend {
  dir: string;
  store: OpenedStore;
  backend: RunningBackend;
  url: string;
  token: string;
  close(): Promise<void>;
}

export async function startInProcessBackend(opts: { prefix: string; telemetryEnabled?: boolean }): Promise<InProcessBackend> {
  const { startBackend } = await import('../../src/backend/server.js');
  const { openStore } = await import('../../src/backend/store.js');
  const { PriceBook } = await import('../../src/backend/pricebook.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sgo-${opts.prefix}-`));
  const store = openStore(path.join(dir, 'data'));
  const backend = await startBackend({
    db: store.db,
    instanceId: store.instanceId,
    version: 'test',
    priceBook: PriceBook.load(),
    seed: 1,
    failureRates: { rate_limit: 0, timeout: 0, server_error: 0 },
    latencyScale: 0,
    workerLostAfterMs: 60_000,
    telemetryEnabled: opts.telemetryEnabled ?? false,
  });
  return {
    dir,
    store,
    backend,
    url: backend.url,
    token: store.operatorToken,
    close: async () => {
      await backend.close();
      store.db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Runs an oclif command class in-process against `target` (backend URL, token, state dir), output captured. */
export async function runCommand(cmd: { run(argv: string[], opts: string): Promise<unknown> }, argv: string[], target: { url: string; token: string; dir: string }): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += String(c)), true));
  process.exitCode = undefined;
  try {
    await cmd.run([...argv, '--backend-url', target.url, '--token', target.token, '--state-dir', target.dir], packageRoot());
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, stderr, exitCode };
}
