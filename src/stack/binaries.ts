import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { assetsDir, defaultCacheDir } from '../paths.js';
import { PINNED, type ComponentName, type InstallableName } from './versions.js';

export const COMPONENTS: readonly ComponentName[] = ['collector', 'victoria-metrics', 'victoria-logs', 'vmalert'];

/** What `stack install` caches: the default stack plus the cluster profile's vmagent and vmauth. */
export const INSTALLABLES: readonly InstallableName[] = [...COMPONENTS, 'vmagent', 'vmauth'];

/** The `stack install` / `up` flag and env var that point at an explicit binary. */
export const EXPLICIT_BIN: Readonly<Record<InstallableName, { flag: string; env: string }>> = {
  collector: { flag: 'collector-bin', env: 'SAGEWAI_OBS_COLLECTOR_BIN' },
  'victoria-metrics': { flag: 'vm-bin', env: 'SAGEWAI_OBS_VM_BIN' },
  'victoria-logs': { flag: 'vl-bin', env: 'SAGEWAI_OBS_VL_BIN' },
  vmalert: { flag: 'vmalert-bin', env: 'SAGEWAI_OBS_VMALERT_BIN' },
  vmagent: { flag: 'vmagent-bin', env: 'SAGEWAI_OBS_VMAGENT_BIN' },
  vmauth: { flag: 'vmauth-bin', env: 'SAGEWAI_OBS_VMAUTH_BIN' },
};

export function manifestPath(): string {
  return path.join(assetsDir(), 'collector', 'manifest.yaml');
}

export function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Cache file names (docs/CONTRACT.md): the collector's carries the manifest's hash, so editing the manifest means a rebuild. */
export function cacheFileName(component: InstallableName): string {
  if (component === 'collector') return `${PINNED.collector.binary}-${PINNED.collector.version}-${sha256File(manifestPath()).slice(0, 12)}`;
  return `${PINNED[component].binary}-${PINNED[component].version}`;
}

export function resolveCacheDir(flagValue?: string): string {
  const v = flagValue ?? process.env.SAGEWAI_OBS_CACHE_DIR;
  return path.resolve(v && v.length > 0 ? v : defaultCacheDir());
}

export type CacheState = { state: 'ok'; file: string } | { state: 'missing'; file: string } | { state: 'corrupt'; file: string; reason: string };

/** A cache entry is sound when it is an executable regular file whose SHA-256 matches the sidecar written at install time. */
export function checkCacheEntry(cacheDir: string, component: InstallableName): CacheState {
  const file = path.join(cacheDir, cacheFileName(component));
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { state: 'missing', file };
  }
  if (!st.isFile()) return { state: 'corrupt', file, reason: 'not a regular file' };
  if ((st.mode & 0o111) === 0) return { state: 'corrupt', file, reason: 'not executable' };
  let expected: string;
  try {
    expected = fs.readFileSync(`${file}.sha256`, 'utf8').trim().split(/\s+/)[0] ?? '';
  } catch {
    return { state: 'corrupt', file, reason: 'its .sha256 record is missing (interrupted install?)' };
  }
  if (verifiedStampMatches(file, st, expected)) return { state: 'ok', file };
  const actual = sha256File(file);
  if (actual !== expected) return { state: 'corrupt', file, reason: `SHA-256 ${actual.slice(0, 12)}… does not match the ${expected.slice(0, 12)}… recorded at install` };
  writeVerifiedStamp(file, st, expected);
  return { state: 'ok', file };
}

/**
 * Hashing the four binaries (~130 MB) took 0.25–0.9 s of every `up` on the 2-core machine. Once
 * a file has hashed to its sidecar's value, `<file>.verified` records its identity then (device,
 * inode, size, mtime and ctime, the last of which no write, rename, chmod or truncate can leave
 * unchanged), and later checks hash again only when any of it differs, as git's index does.
 */
const stampOf = (st: fs.Stats, sha256: string): string => JSON.stringify({ sha256, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });

function verifiedStampMatches(file: string, st: fs.Stats, expected: string): boolean {
  try {
    return fs.readFileSync(`${file}.verified`, 'utf8') === stampOf(st, expected);
  } catch {
    return false;
  }
}

