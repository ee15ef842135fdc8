import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UserError } from '../errors.js';
import { packageRoot } from '../paths.js';
import { COMPONENTS } from './binaries.js';
import { waitHealthy } from './health.js';
import { lineSteps, type Steps } from '../ui/progress.js';
import { endpointsFor, healthUrl } from './native.js';
import { assertPortsFree, withDefaults, type Ports } from './ports.js';
import { ensureWritableStateDir, readStackRecord, removeStackRecord, writeStackRecord, type ComponentRecord, type StackRecord } from './state.js';
import { PINNED, type ComponentName } from './versions.js';

export const COMPOSE_PROJECT = 'sagewai-obs';

export function composeFile(): string {
  return path.join(packageRoot(), 'docker-compose.yml');
}

/** Does a Docker engine answer? (`up --runtime auto` picks docker only then.) */
export async function dockerAvailable(): Promise<boolean> {
  const { execa } = await import('execa');
  const r = await execa('docker', ['info', '--format', '{{.ServerVersion}}'], { reject: false, timeout: 10_000 });
  return r.exitCode === 0 && r.stdout.trim().length > 0;
}

/** Grafana's admin password: generated once into the state dir (mode 0600), never admin/admin. */
export function grafanaPassword(stateDir: string): { file: string; password: string } {
  const file = path.join(stateDir, 'grafana-admin-password');
  if (fs.existsSync(file)) return { file, password: fs.readFileSync(file, 'utf8').trim() };
  const password = randomBytes(18).toString('base64url');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return { file, password };
}

/** Variables the compose file reads (ports on 127.0.0.1, the Grafana password). */
export function composeEnv(ports: Ports, password: string): Record<string, string> {
  return {
    SAGEWAI_OBS_OTLP_GRPC_PORT: String(ports.otlpGrpc),
    SAGEWAI_OBS_OTLP_HTTP_PORT: String(ports.otlpHttp),
    SAGEWAI_OBS_PROM_PORT: String(ports.promExporter),
    SAGEWAI_OBS_COLLECTOR_METRICS_PORT: String(ports.collectorMetrics),
    SAGEWAI_OBS_COLLECTOR_HEALTH_PORT: String(ports.collectorHealth),
    SAGEWAI_OBS_VM_PORT: String(ports.vm),
    SAGEWAI_OBS_VL_PORT: String(ports.vl),
    SAGEWAI_OBS_VMALERT_PORT: String(ports.vmalert),
    SAGEWAI_OBS_GRAFANA_PORT: String(ports.grafana),
    SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD: password,
  };
}

async function compose(args: string[], env: Record<string, string>, step: string): Promise<void> {
  const { execa } = await import('execa');
  const r = await execa('docker', ['compose', '-p', COMPOSE_PROJECT, '-f', composeFile(), ...args], { env: { ...process.env, ...env }, reject: false, all: true });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? '').trim().split('\n').slice(-2).join(' | ');
    throw new UserError(`docker compose ${step} failed: ${tail}`, ['sagewai-obs up --runtime native', `docker compose -p ${COMPOSE_PROJECT} logs`]);
  }
}

export async function upDocker(options: { stateDir: string; ports?: Partial<Ports> | undefined; healthTimeoutMs?: number | undefined; onProgress?: ((l: string) => void) | undefined; steps?: Steps | undefined }): Promise<{ alreadyRunning: boolean; record: StackRecord; readyMs: Partial<Record<ComponentName, number>> }> {
  const stateDir = path.resolve(options.stateDir);
  if (!(await dockerAvailable())) {
    throw new UserError('--runtime docker: no Docker engine answers (docker info failed)', ['sagewai-obs up --runtime native', 'start the Docker engine and run sagewai-obs up --runtime docker again']);
  }
  ensureWritableStateDir(stateDir);
  const existing = readStackRecord(stateDir);
  if (existing && existing.runtime === 'native') throw new UserError(`a native stack is recorded in ${stateDir}`, `sagewai-obs down --state-dir ${stateDir}`);
  const ports = withDefaults(options.ports ?? existing?.ports);
  const { password } = grafanaPassword(stateDir);
  if (!existing) await assertPortsFree(ports, ['otlpGrpc', 'otlpHttp', 'promExporter', 'collectorMetrics', 'collectorHealth', 'vm', 'vl', 'vmalert', 'grafana']);
  const steps = options.steps ?? lineSteps(options.onProgress ?? (() => undefined));
  const started = Date.now();
  const composed = steps.begin('docker compose up (pulling pinned images on first run)');
  await compose(['up', '-d'], composeEnv(ports, password), 'up').catch((err: unknown) => {
    composed({ ok: false });
    throw err;
  });
  composed({ detail: 'docker compose up' });
  const endpoints = endpointsFor(ports, `http://127.0.0.1:${ports.grafana}`);
  const components = {} as Record<ComponentName, ComponentRecord>;
  for (const c of COMPONENTS) components[c] = { pid: null, logFile: `docker compose -p ${COMPOSE_PROJECT} logs ${c}`, dataDir: c === 'collector' || c === 'vmalert' ? `(none: the ${c} keeps no data)` : `docker volume ${COMPOSE_PROJECT}_${c}-data`, version: PINNED[c].version };
  const record: StackRecord = { runtime: 'docker', startedAt: existing?.startedAt ?? new Date().toISOString(), endpoints, components, ports };
  writeStackRecord(stateDir, record);
  const readyMs: Partial<Record<ComponentName, number>> = {};
  for (const c of COMPONENTS) {
    const end = steps.begin(`${c}: waiting for health`);
    readyMs[c] = await waitHealthy(healthUrl(c, endpoints), { timeoutMs: options.healthTimeoutMs ?? 180_000, startedAt: started }).catch((err: unknown) => {
      end({ ok: false, detail: `${c}: not healthy` });
      throw err;
    });
    end({ detail: `${c} healthy` });
  }
  return { alreadyRunning: Boolean(existing), record, readyMs };
}

export async function downDocker(options: { stateDir: string; purge?: boolean | undefined }): Promise<void> {
  const stateDir = path.resolve(options.stateDir);
  const existing = readStackRecord(stateDir);
  const ports = withDefaults(existing?.ports);
  await compose(options.purge ? ['down', '--volumes'] : ['down'], composeEnv(ports, 'unused-on-down'), 'down');
  removeStackRecord(stateDir);
}
