import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { cacheFileName, checkCacheEntry, placeInCache, sha256File } from '../src/stack/binaries.js';
import { parseChecksumsFile } from '../src/stack/install.js';
import { commandLine, stackEnv } from '../src/stack/native.js';
import { DEFAULT_PORTS, assertPortsFree, freePort, withDefaults } from '../src/stack/ports.js';
import { readStackRecord } from '../src/stack/state.js';
import { spawn } from 'node:child_process';
import { pidAlive, stopPid } from '../src/stack/process.js';
import { PINNED } from '../src/stack/versions.js';
import { assetsDir } from '../src/paths.js';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-stack-unit-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('binary cache entries', () => {
  it('are named as docs/CONTRACT.md says; the collector name carries the manifest hash', () => {
    const manifestSha = sha256File(path.join(assetsDir(), 'collector', 'manifest.yaml'));
    expect(cacheFileName('collector')).toBe(`sagewai-otelcol-0.161.0-${manifestSha.slice(0, 12)}`);
    expect(cacheFileName('victoria-metrics')).toBe('victoria-metrics-v1.151.0');
    expect(cacheFileName('victoria-logs')).toBe('victoria-logs-v1.52.1');
  });

  it('are sound only while the file matches the .sha256 written at install time', () => {
    const cache = path.join(tmp, 'cache');
    const src = path.join(tmp, 'vm-binary');
    fs.writeFileSync(src, '#!/bin/sh\necho hello\n');
    expect(checkCacheEntry(cache, 'victoria-metrics').state).toBe('missing');
    const placed = placeInCache(cache, 'victoria-metrics', src);
    expect(checkCacheEntry(cache, 'victoria-metrics')).toEqual({ state: 'ok', file: placed });
    expect(fs.statSync(placed).mode & 0o111).not.toBe(0);
    expect(fs.existsSync(src)).toBe(true); // copied, not moved

    fs.appendFileSync(placed, 'tampered');
    expect(checkCacheEntry(cache, 'victoria-metrics')).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/SHA-256/) });
    placeInCache(cache, 'victoria-metrics', src);
    fs.rmSync(`${placed}.sha256`);
    expect(checkCacheEntry(cache, 'victoria-metrics')).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/\.sha256/) });
    expect(fs.readdirSync(cache).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('hash again whenever the file changed since it last matched, even at the same size', () => {
    const cache = path.join(tmp, 'cache-stamp');
    const src = path.join(tmp, 'vm-binary-stamp');
    fs.writeFileSync(src, '#!/bin/sh\necho hello\n');
    const placed = placeInCache(cache, 'victoria-metrics', src);
    expect(checkCacheEntry(cache, 'victoria-metrics').state).toBe('ok');
    expect(fs.existsSync(`${placed}.verified`)).toBe(true);
    const good = fs.readFileSync(placed);
    const flipped = Buffer.from(good);
    flipped.writeUInt8((flipped.readUInt8(flipped.length - 2) ^ 1) & 0xff, flipped.length - 2);
    fs.writeFileSync(placed, flipped);
    expect(checkCacheEntry(cache, 'victoria-metrics')).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/SHA-256/) });
    fs.writeFileSync(placed, good);
    expect(checkCacheEntry(cache, 'victoria-metrics').state).toBe('ok');
    // A stamp for another hash (the sidecar was rewritten) is not trusted either.
    fs.writeFileSync(`${placed}.sha256`, `${'0'.repeat(64)}  ${path.basename(placed)}\n`);
    expect(checkCacheEntry(cache, 'victoria-metrics')).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/SHA-256/) });
    expect(fs.readdirSync(cache).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('parseChecksumsFile', () => {
  it('reads sha256sum format, including the binary-mode star and paths', () => {
    const f = path.join(tmp, 'sums.txt');
    const a = 'a'.repeat(64);
    const b = 'B'.repeat(64);
    fs.writeFileSync(f, `${a}  victoria-metrics-linux-amd64-v1.151.0.tar.gz\n${b} *dist/victoria-logs-linux-amd64-v1.52.1.tar.gz\n\n`);
    expect(parseChecksumsFile(f)).toEqual({ 'victoria-metrics-linux-amd64-v1.151.0.tar.gz': a, 'victoria-logs-linux-amd64-v1.52.1.tar.gz': 'b'.repeat(64) });
  });
  it('rejects a file with no checksum lines, or no file, as a user error', () => {
    const f = path.join(tmp, 'empty.txt');
    fs.writeFileSync(f, 'not a checksum\n');
    expect(() => parseChecksumsFile(f)).toThrow(UserError);
    expect(() => parseChecksumsFile(path.join(tmp, 'nope.txt'))).toThrow(/cannot read checksums file/);
  });
});

describe('ports', () => {
  it('default to the contract', () => {
    expect(DEFAULT_PORTS).toEqual({ otlpGrpc: 4317, otlpHttp: 4318, promExporter: 8889, collectorMetrics: 8888, collectorHealth: 13133, vm: 8428, vl: 9428, vmalert: 8880, grafana: 3000 });
    expect(withDefaults({ vm: 1234, vl: undefined })).toMatchObject({ vm: 1234, vl: 9428 });
  });
  it('a taken port or a port given twice is refused with the flag to change it', async () => {
    const port = await freePort();
    const srv = net.createServer().listen(port, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    try {
      const ports = { ...DEFAULT_PORTS, vl: port };
      await expect(assertPortsFree(ports, ['vl'])).rejects.toThrow(new RegExp(`port ${port} \\(VictoriaLogs\\)`));
      const err = (await assertPortsFree(ports, ['vl']).catch((e: unknown) => e)) as UserError;
      expect(err.tryThis[0]).toBe('sagewai-obs up --vl-port <free port>');
    } finally {
      srv.close();
    }
    await expect(assertPortsFree({ ...DEFAULT_PORTS, vm: 5000, vl: 5000 }, ['vm', 'vl'])).rejects.toThrow(/given to both/);
  });
});

describe('native component configuration', () => {
  it('binds every listener to 127.0.0.1 and keeps fresh samples queryable', () => {
    const env = stackEnv(DEFAULT_PORTS);
    for (const [k, v] of Object.entries(env)) if (k !== 'SAGEWAI_COLLECTOR_METRICS_PORT') expect(v, k).toMatch(/^(http:\/\/)?127\.0\.0\.1(:|$)/);
    const vm = commandLine('victoria-metrics', DEFAULT_PORTS, '/data');
    expect(vm).toContain('-httpListenAddr=127.0.0.1:8428');
    expect(vm).toContain('-search.latencyOffset=1s');
    // No cached "no series" answer hides a new tenant's first samples (docs/stack.md → Freshness).
    expect(vm).toContain('-storage.cacheSizeIndexDBTagFilters=1');
    // vmalert re-recording an hour after a restart must not count twice in `cost` (docs/alerts.md).
    expect(vm).toContain('-dedup.minScrapeInterval=1ms');
    expect(commandLine('victoria-logs', DEFAULT_PORTS, '/data')).toContain('-httpListenAddr=127.0.0.1:9428');
  });
  it('the collector config reads every address from the env vars the runtime sets, and never the default 0.0.0.0:8888', () => {
    const noComments = (text: string) => text.replace(/^\s*#.*$/gm, '');
    const config = noComments(fs.readFileSync(path.join(assetsDir(), 'collector', 'config.yaml'), 'utf8'));
    const used = [...config.matchAll(/\$\{env:(\w+)\}/g)].map((m) => m[1]);
    expect(new Set(used)).toEqual(new Set(Object.keys(stackEnv(DEFAULT_PORTS)).filter((k) => !k.endsWith('_TARGET'))));
    const scrape = noComments(fs.readFileSync(path.join(assetsDir(), 'victoria-metrics', 'scrape.yaml'), 'utf8'));
    for (const m of scrape.matchAll(/%\{(\w+)\}/g)) expect(Object.keys(stackEnv(DEFAULT_PORTS))).toContain(m[1]);
    expect(config).not.toMatch(/0\.0\.0\.0|:8888/);
  });
  it('pins one collector release in versions.ts and the manifest', () => {
    const manifest = fs.readFileSync(path.join(assetsDir(), 'collector', 'manifest.yaml'), 'utf8');
    const versions = [...manifest.matchAll(/gomod: \S+ (v\S+)/g)].map((m) => m[1]);
    expect(new Set(versions.filter((v) => v?.startsWith('v0.')))).toEqual(new Set([`v${PINNED.collector.version}`]));
  });
});

describe('readStackRecord', () => {
  it('is undefined without a record and a user error for a damaged one', () => {
    const dir = path.join(tmp, 'state');
    fs.mkdirSync(dir);
    expect(readStackRecord(dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'stack.json'), '{}');
    expect(() => readStackRecord(dir)).toThrow(UserError);
  });
});

describe('stopPid', () => {
  it('sends SIGTERM, and SIGKILL to a process that ignores it, until the PID is gone', async () => {
    const polite = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const stubborn = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); process.stdout.write('ready\\n')"], { stdio: ['ignore', 'pipe', 'ignore'] });
    // Only once its SIGTERM handler is installed (a fixed sleep lost that race on a busy machine).
    await new Promise<void>((resolve) => stubborn.stdout?.once('data', () => resolve()));
    const [a, b] = await Promise.all([stopPid(polite.pid as number, 3000), stopPid(stubborn.pid as number, 500)]);
    expect(a).toBe('terminated');
    expect(b).toBe('killed');
    expect(pidAlive(polite.pid)).toBe(false);
    expect(pidAlive(stubborn.pid)).toBe(false);
    expect(await stopPid(polite.pid as number)).toBe('not-running');
  });
});
