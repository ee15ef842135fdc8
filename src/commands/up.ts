import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, resolveStateDir } from '../clients/endpoints.js';
import { up, type Runtime } from '../stack/runtime.js';
import { color } from '../ui/color.js';
import { createStepRenderer, silentSteps } from '../ui/progress.js';
import type { Ports } from '../stack/ports.js';
import type { ClusterPorts, Profile } from '../stack/cluster.js';
import { UserError } from '../errors.js';

const port = (description: string, env: string) => Flags.integer({ description, env, min: 1, max: 65535, helpGroup: 'PORTS' });

export default class Up extends BaseCommand<typeof Up> {
  static override summary = 'Start the collector, VictoriaMetrics, VictoriaLogs and vmalert and wait until they are healthy';
  static override examples = ['<%= config.bin %> up', '<%= config.bin %> up --runtime native --vm-port 18428', '<%= config.bin %> up --json', '<%= config.bin %> up --runtime native --profile cluster'];

  static override flags = {
    profile: Flags.string({
      description: 'default: one collector, VictoriaMetrics, VictoriaLogs and vmalert. cluster (native): VictoriaLogs as two storage nodes behind an insert and a select node, VictoriaMetrics as two nodes fed by vmagent (every sample to both) and read through vmauth (docs/scale.md)',
      env: 'SAGEWAI_OBS_PROFILE',
      options: ['default', 'cluster'],
      default: 'default',
    }),
    runtime: Flags.string({ description: 'docker (compose, with Grafana), native (processes from the binary cache), or auto (docker when an engine answers)', env: 'SAGEWAI_OBS_RUNTIME', options: ['auto', 'native', 'docker'], default: 'auto' }),
    'state-dir': endpointFlags['state-dir'],
    'cache-dir': Flags.string({ description: 'Binary cache [default: $XDG_CACHE_HOME/sagewai-obs/bin]', env: 'SAGEWAI_OBS_CACHE_DIR' }),
    'collector-bin': Flags.string({ description: 'Collector binary to run instead of the cached one', env: 'SAGEWAI_OBS_COLLECTOR_BIN' }),
    'vm-bin': Flags.string({ description: 'VictoriaMetrics binary to run instead of the cached one', env: 'SAGEWAI_OBS_VM_BIN' }),
    'vl-bin': Flags.string({ description: 'VictoriaLogs binary to run instead of the cached one', env: 'SAGEWAI_OBS_VL_BIN' }),
    'vmalert-bin': Flags.string({ description: 'vmalert binary to run instead of the cached one', env: 'SAGEWAI_OBS_VMALERT_BIN' }),
    'vmagent-bin': Flags.string({ description: 'vmagent binary to run instead of the cached one (cluster profile)', env: 'SAGEWAI_OBS_VMAGENT_BIN' }),
    'vmauth-bin': Flags.string({ description: 'vmauth binary to run instead of the cached one (cluster profile)', env: 'SAGEWAI_OBS_VMAUTH_BIN' }),
    rules: Flags.string({ description: 'More vmalert rule files (comma-separated paths or globs) loaded with the generated ones; a broken one stops `up` before anything starts (native runtime)', env: 'SAGEWAI_OBS_RULES', helpGroup: 'ALERTS' }),
    'alert-webhook': Flags.string({ description: 'Alertmanager (or any receiver of its API v2) that vmalert posts alerts to [default: none, alerts are only shown by `alerts`] (native runtime)', env: 'SAGEWAI_OBS_ALERT_WEBHOOK', helpGroup: 'ALERTS' }),
    timeout: Flags.integer({ description: 'Seconds to wait for each component to become healthy', env: 'SAGEWAI_OBS_UP_TIMEOUT', min: 1, default: 60 }),
    'otlp-grpc-port': port('Collector OTLP gRPC port [default: 4317]', 'SAGEWAI_OBS_OTLP_GRPC_PORT'),
    'otlp-http-port': port('Collector OTLP HTTP port [default: 4318]', 'SAGEWAI_OBS_OTLP_HTTP_PORT'),
    'prom-port': port('Collector prometheus exporter port [default: 8889]', 'SAGEWAI_OBS_PROM_PORT'),
    'collector-metrics-port': port('Collector self-metrics port [default: 8888]', 'SAGEWAI_OBS_COLLECTOR_METRICS_PORT'),
    'collector-health-port': port('Collector health_check port [default: 13133]', 'SAGEWAI_OBS_COLLECTOR_HEALTH_PORT'),
    'vm-port': port('VictoriaMetrics port [default: 8428]', 'SAGEWAI_OBS_VM_PORT'),
    'vl-port': port('VictoriaLogs port [default: 9428]', 'SAGEWAI_OBS_VL_PORT'),
    'vmalert-port': port('vmalert port [default: 8880]', 'SAGEWAI_OBS_VMALERT_PORT'),
    'grafana-port': port('Grafana port, docker runtime only [default: 3000]', 'SAGEWAI_OBS_GRAFANA_PORT'),
    'vl-storage-ports': Flags.string({ description: 'Cluster profile: the two VictoriaLogs storage nodes\' ports, comma-separated [default: 9491,9492]', env: 'SAGEWAI_OBS_VL_STORAGE_PORTS', helpGroup: 'CLUSTER PORTS' }),
    'vl-insert-port': Flags.integer({ description: 'Cluster profile: VictoriaLogs insert node port (the collector ships logs here) [default: 9481]', env: 'SAGEWAI_OBS_VL_INSERT_PORT', min: 1, max: 65535, helpGroup: 'CLUSTER PORTS' }),
    'vm2-port': Flags.integer({ description: 'Cluster profile: the second VictoriaMetrics node port [default: 8438]', env: 'SAGEWAI_OBS_VM2_PORT', min: 1, max: 65535, helpGroup: 'CLUSTER PORTS' }),
    'vmauth-port': Flags.integer({ description: 'Cluster profile: vmauth port, the recorded VictoriaMetrics URL [default: 8427]', env: 'SAGEWAI_OBS_VMAUTH_PORT', min: 1, max: 65535, helpGroup: 'CLUSTER PORTS' }),
    'vmagent-port': Flags.integer({ description: 'Cluster profile: vmagent port [default: 8429]', env: 'SAGEWAI_OBS_VMAGENT_PORT', min: 1, max: 65535, helpGroup: 'CLUSTER PORTS' }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const ports: Partial<Ports> = {
      otlpGrpc: f['otlp-grpc-port'],
      otlpHttp: f['otlp-http-port'],
      promExporter: f['prom-port'],
      collectorMetrics: f['collector-metrics-port'],
      collectorHealth: f['collector-health-port'],
      vm: f['vm-port'],
      vl: f['vl-port'],
      vmalert: f['vmalert-port'],
      grafana: f['grafana-port'],
    };
    const storage = f['vl-storage-ports']?.split(',').map((p) => Number(p.trim()));
    if (storage && (storage.length !== 2 || storage.some((p) => !Number.isInteger(p) || p < 1 || p > 65535))) {
      throw new UserError(`--vl-storage-ports ${JSON.stringify(f['vl-storage-ports'])} is not two ports`, 'sagewai-obs up --profile cluster --vl-storage-ports 9491,9492');
    }
    const clusterPorts: Partial<ClusterPorts> = { vlStorage1: storage?.[0], vlStorage2: storage?.[1], vlInsert: f['vl-insert-port'], vm2: f['vm2-port'], vmauth: f['vmauth-port'], vmagent: f['vmagent-port'] };
    const steps = this.jsonEnabled() ? silentSteps : createStepRenderer();
    const result = await up({
      runtime: f.runtime as Runtime,
      stateDir: resolveStateDir(f['state-dir']),
      cacheDir: f['cache-dir'],
      ports,
      profile: f.profile as Profile,
      clusterPorts,
      binaries: { collector: f['collector-bin'], 'victoria-metrics': f['vm-bin'], 'victoria-logs': f['vl-bin'], vmalert: f['vmalert-bin'], vmagent: f['vmagent-bin'], vmauth: f['vmauth-bin'] },
      extraRules: f.rules?.split(','),
      alertWebhookUrl: f['alert-webhook'],
      healthTimeoutMs: f.timeout * 1000,
      steps,
    }).finally(() => steps.stop());
    if (this.jsonEnabled()) return result;
    const e = result.record.endpoints;
    this.printLine(result.alreadyRunning ? `already running (${result.runtime}, since ${result.record.startedAt}); nothing started` : `stack is up (${result.runtime})`);
    const k = color();
    const ready = (c: keyof typeof result.readyMs) => (result.readyMs[c] === undefined ? '' : k.dim(`  ready in ${result.readyMs[c]} ms`));
    this.printLine(`  collector         OTLP ${e.otlpHttp} (HTTP), ${e.otlpGrpc} (gRPC); health ${e.collectorHealth}${ready('collector')}`);
    const cl = result.record.cluster;
    this.printLine(`  VictoriaMetrics   ${e.vmUrl}${cl ? ` (vmauth over ${cl.vmNodes.join(' and ')}, fed by vmagent ${cl.vmagentUrl})` : ''}${ready('victoria-metrics')}`);
    this.printLine(`  VictoriaLogs      ${e.vlUrl}${cl ? ` (select node; insert node ${cl.vlInsertUrl}, storage ${cl.processes['vlstorage-1'].url} and ${cl.processes['vlstorage-2'].url})` : ''}${ready('victoria-logs')}`);
    if (result.scrapesUpMs !== undefined) this.printLine(`  first scrapes up  ${k.dim(`${result.scrapesUpMs} ms after up started`)}`);
    if (e.vmalertUrl) this.printLine(`  vmalert           ${e.vmalertUrl}${ready('vmalert')}`);
    if (e.grafanaUrl) this.printLine(`  Grafana           ${e.grafanaUrl} (user admin, password in the state dir: grafana-admin-password)`);
    return result;
  }
}
