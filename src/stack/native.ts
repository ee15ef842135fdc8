import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { assetsDir } from '../paths.js';
import { COMPONENTS, resolveCacheDir, resolveInstalledBinary, type ResolvedBinary } from './binaries.js';
import { waitHealthy } from './health.js';
import { lineSteps, type StepEnd, type Steps } from '../ui/progress.js';
import { assertPortsFree, withDefaults, type Ports } from './ports.js';
import { isOurProcess, spawnDaemon, stopPid, type SpawnedProcess } from './process.js';
import {
  componentDataDir,
  componentLogFile,
  ensureWritableStateDir,
  readStackRecord,
  removeStackRecord,
  writeStackRecord,
  type ComponentRecord,
  type StackEndpoints,
  type StackRecord,
  type AlertingConfig,
} from './state.js';
import { PINNED, type ComponentName, type InstallableName } from './versions.js';
import { alertingConfig, assertRulesValid, vmalertArgs } from './vmalert.js';
import {
  CLUSTER_ROLES,
  ROLE_BINARY,
  assertClusterPortsFree,
  clusterComponentArgs,
  clusterEndpoints,
  clusterEnv,
  clusterPortsWithDefaults,
  clusterRoleArgs,
  liveClusterRoles,
  resolveClusterBinaries,
  roleDataDir,
  roleLogFile,
  roleRecord,
  stopClusterProcesses,
  vmNodeUrls,
  writeClusterConfig,
  clusterConfigDir,
  type ClusterPorts,
  type ClusterRole,
  type Profile,
} from './cluster.js';

export interface UpOptions {
  stateDir: string;
  cacheDir?: string | undefined;
  ports?: Partial<Ports> | undefined;
  /** Explicit binaries (flags); env vars SAGEWAI_OBS_*_BIN are read when absent. */
  binaries?: Partial<Record<InstallableName, string | undefined>> | undefined;
  /** `up --profile`: default (one node each) or cluster (src/stack/cluster.ts). */
  profile?: Profile | undefined;
  /** Ports of the cluster profile's own processes. */
  clusterPorts?: Partial<ClusterPorts> | undefined;
  healthTimeoutMs?: number | undefined;
  onProgress?: ((line: string) => void) | undefined;
  /** Steps with their elapsed time (a terminal renderer); without it, steps become onProgress lines. */
  steps?: Steps | undefined;
  /** Rule files (paths or globs) vmalert loads besides the generated ones (`up --rules`). */
  extraRules?: readonly string[] | undefined;
  /** Alertmanager-compatible URL vmalert posts alerts to (`up --alert-webhook`); none = discard. */
  alertWebhookUrl?: string | undefined;
}

export interface UpResult {
  alreadyRunning: boolean;
  record: StackRecord;
  /** Milliseconds from spawn to a healthy answer, per component (empty when already running). */
  readyMs: Partial<Record<ComponentName | ClusterRole, number>>;
  /** Milliseconds from the start of `up` until VictoriaMetrics' first scrape of every target was up. */
  scrapesUpMs?: number;
}

/** The ports the native runtime binds (Grafana is not started natively). */
export const NATIVE_PORT_KEYS: readonly (keyof Ports)[] = ['otlpGrpc', 'otlpHttp', 'promExporter', 'collectorMetrics', 'collectorHealth', 'vm', 'vl', 'vmalert'];

export function endpointsFor(ports: Ports, grafanaUrl: string | null = null): StackEndpoints {
  return {
    otlpHttp: `http://127.0.0.1:${ports.otlpHttp}`,
    otlpGrpc: `127.0.0.1:${ports.otlpGrpc}`,
    vmUrl: `http://127.0.0.1:${ports.vm}`,
    vlUrl: `http://127.0.0.1:${ports.vl}`,
    promExporter: `http://127.0.0.1:${ports.promExporter}/metrics`,
    collectorHealth: `http://127.0.0.1:${ports.collectorHealth}/`,
    collectorMetrics: `http://127.0.0.1:${ports.collectorMetrics}/metrics`,
    vmalertUrl: `http://127.0.0.1:${ports.vmalert}`,
    grafanaUrl,
  };
}

export function healthUrl(component: ComponentName, endpoints: StackEndpoints, record?: Pick<StackRecord, 'cluster'>): string {
  if (component === 'collector') return endpoints.collectorHealth;
  // Under the cluster profile vmUrl is vmauth; the component is the first VictoriaMetrics node.
  if (component === 'victoria-metrics' && record?.cluster) return `${record.cluster.vmNodes[0] ?? endpoints.vmUrl}/health`;
  if (component === 'vmalert') return `${endpoints.vmalertUrl ?? ''}/health`;
  return `${component === 'victoria-metrics' ? endpoints.vmUrl : endpoints.vlUrl}/health`;
}

