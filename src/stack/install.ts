import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { execa } from 'execa';
import { lineSteps, type Steps } from '../ui/progress.js';
import { UserError, describeCause } from '../errors.js';
import {
  EXPLICIT_BIN,
  INSTALLABLES,
  checkCacheEntry,
  explicitBinary,
  findOnPath,
  manifestPath,
  placeInCache,
  resolveCacheDir,
  sha256File,
} from './binaries.js';
import { COLLECTOR_BUILDER, PINNED, PINNED_RELEASE_SHA256, RELEASES, type InstallableName } from './versions.js';

export type InstallSource = 'explicit' | 'cache' | 'path' | 'download' | 'build';

export interface InstallOptions {
  cacheDir?: string | undefined;
  /** Reinstall even when a sound cache entry exists. */
  force?: boolean | undefined;
  binaries?: Partial<Record<InstallableName, string | undefined>> | undefined;
  /** Base URL of release archives (one directory holding every archive), instead of the official release pages. */
  releaseBaseUrl?: string | undefined;
  /** archive name → SHA-256, on top of the pinned ones (from a sha256sum-format checksums file). */
  checksums?: Readonly<Record<string, string>> | undefined;
  /** Skip the release download step. */
  noDownload?: boolean | undefined;
  /** Skip the PATH step (tests, and users who want the pinned build whatever is installed). */
  skipPath?: boolean | undefined;
  onProgress?: ((line: string) => void) | undefined;
  /** Steps with their elapsed time (a terminal renderer); without it, steps become onProgress lines. */
  steps?: Steps | undefined;
}

export interface InstalledComponent {
  component: InstallableName;
  version: string;
  path: string;
  source: InstallSource;
  /** false when the cache already held a sound copy and nothing was done. */
  changed: boolean;
  ms: number;
}

export interface InstallResult {
  cacheDir: string;
  alreadyInstalled: boolean;
  components: InstalledComponent[];
}

/** Reads a sha256sum-format file ("<hex>  <name>" per line) into archive name → hash. */
export function parseChecksumsFile(file: string): Record<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read checksums file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'pass a sha256sum-format file to --release-checksums');
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m) out[path.basename(m[2] as string)] = (m[1] as string).toLowerCase();
  }
  if (Object.keys(out).length === 0) throw new UserError(`checksums file ${file} holds no "<sha256>  <file name>" lines`, 'pass a sha256sum-format file to --release-checksums');
  return out;
}

function goArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

