import fs from 'node:fs';
import { UserError } from './errors.js';
import { defaultConfigFile } from './paths.js';

/**
 * Settings resolve flag → env → config file → default in this one place (STYLE 10).
 * The config file is JSON with the same keys as the long flags, e.g. {"vm-url": "http://127.0.0.1:8428"}.
 */
export interface SettingSource {
  flag?: string | undefined;
  env?: string | undefined;
  config?: unknown;
}

export type Validator<T> = (raw: string) => T;

let cachedConfig: { file: string; value: Record<string, unknown> } | undefined;

export function readConfigFile(file = process.env.SAGEWAI_OBS_CONFIG ?? defaultConfigFile()): Record<string, unknown> {
  if (cachedConfig && cachedConfig.file === file) return cachedConfig.value;
  let value: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, 'utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new UserError(`config file ${file} is not valid JSON (${(err as Error).message})`, [`fix or remove ${file}`, 'set SAGEWAI_OBS_CONFIG to another file']);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UserError(`config file ${file} must hold a JSON object`, `fix or remove ${file}`);
    }
    value = parsed as Record<string, unknown>;
  }
  cachedConfig = { file, value };
  return value;
}

/** Resolve one named setting; the validator names the setting and the bad value in its error. */
export function resolveSetting<T>(name: string, envName: string, flagValue: string | undefined, fallback: T, validate: Validator<T>): T {
  if (flagValue !== undefined) return validateNamed(name, `--${name}`, flagValue, validate);
  const envValue = process.env[envName];
  if (envValue !== undefined && envValue !== '') return validateNamed(name, envName, envValue, validate);
  const config = readConfigFile();
  const cv = config[name];
  if (cv !== undefined && cv !== null) return validateNamed(name, `config key "${name}"`, String(cv), validate);
  return fallback;
}

function validateNamed<T>(name: string, source: string, raw: string, validate: Validator<T>): T {
  try {
    return validate(raw);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`invalid ${name} from ${source}: ${JSON.stringify(raw)} (${(err as Error).message})`, `sagewai-obs --help`);
  }
}

export const validators = {
  url(raw: string): string {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new Error('not a URL; expected e.g. http://127.0.0.1:8428');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http:// and https:// URLs are supported');
    return raw.replace(/\/+$/, '');
  },
  port(raw: string): number {
    if (!/^\d+$/.test(raw)) throw new Error('expected a port number 0–65535');
    const n = Number(raw);
    if (n < 0 || n > 65535) throw new Error('expected a port number 0–65535');
    return n;
  },
  text(raw: string): string {
    return raw;
  },
};

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse "30s", "5m", "1h30m", "24h", "7d", or a bare number of seconds, into milliseconds. */
export function parseDuration(raw: string): number {
  const text = raw.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (UNITS[m[2] as string] as number);
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new UserError(`cannot parse duration ${JSON.stringify(raw)}`, 'use a number with a unit, e.g. 30s, 5m, 2h, 7d');
  }
  return Math.round(total);
}