/** Environment for the collector config and the VictoriaMetrics scrape config (docs/CONTRACT.md). */
export function stackEnv(ports: Ports): Record<string, string> {
  return {
    SAGEWAI_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.otlpGrpc}`,
    SAGEWAI_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.otlpHttp}`,
    SAGEWAI_PROM_ENDPOINT: `127.0.0.1:${ports.promExporter}`,
    SAGEWAI_COLLECTOR_METRICS_HOST: '127.0.0.1',
    SAGEWAI_COLLECTOR_METRICS_PORT: String(ports.collectorMetrics),
    SAGEWAI_HEALTH_ENDPOINT: `127.0.0.1:${ports.collectorHealth}`,
    SAGEWAI_VL_OTLP_ENDPOINT: `http://127.0.0.1:${ports.vl}/insert/opentelemetry`,
    SAGEWAI_PROM_TARGET: `127.0.0.1:${ports.promExporter}`,
    SAGEWAI_COLLECTOR_METRICS_TARGET: `127.0.0.1:${ports.collectorMetrics}`,
    SAGEWAI_VM_TARGET: `127.0.0.1:${ports.vm}`,
  };
}

/** Command line of each component. */
export function commandLine(component: ComponentName, ports: Ports, dataDir: string, alerting?: AlertingConfig): string[] {
  switch (component) {
    case 'collector':
      // genai.yaml (generated from the price book) adds the pipelines that price external apps'
      // gen_ai.* spans; it reuses config.yaml's receiver, processors and exporter (docs/genai.md).
      return ['--config', path.join(assetsDir(), 'collector', 'config.yaml'), '--config', path.join(assetsDir(), 'collector', 'genai.yaml')];
    case 'victoria-metrics':
      return [
        `-httpListenAddr=127.0.0.1:${ports.vm}`,
        `-storageDataPath=${dataDir}`,
        `-promscrape.config=${path.join(assetsDir(), 'victoria-metrics', 'scrape.yaml')}`,
        '-promscrape.config.strictParse',
        // The default (30 s) hides the newest half minute from queries; a 2 s scrape is only
        // useful when a just-scraped sample is queryable.
        '-search.latencyOffset=1s',
        // Samples of one series with the same millisecond are one sample: vmalert re-evaluating an
        // hour after a restart writes the same hourly total again, which `cost` must not add twice.
        '-dedup.minScrapeInterval=1ms',
        // No cached "which series match" answers: an empty one, cached before a new tenant's first
        // sample, hid that tenant for up to 10 s (docs/stack.md → Freshness).
        '-storage.cacheSizeIndexDBTagFilters=1',
        '-loggerOutput=stderr',
      ];
    case 'victoria-logs':
      return [`-httpListenAddr=127.0.0.1:${ports.vl}`, `-storageDataPath=${dataDir}`, '-loggerOutput=stderr'];
    case 'vmalert':
      return vmalertArgs(ports, alerting ?? alertingConfig({}));
  }
}

/** The last lines of a component's log as one line of at most 300 characters ('' if unreadable). */
export function logTail(file: string, lines = 3): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join(' ').replace(/\s+/g, ' ').slice(-300);
  } catch {
    return '';
  }
}

/** Are all recorded native processes still ours and alive? */
export function liveComponents(record: StackRecord): ComponentName[] {
  return COMPONENTS.filter((c) => isOurProcess(record.components[c]?.pid, record.components[c]?.binary));
}

/**
 * Starts VictoriaLogs, VictoriaMetrics and the collector as native processes and waits until each
 * answers its health endpoint. Checks everything it can (state dir, binaries, ports) before
 * starting anything; when a component fails to come up, stops the ones it started.
 */
