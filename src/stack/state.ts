import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import type { ComponentName } from './versions.js';
import type { Ports } from './ports.js';
import type { ClusterRecord, Profile } from './cluster.js';

/** What `up` records in <state>/stack.json (docs/CONTRACT.md → StackRecord). */
export interface StackEndpoints {
  otlpHttp: string;
  otlpGrpc: string;
  vmUrl: string;
  vlUrl: string;
  promExporter: string;
  collectorHealth: string;
  collectorMetrics: string;
  /** vmalert's API (alerts, rules); absent in records written before vmalert joined the stack. */
  vmalertUrl?: string;
  grafanaUrl: string | null;
}

export interface ComponentRecord {
  /** null under the docker runtime, where compose owns the process. */
  pid: number | null;
  logFile: string;
  dataDir: string;
  version: string;
  binary?: string;
}

export interface StackRecord {
  runtime: 'native' | 'docker';
  startedAt: string;
  endpoints: StackEndpoints;
  components: Record<ComponentName, ComponentRecord>;
  ports: Ports;
  /** What vmalert was started with, so a restart uses the same rules and notifier. */
  alerting?: AlertingConfig;
  /** `up --profile`; absent = default (records written before profiles existed). */
  profile?: Profile;
  /** The cluster profile's extra processes and URLs (src/stack/cluster.ts). */
  cluster?: ClusterRecord;
}

export interface AlertingConfig {
  /** Rule files (absolute paths or globs): the generated assets/vmalert/*.yml plus any given by `up --rules`. */
  ruleFiles: string[];
  /** Where vmalert posts alerts (Alertmanager API v2); null = nowhere (-notifier.blackhole). */
  notifierUrl: string | null;
}

export function stackRecordPath(stateDir: string): string {
  return path.join(stateDir, 'stack.json');
}

/**
 * A JSON record file of the state dir, or undefined when there is none. Unreadable or damaged
 * (`problem` names what is missing from a parsed value) is a user error with `damagedHints`.
 */
export function readRecordFile<T>(file: string, stateDir: string, problem: (parsed: T) => string | undefined, damagedHints: string[]): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`, `check the permissions of ${stateDir}`);
  }
  try {
    const parsed = JSON.parse(text) as T;
    const wrong = !parsed || typeof parsed !== 'object' ? 'not an object' : problem(parsed);
    if (wrong !== undefined) throw new Error(wrong);
    return parsed;
  } catch (err) {
    throw new UserError(`${file} is damaged (${(err as Error).message})`, damagedHints);
  }
}

/** Writes a JSON record file whole (a temp file renamed over it): a reader never sees half of one. */
export function writeRecordFile(file: string, record: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** The running stack's record, or undefined when there is none. A damaged record is a user error. */
export function readStackRecord(stateDir: string): StackRecord | undefined {
  const file = stackRecordPath(stateDir);
  return readRecordFile<StackRecord>(file, stateDir, (r) => (!r.endpoints || !r.components ? 'missing endpoints/components' : undefined), [`sagewai-obs down --state-dir ${stateDir}`, `remove ${file} if no stack is running`]);
}

export function writeStackRecord(stateDir: string, record: StackRecord): void {
  writeRecordFile(stackRecordPath(stateDir), record);
}

export function removeStackRecord(stateDir: string): void {
  fs.rmSync(stackRecordPath(stateDir), { force: true });
}

export function componentDataDir(stateDir: string, component: ComponentName): string {
  return path.join(stateDir, 'data', component);
}

export function componentLogFile(stateDir: string, component: ComponentName): string {
  return path.join(stateDir, 'logs', `${component}.log`);
}

/** Fail early, with the directory named, when the state directory cannot be created or written. */
export function ensureWritableStateDir(stateDir: string): void {
  try {
    fs.mkdirSync(stateDir, { recursive: true });
    const probe = path.join(stateDir, `.write-probe-${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (err) {
    throw new UserError(`state directory ${stateDir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, [
      'sagewai-obs up --state-dir <a directory you can write>',
      `fix the permissions of ${stateDir}`,
    ]);
  }
}
