import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { assetsDir } from '../paths.js';
import { resolveInstalledBinary, type ResolvedBinary } from './binaries.js';
import { isOurProcess, stopPid } from './process.js';
import { probe } from './health.js';
import type { Probe } from '../verify/pipeline.js';
import { isPortFree, type Ports } from './ports.js';
import type { AlertingConfig, ComponentRecord, StackEndpoints, StackRecord } from './state.js';
import { PINNED, type ComponentName, type InstallableName } from './versions.js';

/**
 * The native `cluster` profile (`up --profile cluster`): the default stack's four components plus
 * the processes that take VictoriaLogs and VictoriaMetrics past one node.
 *
 *   collector ──otlphttp──▶ vlinsert ──▶ vlstorage-1, vlstorage-2 ◀── victoria-logs (the select node, the recorded vlUrl)
 *   collector ◀─scrape── vmagent ──remote write, each sample to both──▶ victoria-metrics, victoria-metrics-2
 *                                     vmauth (first_available, the recorded vmUrl) ──reads──▶ the same two
 *
 * The default components keep their names and ports: `victoria-logs` is the select node on the
 * VictoriaLogs port, `victoria-metrics` is the first VictoriaMetrics node on its port (it no longer
 * scrapes: vmagent does), vmalert reads through vmauth and writes through vmagent.
 */

export type Profile = 'default' | 'cluster';
export const PROFILES: readonly Profile[] = ['default', 'cluster'];

