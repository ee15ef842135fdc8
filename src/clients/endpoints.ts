import fs from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { defaultStateDir } from '../paths.js';
import { resolveSetting, validators } from '../settings.js';
import { pidAlive } from '../stack/process.js';

/** Shared flags that mean the same on every command (STYLE 9). */
export const endpointFlags = {
  'vm-url': Flags.string({ description: 'VictoriaMetrics URL [default: the running stack, else http://127.0.0.1:8428]', env: 'SAGEWAI_OBS_VM_URL', helpGroup: 'ENDPOINT' }),
  'vl-url': Flags.string({ description: 'VictoriaLogs URL [default: the running stack, else http://127.0.0.1:9428]', env: 'SAGEWAI_OBS_VL_URL', helpGroup: 'ENDPOINT' }),
  'backend-url': Flags.string({ description: 'Admin backend URL [default: the running `serve`, else http://127.0.0.1:8000]', env: 'SAGEWAI_OBS_BACKEND_URL', helpGroup: 'ENDPOINT' }),
  token: Flags.string({ description: 'Backend API token [default: the local backend\'s operator token]', env: 'SAGEWAI_OBS_TOKEN', helpGroup: 'ENDPOINT' }),
  'state-dir': Flags.string({ description: 'State directory of the running stack [default: $XDG_STATE_HOME/sagewai-obs]', env: 'SAGEWAI_OBS_STATE_DIR', helpGroup: 'ENDPOINT' }),
};

export const projectFlag = {
  project: Flags.string({ description: 'Only this tenant (project slug); every number is scoped to it', env: 'SAGEWAI_OBS_PROJECT', char: 'p' }),
};

export interface EndpointFlagValues {
  'vm-url'?: string | undefined;
  'vl-url'?: string | undefined;
  'backend-url'?: string | undefined;
  token?: string | undefined;
  'state-dir'?: string | undefined;
}

export interface Endpoints {
  stateDir: string;
  vmUrl: string;
  vlUrl: string;
  backendUrl: string;
  /** Token for the backend API, when one could be found. */
  token: string | undefined;
  /** Where each URL came from, for error messages ("flag", "stack.json", "default"…). */
  sources: { vm: string; vl: string; backend: string };
}

export function resolveStateDir(flagValue?: string): string {
  return path.resolve(resolveSetting('state-dir', 'SAGEWAI_OBS_STATE_DIR', flagValue, defaultStateDir(), validators.text));
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}


/** flag → env → config → running stack's records → default. */
export function resolveEndpoints(flags: EndpointFlagValues): Endpoints {
  const stateDir = resolveStateDir(flags['state-dir']);
  const stack = readJson(path.join(stateDir, 'stack.json'));
  const stackEndpoints = (stack?.endpoints ?? {}) as Record<string, unknown>;
  const backend = readJson(path.join(stateDir, 'backend.json'));
  const backendAlive = backend !== undefined && pidAlive(backend.pid);

  const pick = (name: 'vm-url' | 'vl-url' | 'backend-url', env: string, recorded: unknown, fallback: string): [string, string] => {
    const flagOrEnvOrConfig = resolveSetting<string | undefined>(name, env, flags[name], undefined, validators.url);
    if (flagOrEnvOrConfig) return [flagOrEnvOrConfig, flags[name] !== undefined ? `--${name}` : `${env} or config`];
    if (typeof recorded === 'string' && recorded.length > 0) return [recorded.replace(/\/+$/, ''), 'the running stack'];
    return [fallback, 'default'];
  };
  const [vmUrl, vmSrc] = pick('vm-url', 'SAGEWAI_OBS_VM_URL', stackEndpoints.vmUrl, 'http://127.0.0.1:8428');
  const [vlUrl, vlSrc] = pick('vl-url', 'SAGEWAI_OBS_VL_URL', stackEndpoints.vlUrl, 'http://127.0.0.1:9428');
  const [backendUrl, beSrc] = pick('backend-url', 'SAGEWAI_OBS_BACKEND_URL', backendAlive ? backend?.url : undefined, 'http://127.0.0.1:8000');

  let token = resolveSetting<string | undefined>('token', 'SAGEWAI_OBS_TOKEN', flags.token, undefined, validators.text);
  if (!token && backendAlive && typeof backend?.dataDir === 'string') {
    try {
      token = fs.readFileSync(path.join(backend.dataDir, 'operator-token'), 'utf8').trim() || undefined;
    } catch {
      token = undefined;
    }
  }
  return { stateDir, vmUrl, vlUrl, backendUrl, token, sources: { vm: vmSrc, vl: vlSrc, backend: beSrc } };
}

export const vmalertUrlFlag = {
  'vmalert-url': Flags.string({ description: 'vmalert URL [default: the running stack, else http://127.0.0.1:8880]', env: 'SAGEWAI_OBS_VMALERT_URL', helpGroup: 'ENDPOINT' }),
};

/** vmalert's URL: flag → env → config → the running stack's record → default. */
export function resolveVmalertUrl(flagValue: string | undefined, stateDir: string): string {
  const given = resolveSetting<string | undefined>('vmalert-url', 'SAGEWAI_OBS_VMALERT_URL', flagValue, undefined, validators.url);
  if (given) return given.replace(/\/+$/, '');
  const recorded = (readJson(path.join(stateDir, 'stack.json'))?.endpoints as Record<string, unknown> | undefined)?.vmalertUrl;
  return typeof recorded === 'string' && recorded.length > 0 ? recorded.replace(/\/+$/, '') : 'http://127.0.0.1:8880';
}