async function hasGo(): Promise<boolean> {
  const r = await execa('go', ['version'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0;
}

class StepFailed extends Error {}

/** Download step: fetch the official (or mirrored) archive, check its SHA-256, unpack the binary. */
async function downloadRelease(component: Exclude<InstallableName, 'collector'>, cacheDir: string, options: InstallOptions, st: Steps): Promise<string | undefined> {
  const rel = RELEASES[component];
  const archive = rel.archive(goArch());
  const expected = options.checksums?.[archive] ?? PINNED_RELEASE_SHA256[archive];
  const base = (options.releaseBaseUrl ?? rel.defaultBaseUrl).replace(/\/+$/, '');
  const url = `${base}/${archive}`;
  if (!expected) {
    st.note(`  download: skipped, no SHA-256 pinned for ${archive} (pass --release-checksums <file> to allow it)`);
    return undefined;
  }
  st.note(`  download: ${url}`);
  const end = st.begin(`${component}: downloading ${archive}`);
  let ok = false;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-dl-'));
  try {
    const file = path.join(tmp, archive);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(300_000), redirect: 'follow' });
    } catch (err) {
      throw new StepFailed(`download of ${url} failed: ${describeCause(err)}`);
    }
    if (!res.ok || !res.body) throw new StepFailed(`download of ${url} failed: HTTP ${res.status}`);
    const hash = createHash('sha256');
    const out = fs.createWriteStream(file);
    await pipeline(
      Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>),
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      out,
    );
    const actual = hash.digest('hex');
    if (actual !== expected.toLowerCase()) {
      throw new UserError(`checksum mismatch for ${archive} from ${url}: expected SHA-256 ${expected}, got ${actual}; nothing was installed`, [
        'retry later (a truncated or tampered download), or check the mirror given by --release-base-url',
        'sagewai-obs stack install --no-download (builds from the Go module proxy instead)',
      ]);
    }
    const unpack = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpack);
    const tar = await execa('tar', ['-xzf', file, '-C', unpack], { reject: false });
    if (tar.exitCode !== 0) throw new StepFailed(`unpacking ${archive} failed: ${tar.stderr.trim()}`);
    const bin = path.join(unpack, rel.binaryInArchive);
    if (!fs.existsSync(bin)) throw new StepFailed(`${archive} holds no ${rel.binaryInArchive}`);
    const placed = placeInCache(cacheDir, component, bin, { move: true });
    ok = true;
    return placed;
  } finally {
    end(ok ? { detail: `${component}: downloaded ${archive} (SHA-256 checked)` } : { ok: false });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** `go install pkg@version` into a temporary GOBIN; returns the built file. */
async function goInstall(pkg: string, version: string, gobin: string, st: Steps): Promise<string> {
  st.note(`  build: go install -trimpath ${pkg}@${version}`);
  const end = st.begin(`building ${path.basename(pkg)} ${version} with go install (minutes when the Go cache is cold)`);
  // -trimpath: no path of the build machine may reach a binary, its panics or its own metric labels.
  const r = await execa('go', ['install', '-trimpath', `${pkg}@${version}`], { env: { GOBIN: gobin, GOFLAGS: process.env.GOFLAGS ?? '' }, reject: false, all: true });
  end(r.exitCode === 0 ? { detail: `built ${path.basename(pkg)} ${version}` } : { ok: false });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').trim().split('\n').slice(-3).join(' | ');
    throw new StepFailed(`go install ${pkg}@${version} failed: ${tail}`);
  }
  const file = path.join(gobin, path.basename(pkg));
  if (!fs.existsSync(file)) throw new StepFailed(`go install ${pkg}@${version} produced no ${path.basename(pkg)}`);
  return file;
}