export async function upNative(options: UpOptions): Promise<UpResult> {
  const stateDir = path.resolve(options.stateDir);
  const steps = options.steps ?? lineSteps(options.onProgress ?? (() => undefined));
  ensureWritableStateDir(stateDir);

  const existing = readStackRecord(stateDir);
  if (existing) {
    if (existing.runtime !== 'native') {
      throw new UserError(`a ${existing.runtime} stack is recorded in ${stateDir}`, `sagewai-obs down --state-dir ${stateDir}`);
    }
    const live = [...liveComponents(existing), ...liveClusterRoles(existing)];
    if (live.length === COMPONENTS.length + (existing.cluster ? CLUSTER_ROLES.length : 0)) return { alreadyRunning: true, record: existing, readyMs: {} };
    if (live.length > 0) {
      throw new UserError(`the stack in ${stateDir} is partly running (${live.join(', ')} up, the rest gone)`, `sagewai-obs down --state-dir ${stateDir} && sagewai-obs up --state-dir ${stateDir}`);
    }
    removeStackRecord(stateDir); // left over from a stack that died; its data stays
  }

  const cacheDir = resolveCacheDir(options.cacheDir);
  const binaries = {} as Record<ComponentName, ResolvedBinary>;
  for (const c of COMPONENTS) binaries[c] = await resolveInstalledBinary(c, { cacheDir, explicit: options.binaries?.[c] });

  const ports = withDefaults(options.ports);
  await assertPortsFree(ports, NATIVE_PORT_KEYS);
  const cluster = options.profile === 'cluster';
  const cp = clusterPortsWithDefaults(options.clusterPorts);
  const clusterBins = cluster ? await resolveClusterBinaries({ cacheDir, binaries: options.binaries }) : undefined;
  if (cluster) await assertClusterPortsFree(cp, ports, NATIVE_PORT_KEYS);

  // A broken rule file must stop `up` before anything starts, naming the rule.
  const alerting = alertingConfig(options);
  await assertRulesValid(binaries.vmalert.path, alerting.ruleFiles);

  const endpoints = cluster ? clusterEndpoints(endpointsFor(ports), cp) : endpointsFor(ports);
  const env = { ...process.env, ...stackEnv(ports), ...(cluster ? clusterEnv(cp) : {}) };
  fs.mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const record: StackRecord = {
    runtime: 'native',
    startedAt: new Date().toISOString(),
    endpoints,
    components: {} as Record<ComponentName, ComponentRecord>,
    ports,
    alerting,
  };
  const spawned = {} as Record<ComponentName | ClusterRole, { proc: SpawnedProcess; at: number; end: (e?: StepEnd) => number }>;
  const roles: ClusterRole[] = cluster ? [...CLUSTER_ROLES] : [];
  const configDir = cluster ? writeClusterConfig(stateDir, ports, cp) : '';
  if (cluster) {
    record.profile = 'cluster';
    record.cluster = { ports: cp, processes: {} as NonNullable<StackRecord['cluster']>['processes'], vmNodes: vmNodeUrls(ports, cp), vlInsertUrl: `http://127.0.0.1:${cp.vlInsert}`, vmagentUrl: `http://127.0.0.1:${cp.vmagent}` };
  }
  const spawnRole = (r: ClusterRole): void => {
    if (!record.cluster || !clusterBins) return;
    const tool = ROLE_BINARY[r];
    const bin = tool === 'vmagent' || tool === 'vmauth' ? clusterBins[tool].path : binaries[tool as ComponentName].path;
    const dataDir = roleDataDir(stateDir, r);
    const logFile = roleLogFile(stateDir, r);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.appendFileSync(logFile, `--- sagewai-obs up ${record.startedAt}: ${bin}\n`);
    steps.note(`starting ${r} (${bin})`);
    const at = Date.now();
    const end = steps.begin(`${r}: waiting for health`);
    const proc = spawnDaemon(bin, clusterRoleArgs(r, ports, cp, dataDir, configDir), { logFile, cwd: dataDir, env });
    spawned[r] = { proc, at, end };
    record.cluster.processes[r] = roleRecord(stateDir, r, proc.pid, bin, cp);
    writeStackRecord(stateDir, record);
  };
  const spawnComponent = (c: ComponentName): void => {
    const dataDir = componentDataDir(stateDir, c);
    const logFile = componentLogFile(stateDir, c);
    fs.mkdirSync(dataDir, { recursive: true });
    fs.appendFileSync(logFile, `--- sagewai-obs up ${record.startedAt}: ${binaries[c].path}\n`);
    steps.note(`starting ${c} (${binaries[c].source}: ${binaries[c].path})`);
    const at = Date.now();
    const end = steps.begin(`${c}: waiting for health`);
    const args = (cluster ? clusterComponentArgs(c, ports, cp, dataDir, alerting) : undefined) ?? commandLine(c, ports, dataDir, alerting);
    const proc = spawnDaemon(binaries[c].path, args, { logFile, cwd: dataDir, env });
    spawned[c] = { proc, at, end };
    record.components[c] = { pid: proc.pid, logFile, dataDir, version: PINNED[c].version, binary: binaries[c].path };
    writeStackRecord(stateDir, record);
  };

  const readyMs: Partial<Record<ComponentName | ClusterRole, number>> = {};
  const timeoutMs = options.healthTimeoutMs ?? 60_000;
  const urlOf = (c: ComponentName | ClusterRole): string => (COMPONENTS.includes(c as ComponentName) ? healthUrl(c as ComponentName, endpoints, record) : (record.cluster?.processes[c as ClusterRole].healthUrl ?? ''));
  const ready = new Map<ComponentName | ClusterRole, Promise<void>>();
  const awaitHealthy = (c: ComponentName | ClusterRole): Promise<void> => {
    let p = ready.get(c);
    if (p) return p;
    const { proc, at, end } = spawned[c];
    p = waitHealthy(urlOf(c), {
      timeoutMs,
      startedAt: at,
      gaveUp: () => {
        const ex = proc.exited();
        return ex ? `${c} exited (${ex.signal ?? `code ${ex.code}`}) before becoming healthy` : undefined;
      },
    }).then(
      (ms) => {
        readyMs[c] = ms;
        end({ detail: `${c} healthy` });
      },
      (err: unknown) => {
        end({ ok: false, detail: `${c}: not healthy` });
        throw err;
      },
    );
    ready.set(c, p);
    return p;
  };

  // The scraper (VictoriaMetrics, or vmagent in the cluster profile) scrapes its targets as soon as
  // it starts (scrape.yaml: scrape_align_interval), so it starts once the collector answers: a first
  // scrape that found no collector would leave `up` waiting a whole scrape interval for the next.
  // Everything else starts at once: VictoriaLogs before the collector (its first log batch goes
  // there), the cluster's storage, insert, second node and vmauth before anything that talks to them.
  const scraper: ComponentName | ClusterRole = cluster ? 'vmagent' : 'victoria-metrics';
  for (const r of roles) if (r !== scraper) spawnRole(r);
  for (const c of ['victoria-logs', 'collector'] as const) spawnComponent(c);
  const collectorUp = await awaitHealthy('collector').then(
    () => true,
    () => false,
  );
  if (collectorUp) {
    if (cluster) spawnRole('vmagent');
    spawnComponent('victoria-metrics');
    // vmalert once what it reads and writes answers (VictoriaMetrics; in the cluster, vmauth, both
    // nodes and vmagent). It starts each rule group within the group's interval, at once for some:
    // started beside VictoriaMetrics, a group could be evaluated before the store listened, and its
    // rules kept that "connection refused" as their last error until the next evaluation (up to
    // 30 s), failing `verify` and `doctor` meanwhile. Its state restore (-remoteRead) needs the store
    // too. The wait costs `up` nothing measurable: `up` then waits for the first scrapes anyway.
    const reads: (ComponentName | ClusterRole)[] = cluster ? ['victoria-metrics', 'victoria-metrics-2', 'vmauth', 'vmagent'] : ['victoria-metrics'];
    const storeUp = await Promise.all(reads.map((c) => awaitHealthy(c))).then(
      () => true,
      () => false,
    );
    if (storeUp) spawnComponent('vmalert');
  }
  const all = [...roles, ...COMPONENTS].filter((c) => c in spawned);
  const results = await Promise.allSettled(all.map((c) => awaitHealthy(c)));
  const failed = results.map((r, i) => ({ r, c: all[i] as ComponentName | ClusterRole })).filter((x) => x.r.status === 'rejected');
  if (failed.length > 0) {
    await downNative({ stateDir });
    const first = failed[0] as { r: PromiseRejectedResult; c: ComponentName | ClusterRole };
    const log = COMPONENTS.includes(first.c as ComponentName) ? componentLogFile(stateDir, first.c as ComponentName) : roleLogFile(stateDir, first.c as ClusterRole);
    const tail = logTail(log);
    throw new UserError(`${(first.r.reason as Error).message}${tail ? ` — last log lines: ${tail}` : ''}`, [`read ${log}`, 'sagewai-obs stack install --force (if the binary is damaged)']);
  }
  return { alreadyRunning: false, record, readyMs };
}

