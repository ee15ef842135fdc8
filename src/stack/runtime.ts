import path from 'node:path';
import { UserError } from '../errors.js';
import { dockerAvailable, downDocker, upDocker } from './docker.js';
import { downNative, upNative, type DownResult, type UpOptions, type UpResult } from './native.js';
import { readStackRecord } from './state.js';

export type Runtime = 'auto' | 'native' | 'docker';

/** auto = docker when a Docker engine answers, else native. */
export async function chooseRuntime(runtime: Runtime): Promise<'native' | 'docker'> {
  if (runtime !== 'auto') return runtime;
  return (await dockerAvailable()) ? 'docker' : 'native';
}

export async function up(options: UpOptions & { runtime: Runtime }): Promise<UpResult & { runtime: 'native' | 'docker' }> {
  // A stack already recorded decides the runtime, so `up` twice never starts a second one.
  const recorded = readStackRecord(path.resolve(options.stateDir))?.runtime;
  const runtime = recorded ?? (await chooseRuntime(options.runtime));
  if (runtime === 'docker') {
    // The compose file mounts only the generated rules and sends no notifications (docs/alerts.md).
    if ((options.extraRules?.length ?? 0) > 0 || options.alertWebhookUrl) {
      throw new UserError('--rules and --alert-webhook apply to the native runtime; the docker runtime loads only the generated rules and notifies no one', ['sagewai-obs up --runtime native --rules … --alert-webhook …', 'or edit the vmalert service in docker-compose.yml (docs/alerts.md)']);
    }
    return { runtime, ...(await upDocker(options)) };
  }
  return { runtime, ...(await upNative(options)) };
}

export async function down(options: { stateDir: string; purge?: boolean | undefined; timeoutMs?: number | undefined }): Promise<DownResult & { runtime: 'native' | 'docker' | null }> {
  const record = readStackRecord(path.resolve(options.stateDir));
  if (record?.runtime === 'docker') {
    await downDocker(options);
    return { runtime: 'docker', wasRunning: true, stopped: {}, purged: Boolean(options.purge) };
  }
  return { runtime: record ? 'native' : null, ...(await downNative(options)) };
}