/** The collector builder, itself cached next to the binaries (it is only needed to build). */
async function ensureBuilder(cacheDir: string, st: Steps): Promise<string> {
  const dest = path.join(cacheDir, `${COLLECTOR_BUILDER.binary}-${COLLECTOR_BUILDER.version}`);
  if (fs.existsSync(dest) && fs.existsSync(`${dest}.sha256`) && fs.readFileSync(`${dest}.sha256`, 'utf8').startsWith(sha256File(dest))) return dest;
  const gobin = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-gobin-'));
  try {
    const built = await goInstall(COLLECTOR_BUILDER.goPackage, COLLECTOR_BUILDER.version, gobin, st);
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}`;
    fs.copyFileSync(built, tmp);
    fs.chmodSync(tmp, 0o755);
    fs.writeFileSync(`${dest}.sha256`, `${sha256File(tmp)}  ${path.basename(dest)}\n`);
    fs.renameSync(tmp, dest);
    return dest;
  } finally {
    fs.rmSync(gobin, { recursive: true, force: true });
  }
}

async function buildFromSource(component: InstallableName, cacheDir: string, st: Steps): Promise<string> {
  if (component !== 'collector') {
    const gobin = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-gobin-'));
    try {
      const built = await goInstall(PINNED[component].goPackage, PINNED[component].version, gobin, st);
      return placeInCache(cacheDir, component, built, { move: true });
    } finally {
      fs.rmSync(gobin, { recursive: true, force: true });
    }
  }
  const builder = await ensureBuilder(cacheDir, st);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-ocb-'));
  try {
    fs.copyFileSync(manifestPath(), path.join(work, 'manifest.yaml'));
    st.note(`  build: ${path.basename(builder)} --config manifest.yaml`);
    const end = st.begin('building the collector with the OpenTelemetry collector builder (a few minutes cold)');
    const r = await execa(builder, ['--config', 'manifest.yaml'], { cwd: work, reject: false, all: true });
    end(r.exitCode === 0 ? { detail: `built the collector ${PINNED.collector.version}` } : { ok: false });
    if (r.exitCode !== 0) {
      const tail = (r.all ?? '').trim().split('\n').slice(-3).join(' | ');
      throw new StepFailed(`the collector builder failed: ${tail}`);
    }
    const built = path.join(work, 'build', PINNED.collector.binary);
    if (!fs.existsSync(built)) throw new StepFailed(`the collector builder produced no ${PINNED.collector.binary}`);
    return placeInCache(cacheDir, component, built, { move: true });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function installOne(component: InstallableName, cacheDir: string, options: InstallOptions, st: Steps): Promise<InstalledComponent> {
  const say = (line: string): void => st.note(line);
  const started = Date.now();
  const done = (p: string, source: InstallSource, changed: boolean): InstalledComponent => ({ component, version: PINNED[component].version, path: p, source, changed, ms: Date.now() - started });

  const explicit = explicitBinary(component, options.binaries?.[component]);
  if (explicit) {
    say(`${component}: copying ${explicit} into the cache`);
    return done(placeInCache(cacheDir, component, explicit), 'explicit', true);
  }
  const entry = checkCacheEntry(cacheDir, component);
  if (entry.state === 'ok' && !options.force) {
    say(`${component}: already installed (${entry.file})`);
    return done(entry.file, 'cache', false);
  }
  if (entry.state === 'corrupt') say(`${component}: cache entry ${entry.file} is corrupted (${entry.reason}); reinstalling`);
  else say(`${component}: installing ${PINNED[component].version}`);

  const failures: string[] = [];
  if (!options.skipPath) {
    const onPath = await findOnPath(component);
    if (onPath) {
      say(`  PATH: ${onPath} reports ${PINNED[component].version}; copying it into the cache`);
      return done(placeInCache(cacheDir, component, onPath), 'path', true);
    }
  }
  if (component !== 'collector' && !options.noDownload) {
    try {
      const file = await downloadRelease(component, cacheDir, options, st);
      if (file) return done(file, 'download', true);
    } catch (err) {
      if (!(err instanceof StepFailed)) throw err;
      failures.push(`download: ${err.message}`);
      say(`  download failed: ${err.message}; falling back to a build`);
    }
  }
  if (!(await hasGo())) {
    failures.push('build: no Go toolchain (`go`) on PATH');
    throw new UserError(`could not install ${component}: ${failures.join('; ')}`, [
      'install Go (https://go.dev/dl/) and run sagewai-obs stack install again',
      `or pass an existing binary: sagewai-obs stack install --${EXPLICIT_BIN[component].flag} <path>`,
    ]);
  }
  try {
    return done(await buildFromSource(component, cacheDir, st), 'build', true);
  } catch (err) {
    if (!(err instanceof StepFailed)) throw err;
    failures.push(`build: ${err.message}`);
    throw new UserError(`could not install ${component}: ${failures.join('; ')}`, [
      'check that the Go module proxy is reachable (go env GOPROXY) and run sagewai-obs stack install again',
      `or pass an existing binary: sagewai-obs stack install --${EXPLICIT_BIN[component].flag} <path>`,
    ]);
  }
}

/**
 * Puts the pinned collector, VictoriaMetrics and VictoriaLogs into the cache: explicit path →
 * cache → PATH (version checked) → release download (SHA-256 checked) → Go module proxy build.
 * Idempotent: with a sound cache it changes nothing.
 */
export async function installStack(options: InstallOptions = {}): Promise<InstallResult> {
  const cacheDir = resolveCacheDir(options.cacheDir);
  const st = options.steps ?? lineSteps(options.onProgress ?? (() => undefined));
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.accessSync(cacheDir, fs.constants.W_OK);
  } catch (err) {
    throw new UserError(`cache directory ${cacheDir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'sagewai-obs stack install --cache-dir <a directory you can write>');
  }
  const components: InstalledComponent[] = [];
  for (const c of INSTALLABLES) components.push(await installOne(c, cacheDir, options, st));
  return { cacheDir, alreadyInstalled: components.every((c) => !c.changed), components };
}