export interface DownOptions {
  stateDir: string;
  purge?: boolean | undefined;
  timeoutMs?: number | undefined;
}

export interface DownResult {
  wasRunning: boolean;
  stopped: Partial<Record<ComponentName | ClusterRole, 'not-running' | 'terminated' | 'killed'>>;
  purged: boolean;
}

/** Stops the recorded processes by PID (SIGTERM, then SIGKILL after timeoutMs); keeps data unless purge. */
export async function downNative(options: DownOptions): Promise<DownResult> {
  const stateDir = path.resolve(options.stateDir);
  const record = readStackRecord(stateDir);
  const stopped: DownResult['stopped'] = {};
  if (record) {
    await Promise.all(
      COMPONENTS.map(async (c) => {
        const comp = record.components[c];
        if (!comp || comp.pid === null) return;
        stopped[c] = isOurProcess(comp.pid, comp.binary) ? await stopPid(comp.pid, options.timeoutMs ?? 10_000) : 'not-running';
      }),
    );
    Object.assign(stopped, await stopClusterProcesses(record, options.timeoutMs ?? 10_000));
    removeStackRecord(stateDir);
  }
  if (options.purge) {
    fs.rmSync(path.join(stateDir, 'data'), { recursive: true, force: true });
    fs.rmSync(path.join(stateDir, 'logs'), { recursive: true, force: true });
    fs.rmSync(clusterConfigDir(stateDir), { recursive: true, force: true });
  }
  return { wasRunning: Object.values(stopped).some((s) => s !== 'not-running'), stopped, purged: Boolean(options.purge) };
}