/** The cluster profile's own processes, in start order. */
export const CLUSTER_ROLES = ['vlstorage-1', 'vlstorage-2', 'vlinsert', 'victoria-metrics-2', 'vmauth', 'vmagent'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

export interface ClusterPorts {
  vlStorage1: number;
  vlStorage2: number;
  vlInsert: number;
  vm2: number;
  vmauth: number;
  vmagent: number;
}

export const DEFAULT_CLUSTER_PORTS: Readonly<ClusterPorts> = { vlStorage1: 9491, vlStorage2: 9492, vlInsert: 9481, vm2: 8438, vmauth: 8427, vmagent: 8429 };

export const CLUSTER_PORT_FLAGS: Readonly<Record<keyof ClusterPorts, string>> = {
  vlStorage1: '--vl-storage-ports',
  vlStorage2: '--vl-storage-ports',
  vlInsert: '--vl-insert-port',
  vm2: '--vm2-port',
  vmauth: '--vmauth-port',
  vmagent: '--vmagent-port',
};

const ROLE_PORT: Readonly<Record<ClusterRole, keyof ClusterPorts>> = {
  'vlstorage-1': 'vlStorage1',
  'vlstorage-2': 'vlStorage2',
  vlinsert: 'vlInsert',
  'victoria-metrics-2': 'vm2',
  vmauth: 'vmauth',
  vmagent: 'vmagent',
};

/** Which cached binary runs each role. */
export const ROLE_BINARY: Readonly<Record<ClusterRole, InstallableName>> = {
  'vlstorage-1': 'victoria-logs',
  'vlstorage-2': 'victoria-logs',
  vlinsert: 'victoria-logs',
  'victoria-metrics-2': 'victoria-metrics',
  vmauth: 'vmauth',
  vmagent: 'vmagent',
};

export interface ClusterProcessRecord extends ComponentRecord {
  healthUrl: string;
  url: string;
}

/** What the cluster profile adds to <state>/stack.json. */
export interface ClusterRecord {
  ports: ClusterPorts;
  processes: Record<ClusterRole, ClusterProcessRecord>;
  /** The VictoriaMetrics nodes' own URLs (each can be queried directly, e.g. to reconcile both). */
  vmNodes: string[];
  /** The VictoriaLogs insert node (where the collector ships logs). */
  vlInsertUrl: string;
  /** vmagent: scrapes and replicates; also takes remote writes (vmalert's). */
  vmagentUrl: string;
}

const loop = (port: number): string => `http://127.0.0.1:${port}`;

export function clusterPortsWithDefaults(partial: Partial<ClusterPorts> | undefined): ClusterPorts {
  const out: ClusterPorts = { ...DEFAULT_CLUSTER_PORTS };
  for (const [k, v] of Object.entries(partial ?? {})) if (v !== undefined) out[k as keyof ClusterPorts] = v;
  return out;
}

/** Checks the cluster's ports: distinct from each other and from the default stack's, and free. */
export async function assertClusterPortsFree(cp: ClusterPorts, ports: Ports, nativeKeys: readonly (keyof Ports)[]): Promise<void> {
  const taken = new Map<number, string>(nativeKeys.map((k) => [ports[k], k]));
  for (const [key, port] of Object.entries(cp) as [keyof ClusterPorts, number][]) {
    const other = taken.get(port);
    if (other) throw new UserError(`port ${port} is given to both ${other} and the cluster's ${key}`, `sagewai-obs up --profile cluster ${CLUSTER_PORT_FLAGS[key]} <another port>`);
    taken.set(port, key);
  }
  for (const [key, port] of Object.entries(cp) as [keyof ClusterPorts, number][]) {
    if (!(await isPortFree(port))) {
      throw new UserError(`port ${port} (cluster ${key}) on 127.0.0.1 is already in use`, [`sagewai-obs up --profile cluster ${CLUSTER_PORT_FLAGS[key]} <free port>`, `find the process holding it: ss -ltnp 'sport = :${port}'`]);
    }
  }
}

/** Endpoints recorded for the CLI: reads go through vmauth and the VictoriaLogs select node. */
export function clusterEndpoints(base: StackEndpoints, cp: ClusterPorts): StackEndpoints {
  return { ...base, vmUrl: loop(cp.vmauth) };
}

export function vmNodeUrls(ports: Ports, cp: ClusterPorts): string[] {
  return [loop(ports.vm), loop(cp.vm2)];
}

/** Environment overrides: the collector ships logs to the insert node. */
export function clusterEnv(cp: ClusterPorts): Record<string, string> {
  return { SAGEWAI_VL_OTLP_ENDPOINT: `${loop(cp.vlInsert)}/insert/opentelemetry` };
}

const storageNodes = (cp: ClusterPorts): string => `-storageNode=127.0.0.1:${cp.vlStorage1},127.0.0.1:${cp.vlStorage2}`;

/** The default components' command lines under the cluster profile (undefined = unchanged). */
export function clusterComponentArgs(component: ComponentName, ports: Ports, cp: ClusterPorts, dataDir: string, alerting: AlertingConfig): string[] | undefined {
  switch (component) {
    case 'victoria-logs':
      // The select node: queries fan out to both storage nodes. Without -search.allowPartialResponse
      // a query with a storage node missing fails instead of answering with half the logs.
      return [`-httpListenAddr=127.0.0.1:${ports.vl}`, `-storageDataPath=${dataDir}`, storageNodes(cp), '-insert.disable', '-loggerOutput=stderr'];
    case 'victoria-metrics':
      return vmNodeArgs(ports.vm, dataDir);
    case 'vmalert':
      return [
        `-httpListenAddr=127.0.0.1:${ports.vmalert}`,
        `-datasource.url=${loop(cp.vmauth)}`,
        // Through vmagent, so recording results and alert state reach both nodes.
        `-remoteWrite.url=${loop(cp.vmagent)}`,
        `-remoteRead.url=${loop(cp.vmauth)}`,
        ...alerting.ruleFiles.map((r) => `-rule=${r}`),
        alerting.notifierUrl ? `-notifier.url=${alerting.notifierUrl}` : '-notifier.blackhole',
        `-external.url=${loop(ports.vmalert)}`,
        '-rule.evalDelay=1s',
        '-loggerOutput=stderr',
      ];
    default:
      return undefined;
  }
}

/** A VictoriaMetrics node of the pair: stores what vmagent writes, scrapes nothing itself. */
function vmNodeArgs(port: number, dataDir: string): string[] {
  return [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${dataDir}`, '-search.latencyOffset=1s', '-loggerOutput=stderr'];
}

/** vmauth's routing: the query API to the first VictoriaMetrics that answers; scrape targets to vmagent. */
export function vmauthConfig(ports: Ports, cp: ClusterPorts): string {
  const nodes = vmNodeUrls(ports, cp).map((u) => `"${u}/"`).join(', ');
  return [
    '# Written by `sagewai-obs up --profile cluster`; rewritten on every up.',
    'unauthorized_user:',
    '  url_map:',
    // vmagent does the scraping, so it is the one that knows the targets.
    '    - src_paths: ["/api/v1/targets", "/targets", "/service-discovery"]',
    `      url_prefix: "${loop(cp.vmagent)}/"`,
    // A Prometheus query base with a path prefix, shaped like a cluster select path with a tenant:
    // the CLI must work when --vm-url carries one. Like vmselect, it serves the query API only
    // (no /health, no /internal/force_flush under the prefix).
    '    - src_paths: ["/select/0/prometheus/api/v1/.*"]',
    '      drop_src_path_prefix_parts: 3',
    `      url_prefix: [${nodes}]`,
    '      load_balancing_policy: first_available',
    '    - src_paths: ["/.*"]',
    `      url_prefix: [${nodes}]`,
    '      load_balancing_policy: first_available',
    '',
  ].join('\n');
}

/** Command line of each cluster role. */
export function clusterRoleArgs(role: ClusterRole, ports: Ports, cp: ClusterPorts, dataDir: string, configDir: string): string[] {
  const listen = `-httpListenAddr=127.0.0.1:${cp[ROLE_PORT[role]]}`;
  switch (role) {
    case 'vlstorage-1':
    case 'vlstorage-2':
      // Storage nodes take /internal/insert and /internal/select from the insert and select nodes.
      return [listen, `-storageDataPath=${dataDir}`, '-loggerOutput=stderr'];
    case 'vlinsert':
      return [listen, `-storageDataPath=${dataDir}`, storageNodes(cp), '-select.disable', '-loggerOutput=stderr'];
    case 'victoria-metrics-2':
      return vmNodeArgs(cp.vm2, dataDir);
    case 'vmauth':
      return [listen, `-auth.config=${path.join(configDir, 'vmauth.yml')}`, '-loggerOutput=stderr'];
    case 'vmagent':
      return [
        listen,
        `-promscrape.config=${path.join(assetsDir(), 'victoria-metrics', 'scrape.yaml')}`,
        '-promscrape.config.strictParse',
        // Every sample to both nodes; while one is down its share waits on disk and is sent when it returns.
        ...vmNodeUrls(ports, cp).map((u) => `-remoteWrite.url=${u}/api/v1/write`),
        `-remoteWrite.tmpDataPath=${dataDir}`,
        '-remoteWrite.flushInterval=1s',
        '-loggerOutput=stderr',
      ];
  }
}

export function clusterHealthUrl(role: ClusterRole, cp: ClusterPorts): string {
  return `${loop(cp[ROLE_PORT[role]])}/health`;
}

export async function resolveClusterBinaries(options: { cacheDir: string; binaries?: Partial<Record<InstallableName, string | undefined>> | undefined }): Promise<Record<'vmagent' | 'vmauth', ResolvedBinary>> {
  return {
    vmagent: await resolveInstalledBinary('vmagent', { cacheDir: options.cacheDir, explicit: options.binaries?.vmagent }),
    vmauth: await resolveInstalledBinary('vmauth', { cacheDir: options.cacheDir, explicit: options.binaries?.vmauth }),
  };
}

export function clusterConfigDir(stateDir: string): string {
  return path.join(stateDir, 'cluster');
}

export function writeClusterConfig(stateDir: string, ports: Ports, cp: ClusterPorts): string {
  const dir = clusterConfigDir(stateDir);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'vmauth.yml'), vmauthConfig(ports, cp));
  return dir;
}

export function roleDataDir(stateDir: string, role: ClusterRole): string {
  return path.join(stateDir, 'data', role);
}

export function roleLogFile(stateDir: string, role: ClusterRole): string {
  return path.join(stateDir, 'logs', `${role}.log`);
}

export function roleRecord(stateDir: string, role: ClusterRole, pid: number, binary: string, cp: ClusterPorts): ClusterProcessRecord {
  return {
    pid,
    logFile: roleLogFile(stateDir, role),
    dataDir: roleDataDir(stateDir, role),
    version: PINNED[ROLE_BINARY[role]].version,
    binary,
    healthUrl: clusterHealthUrl(role, cp),
    url: loop(cp[ROLE_PORT[role]]),
  };
}

/** The cluster roles whose recorded process is still ours and alive. */
export function liveClusterRoles(record: StackRecord): ClusterRole[] {
  const procs = record.cluster?.processes;
  if (!procs) return [];
  return CLUSTER_ROLES.filter((r) => isOurProcess(procs[r]?.pid, procs[r]?.binary));
}

/** Stops every recorded cluster process by PID. */
export async function stopClusterProcesses(record: StackRecord, timeoutMs: number): Promise<Partial<Record<ClusterRole, 'not-running' | 'terminated' | 'killed'>>> {
  const out: Partial<Record<ClusterRole, 'not-running' | 'terminated' | 'killed'>> = {};
  const procs = record.cluster?.processes;
  if (!procs) return out;
  await Promise.all(
    CLUSTER_ROLES.map(async (r) => {
      const p = procs[r];
      if (!p || p.pid === null) return;
      out[r] = isOurProcess(p.pid, p.binary) ? await stopPid(p.pid, timeoutMs) : 'not-running';
    }),
  );
  return out;
}

const ROLE_IF_DOWN: Readonly<Record<ClusterRole, string>> = {
  'vlstorage-1': 'queries through the select node fail (naming it) until it is back; new logs go to the other storage node',
  'vlstorage-2': 'queries through the select node fail (naming it) until it is back; new logs go to the other storage node',
  vlinsert: 'the collector cannot ship logs: it retries, then drops them',
  'victoria-metrics-2': 'reads go to the other node through vmauth; vmagent keeps this node\'s share on disk until it returns',
  vmauth: '`cost`, the HUD, `verify` and vmalert cannot read metrics',
  vmagent: 'nothing is scraped: both VictoriaMetrics nodes stop receiving samples',
};

/** `doctor`'s view of the cluster profile: every process of its own, and each VictoriaMetrics node directly. */
export async function clusterProbes(record: StackRecord): Promise<Probe[]> {
  const cl = record.cluster;
  if (!cl) return [];
  const restart = (what: string): string => `${what}; bring it back: sagewai-obs down && sagewai-obs up --runtime native --profile cluster (data is kept)`;
  const out = await Promise.all(
    CLUSTER_ROLES.map(async (r): Promise<Probe> => {
      const p = cl.processes[r];
      const res = isOurProcess(p.pid, p.binary) ? await probe(p.healthUrl) : { ok: false, error: 'process not running' };
      return res.ok
        ? { name: `cluster ${r} healthy`, status: 'ok', detail: p.healthUrl }
        : { name: `cluster ${r} healthy`, status: 'fail', detail: `${p.healthUrl}: ${res.error ?? `HTTP ${res.status}`}`, hint: restart(ROLE_IF_DOWN[r]) };
    }),
  );
  // vmauth hides a dead node from reads (that is its job), so ask each node itself.
  for (const [i, url] of cl.vmNodes.entries()) {
    const res = await probe(`${url}/health`);
    out.push(res.ok
      ? { name: `cluster VictoriaMetrics node ${i + 1} healthy`, status: 'ok', detail: `${url}/health` }
      : { name: `cluster VictoriaMetrics node ${i + 1} healthy`, status: 'fail', detail: `${url}/health: ${res.error ?? `HTTP ${res.status}`}`, hint: restart(ROLE_IF_DOWN['victoria-metrics-2']) });
  }
  return out;
}
