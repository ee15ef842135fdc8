import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { cacheFileName } from '../src/stack/binaries.js';
import { freePort } from '../src/stack/ports.js';

/**
 * Bad input to the stack commands, through the built binary (`npm run build` first): each case
 * is one "Error:" line plus a "Try this:" hint on stderr, nothing on stdout, and exit code 2.
 */
const bin = path.join(packageRoot(), 'bin', 'run.js');
let tmp: string;
let emptyCache: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // PATH keeps node and go but no stack binaries; no SAGEWAI_OBS_* leaks in from the caller.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [bin, ...args], { env: { ...base, SAGEWAI_OBS_CACHE_DIR: emptyCache, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function expectUsageError(r: { code: number; stdout: string; stderr: string }, message: RegExp, hint: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines[0]).toMatch(/^Error: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).toMatch(/^Try this: /m);
  expect(r.stderr).toMatch(hint);
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-cli-'));
  emptyCache = path.join(tmp, 'empty-cache');
  fs.mkdirSync(emptyCache);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('bad input to up / down / status / stack install', { timeout: 60_000 }, () => {
  it('an unknown flag', async () => {
    expectUsageError(await run(['up', '--bogus']), /bogus/, /sagewai-obs up --help/);
    expectUsageError(await run(['stack', 'install', '--frobnicate']), /frobnicate/, /sagewai-obs stack install --help/);
  });

  it('an unknown runtime and an out-of-range port', async () => {
    expectUsageError(await run(['up', '--runtime', 'podman']), /podman/, /--help/);
    expectUsageError(await run(['up', '--vm-port', '99999']), /vm-port|99999/, /--help/);
    expectUsageError(await run(['up', '--vm-port', 'abc']), /vm-port|abc/, /--help/);
  });

  it('a missing binary names stack install, and nothing is started', async () => {
    const state = path.join(tmp, 'state-missing');
    const r = await run(['up', '--runtime', 'native', '--state-dir', state]);
    expectUsageError(r, /collector binary is not installed/, /sagewai-obs stack install/);
    expect(fs.existsSync(path.join(state, 'stack.json'))).toBe(false);
  });

  it('a taken port is refused before anything starts', async () => {
    const taken = await freePort();
    const server = net.createServer().listen(taken, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const state = path.join(tmp, 'state-port');
      // Any executable passes binary resolution; the port check must stop `up` before it is run.
      const bins = ['--collector-bin', process.execPath, '--vm-bin', process.execPath, '--vl-bin', process.execPath, '--vmalert-bin', process.execPath];
      const ports = ['--otlp-grpc-port', String(await freePort()), '--otlp-http-port', String(await freePort()), '--prom-port', String(await freePort())];
      const r = await run(['up', '--runtime', 'native', '--state-dir', state, ...bins, ...ports, '--vm-port', String(taken)]);
      expectUsageError(r, new RegExp(`port ${taken} \\(VictoriaMetrics\\) on 127\\.0\\.0\\.1 is already in use`), /--vm-port <free port>/);
      expect(fs.existsSync(path.join(state, 'stack.json'))).toBe(false);
      expect(fs.existsSync(path.join(state, 'logs'))).toBe(false);
    } finally {
      server.close();
    }
  });

  it('an unwritable state dir', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    expectUsageError(await run(['up', '--runtime', 'native', '--state-dir', path.join(file, 'state')]), /state directory .* is not writable/, /--state-dir/);
  });

  it('a corrupted cache entry says stack install --force', async () => {
    const cache = path.join(tmp, 'corrupt-cache');
    fs.mkdirSync(cache);
    const entry = path.join(cache, cacheFileName('collector'));
    fs.writeFileSync(entry, 'a truncated binary');
    fs.chmodSync(entry, 0o755);
    fs.writeFileSync(`${entry}.sha256`, `${'0'.repeat(64)}  ${path.basename(entry)}\n`);
    const r = await run(['up', '--runtime', 'native', '--state-dir', path.join(tmp, 'state-corrupt'), '--cache-dir', cache]);
    expectUsageError(r, /cached collector binary .* is corrupted: SHA-256/, /sagewai-obs stack install --force/);
    fs.chmodSync(entry, 0o644);
    expectUsageError(await run(['up', '--runtime', 'native', '--state-dir', path.join(tmp, 'state-corrupt'), '--cache-dir', cache]), /corrupted: not executable/, /stack install --force/);
  });

  it('a damaged stack.json', async () => {
    const state = path.join(tmp, 'state-damaged');
    fs.mkdirSync(state);
    fs.writeFileSync(path.join(state, 'stack.json'), '{"runtime": "nat');
    expectUsageError(await run(['status', '--state-dir', state]), /stack\.json is damaged/, /sagewai-obs down/);
  });

  it('errors under --json are {"error": …} on stdout with exit 2', async () => {
    const r = await run(['up', '--runtime', 'native', '--state-dir', path.join(tmp, 'state-json'), '--json']);
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { error: { kind: string; message: string; tryThis: string[] } };
    expect(body.error.kind).toBe('usage');
    expect(body.error.tryThis).toContain('sagewai-obs stack install');
  });

  it('--runtime docker without a Docker engine is refused; auto falls back to native', async () => {
    const noDocker = { PATH: path.join(tmp, 'no-such-dir') }; // the CLI runs on process.execPath, no PATH needed
    const state = path.join(tmp, 'state-docker');
    expectUsageError(await run(['up', '--runtime', 'docker', '--state-dir', state], noDocker), /no Docker engine answers/, /sagewai-obs up --runtime native/);
    expect(fs.existsSync(path.join(state, 'grafana-admin-password'))).toBe(false);
    expectUsageError(await run(['up', '--runtime', 'auto', '--state-dir', state], noDocker), /collector binary is not installed/, /stack install/);
  });

  it('status and down with no stack are not errors', async () => {
    const state = path.join(tmp, 'state-none');
    const s = await run(['status', '--state-dir', state, '--json']);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ running: false, healthy: false, runtime: null });
    const d = await run(['down', '--state-dir', state]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/nothing to stop/);
  });
});
