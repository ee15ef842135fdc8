import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { packageRoot } from '../src/paths.js';
import { cacheFileName, checkCacheEntry, resolveCacheDir } from '../src/stack/binaries.js';
import { installStack } from '../src/stack/install.js';
import { RELEASES } from '../src/stack/versions.js';

/**
 * The download step of `stack install` against a release mirror on loopback serving a real
 * .tar.gz of the real VictoriaMetrics binary (from the cache `npm run stack:install` filled).
 */
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const arch = process.arch === 'x64' ? 'amd64' : process.arch;
const archive = RELEASES['victoria-metrics'].archive(arch);

let tmp: string;
let server: http.Server;
let baseUrl: string;
let realVm: string;
let realCollector: string;
let realVmalert: string;
let realVmagent: string;
let realVmauth: string;
let realVl: string;
let archiveSha: string;
let requests = 0;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), ...args], { env, timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  const cache = resolveCacheDir();
  realVm = path.join(cache, cacheFileName('victoria-metrics'));
  realVl = path.join(cache, cacheFileName('victoria-logs'));
  realCollector = path.join(cache, cacheFileName('collector'));
  realVmalert = path.join(cache, cacheFileName('vmalert'));
  realVmagent = path.join(cache, cacheFileName('vmagent'));
  realVmauth = path.join(cache, cacheFileName('vmauth'));
  for (const c of ['collector', 'victoria-metrics', 'victoria-logs', 'vmalert', 'vmagent', 'vmauth'] as const) {
    if (checkCacheEntry(cache, c).state !== 'ok') throw new Error(`the ${c} binary is not cached in ${cache}: run npm run stack:install first`);
  }

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-install-'));
  const staging = path.join(tmp, 'staging');
  fs.mkdirSync(staging);
  fs.copyFileSync(realVm, path.join(staging, RELEASES['victoria-metrics'].binaryInArchive));
  fs.chmodSync(path.join(staging, RELEASES['victoria-metrics'].binaryInArchive), 0o755);
  const archivePath = path.join(tmp, archive);
  await new Promise<void>((resolve, reject) =>
    execFile('tar', ['-czf', archivePath, '-C', staging, RELEASES['victoria-metrics'].binaryInArchive], (err) => (err ? reject(err) : resolve())),
  );
  archiveSha = sha256(archivePath);
  server = http.createServer((req, res) => {
    requests++;
    if (req.url === `/releases/${archive}`) {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      fs.createReadStream(archivePath).pipe(res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('stack install: release download with SHA-256 check', () => {
  const others = () => ({ collector: realCollector, 'victoria-logs': realVl, vmalert: realVmalert, vmagent: realVmagent, vmauth: realVmauth });

  it('downloads, verifies and unpacks the archive into the cache; a second run does nothing', async () => {
    const cacheDir = path.join(tmp, 'cache-ok');
    const progress: string[] = [];
    const first = await installStack({ cacheDir, binaries: others(), releaseBaseUrl: baseUrl, checksums: { [archive]: archiveSha }, skipPath: true, onProgress: (l) => progress.push(l) });
    const vm = first.components.find((c) => c.component === 'victoria-metrics');
    expect(vm).toMatchObject({ source: 'download', changed: true });
    expect(sha256(vm?.path ?? '')).toBe(sha256(realVm));
    expect(checkCacheEntry(cacheDir, 'victoria-metrics').state).toBe('ok');
    expect(progress.join('\n')).toContain(`${baseUrl}/${archive}`);

    const before = requests;
    const mtime = fs.statSync(vm?.path ?? '').mtimeMs;
    const second = await installStack({ cacheDir, releaseBaseUrl: baseUrl, checksums: { [archive]: archiveSha }, skipPath: true });
    expect(second.alreadyInstalled).toBe(true);
    expect(second.components.every((c) => c.source === 'cache' && !c.changed)).toBe(true);
    expect(requests).toBe(before);
    expect(fs.statSync(vm?.path ?? '').mtimeMs).toBe(mtime);
  });

  it('refuses an archive whose SHA-256 does not match, and caches nothing', async () => {
    const cacheDir = path.join(tmp, 'cache-bad');
    const wrong = archiveSha.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const err = await installStack({ cacheDir, binaries: others(), releaseBaseUrl: baseUrl, checksums: { [archive]: wrong }, skipPath: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`checksum mismatch for ${archive}`);
    expect((err as Error).message).toContain(`got ${archiveSha}`);
    expect(checkCacheEntry(cacheDir, 'victoria-metrics').state).toBe('missing');
    expect(fs.readdirSync(cacheDir).filter((f) => f.startsWith('victoria-metrics'))).toEqual([]);
  });

  it('through the CLI: a mismatch is exit 2 with "Try this:"; a corrupted entry is reinstalled', async () => {
    const cacheDir = path.join(tmp, 'cache-cli');
    const sums = path.join(tmp, 'checksums.txt');
    const common = ['stack', 'install', '--cache-dir', cacheDir, '--collector-bin', realCollector, '--vl-bin', realVl, '--vmalert-bin', realVmalert, '--vmagent-bin', realVmagent, '--vmauth-bin', realVmauth, '--release-base-url', baseUrl, '--release-checksums', sums, '--no-path'];
    fs.writeFileSync(sums, `${'ab'.repeat(32)}  ${archive}\n`);
    const bad = await runCli(common);
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toMatch(/^Error: checksum mismatch/m);
    expect(bad.stderr).toMatch(/^Try this: /m);

    fs.writeFileSync(sums, `${archiveSha}  ${archive}\n`);
    const good = await runCli([...common, '--json']);
    expect(good.code, good.stderr).toBe(0);
    const result = JSON.parse(good.stdout) as { components: { component: string; source: string }[] };
    expect(result.components.find((c) => c.component === 'victoria-metrics')?.source).toBe('download');

    // Truncate the cached binary: the sidecar hash no longer matches, install notices and repairs it.
    const entry = path.join(cacheDir, cacheFileName('victoria-metrics'));
    fs.truncateSync(entry, 1000);
    expect(checkCacheEntry(cacheDir, 'victoria-metrics').state).toBe('corrupt');
    const repaired = await runCli(['stack', 'install', '--cache-dir', cacheDir, '--release-base-url', baseUrl, '--release-checksums', sums, '--no-path']);
    expect(repaired.code, repaired.stderr).toBe(0);
    expect(repaired.stderr).toMatch(/victoria-metrics: cache entry .* is corrupted .*; reinstalling/);
    expect(sha256(entry)).toBe(sha256(realVm));

    const again = await runCli(['stack', 'install', '--cache-dir', cacheDir, '--no-path', '--no-download']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/already installed .* nothing to do/);
  });
});
