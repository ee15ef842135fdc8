import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { waitHealthy } from './health.js';
import { commandLine, healthUrl, logTail, stackEnv } from './native.js';
import { withDefaults } from './ports.js';
import { isOurProcess, spawnDaemon, stopPid } from './process.js';
import { readStackRecord, writeStackRecord } from './state.js';
import type { ComponentName } from './versions.js';
import { CLUSTER_ROLES, clusterComponentArgs, clusterConfigDir, clusterEnv, clusterRoleArgs, type ClusterRole } from './cluster.js';
import { alertingConfig } from './vmalert.js';

export interface RestartComponentOptions {
  stateDir: string;
  /** A default component, or one of the cluster profile's processes. */
  component: ComponentName | ClusterRole;
  healthTimeoutMs?: number | undefined;
}

/**
 * Starts one recorded native component again with the command line `up` used (its recorded
 * binary, ports and data dir), stopping it first if it still runs; waits until it answers its
 * health endpoint and records the new PID. For recovery after a component died, and for the
 * fault tier (docs/faults.md).
 */
export async function restartNativeComponent(options: RestartComponentOptions): Promise<{ pid: number; readyMs: number }> {
  const stateDir = path.resolve(options.stateDir);
  const record = readStackRecord(stateDir);
  if (!record || record.runtime !== 'native') throw new UserError(`no native stack is recorded in ${stateDir}`, `sagewai-obs up --state-dir ${stateDir}`);
  const c = options.component;
  const role = (CLUSTER_ROLES as readonly string[]).includes(c) ? (c as ClusterRole) : undefined;
  const cl = record.cluster;
  if (role && !cl) throw new UserError(`${role} belongs to the cluster profile, and the stack in ${stateDir} runs the default one`, `sagewai-obs status --state-dir ${stateDir}`);
  const comp = role && cl ? cl.processes[role] : record.components[c as ComponentName];
  if (!comp?.binary) throw new UserError(`the stack record in ${stateDir} has no binary for ${c}`, `sagewai-obs down --state-dir ${stateDir} && sagewai-obs up --state-dir ${stateDir}`);
  const ports = withDefaults(record.ports);
  if (isOurProcess(comp.pid, comp.binary)) await stopPid(comp.pid as number, 10_000);
  fs.mkdirSync(comp.dataDir, { recursive: true });
  fs.appendFileSync(comp.logFile, `--- sagewai-obs restart ${new Date().toISOString()}: ${comp.binary}\n`);
  const at = Date.now();
  const args = role && cl
    ? clusterRoleArgs(role, ports, cl.ports, comp.dataDir, clusterConfigDir(stateDir))
    : ((cl ? clusterComponentArgs(c as ComponentName, ports, cl.ports, comp.dataDir, record.alerting ?? alertingConfig({})) : undefined) ?? commandLine(c as ComponentName, ports, comp.dataDir, record.alerting));
  const proc = spawnDaemon(comp.binary, args, { logFile: comp.logFile, cwd: comp.dataDir, env: { ...process.env, ...stackEnv(ports), ...(cl ? clusterEnv(cl.ports) : {}) } });
  if (role && cl) cl.processes[role] = { ...cl.processes[role], pid: proc.pid };
  else record.components[c as ComponentName] = { ...comp, pid: proc.pid };
  writeStackRecord(stateDir, record);
  const readyMs = await waitHealthy(role && cl ? cl.processes[role].healthUrl : healthUrl(c as ComponentName, record.endpoints, record), {
    timeoutMs: options.healthTimeoutMs ?? 60_000,
    startedAt: at,
    gaveUp: () => {
      const ex = proc.exited();
      return ex ? `${c} exited (${ex.signal ?? `code ${ex.code}`}) before becoming healthy — ${logTail(comp.logFile)}` : undefined;
    },
  });
  return { pid: proc.pid, readyMs };
}
