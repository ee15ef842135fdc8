import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository/package root (where assets/ lives), from this file's location in src/ or dist/src/. */
export function packageRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/paths.ts → root is one up; dist/src/paths.js → two up.
  return path.basename(path.dirname(here)) === 'dist' ? path.resolve(here, '..', '..') : path.resolve(here, '..');
}

export function assetsDir(): string {
  return path.join(packageRoot(), 'assets');
}

/** Binary cache shared by every clone and CI run: $XDG_CACHE_HOME/sagewai-obs/bin. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'sagewai-obs', 'bin');
}

/** Runtime state (PIDs, data directories, logs, recorded endpoints): $XDG_STATE_HOME/sagewai-obs. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_STATE_HOME && env.XDG_STATE_HOME.length > 0 ? env.XDG_STATE_HOME : path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'sagewai-obs');
}

export function defaultConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.length > 0 ? env.XDG_CONFIG_HOME : path.join(os.homedir(), '.config');
  return path.join(base, 'sagewai-obs', 'config.json');
}