function writeVerifiedStamp(file: string, st: fs.Stats, expected: string): void {
  const tmp = `${file}.verified.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, stampOf(st, expected));
    fs.renameSync(tmp, `${file}.verified`);
  } catch {
    // A read-only cache only costs the hash next time.
    fs.rmSync(tmp, { force: true });
  }
}

export function corruptCacheError(component: InstallableName, entry: { file: string; reason: string }): UserError {
  return new UserError(`the cached ${component} binary ${entry.file} is corrupted: ${entry.reason}`, 'sagewai-obs stack install --force');
}

/** Moves a fresh binary into the cache atomically, with its .sha256 sidecar. */
export function placeInCache(cacheDir: string, component: InstallableName, source: string, options: { move?: boolean } = {}): string {
  fs.mkdirSync(cacheDir, { recursive: true });
  const dest = path.join(cacheDir, cacheFileName(component));
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  if (options.move) {
    try {
      fs.renameSync(source, tmp);
    } catch {
      fs.copyFileSync(source, tmp);
    }
  } else fs.copyFileSync(source, tmp);
  fs.chmodSync(tmp, 0o755);
  const digest = sha256File(tmp);
  fs.writeFileSync(`${tmp}.sha256`, `${digest}  ${path.basename(dest)}\n`);
  fs.rmSync(`${dest}.verified`, { force: true });
  fs.renameSync(tmp, dest);
  fs.renameSync(`${tmp}.sha256`, `${dest}.sha256`);
  return dest;
}

function isExecutableFile(file: string): boolean {
  try {
    const st = fs.statSync(file);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

export function explicitBinary(component: InstallableName, flagValue?: string): string | undefined {
  const v = flagValue ?? process.env[EXPLICIT_BIN[component].env];
  if (!v) return undefined;
  const file = path.resolve(v);
  if (!isExecutableFile(file)) {
    throw new UserError(`${component} binary ${file} (from ${flagValue ? `--${EXPLICIT_BIN[component].flag}` : EXPLICIT_BIN[component].env}) is not an executable file`, [
      `point --${EXPLICIT_BIN[component].flag} at the real binary`,
      'sagewai-obs stack install',
    ]);
  }
  return file;
}

const PATH_NAMES: Readonly<Record<InstallableName, readonly string[]>> = {
  collector: [PINNED.collector.binary],
  'victoria-metrics': ['victoria-metrics', 'victoria-metrics-prod'],
  'victoria-logs': ['victoria-logs', 'victoria-logs-prod'],
  vmalert: ['vmalert', 'vmalert-prod'],
  vmagent: ['vmagent', 'vmagent-prod'],
  vmauth: ['vmauth', 'vmauth-prod'],
};

/**
 * The version a binary reports: `go version -m` (module version of go-built binaries, the only
 * place a `go install`ed VictoriaMetrics records it), else `--version` / `-version` output.
 */
export async function binaryVersionMatches(component: InstallableName, file: string): Promise<boolean> {
  const want = PINNED[component].version;
  const goPkg = component === 'collector' ? undefined : PINNED[component].goPackage;
  if (goPkg) {
    const { execa } = await import('execa');
    const r = await execa('go', ['version', '-m', file], { reject: false, timeout: 10_000 });
    if (r.exitCode === 0) {
      const modPath = goPkg.replace(/\/app\/.*$/, '');
      const line = r.stdout.split('\n').find((l) => l.trim().startsWith('mod\t') || l.trim().startsWith('mod '));
      if (line && line.includes(modPath)) return line.split(/\s+/).includes(want);
    }
  }
  for (const flag of ['--version', '-version']) {
    const { execa } = await import('execa');
    const r = await execa(file, [flag], { reject: false, timeout: 10_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.exitCode === 0 && out.trim().length > 0) return new RegExp(`(^|[^0-9.])${want.replace(/\./g, '\\.')}([^0-9]|$)`).test(out);
  }
  return false;
}

export async function findOnPath(component: InstallableName, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    for (const name of PATH_NAMES[component]) {
      const file = path.join(dir, name);
      if (isExecutableFile(file) && (await binaryVersionMatches(component, file))) return file;
    }
  }
  return undefined;
}

export interface ResolvedBinary {
  component: InstallableName;
  path: string;
  source: 'explicit' | 'cache' | 'path';
}

/**
 * For `up`: an already-installed binary (explicit → cache → PATH). Never downloads or builds;
 * a missing binary names `stack install`, a corrupted cache entry names `stack install --force`.
 */
export async function resolveInstalledBinary(component: InstallableName, options: { cacheDir: string; explicit?: string | undefined }): Promise<ResolvedBinary> {
  const explicit = explicitBinary(component, options.explicit);
  if (explicit) return { component, path: explicit, source: 'explicit' };
  const entry = checkCacheEntry(options.cacheDir, component);
  if (entry.state === 'ok') return { component, path: entry.file, source: 'cache' };
  if (entry.state === 'corrupt') throw corruptCacheError(component, entry);
  const onPath = await findOnPath(component);
  if (onPath) return { component, path: onPath, source: 'path' };
  throw new UserError(`the ${component} binary is not installed (looked for ${entry.file} and on PATH)`, [
    'sagewai-obs stack install',
    `or point --${EXPLICIT_BIN[component].flag} / ${EXPLICIT_BIN[component].env} at one`,
  ]);
}
