import { Flags } from '@oclif/core';
import { color, statusWord } from '../ui/color.js';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, resolveEndpoints, resolveVmalertUrl, vmalertUrlFlag } from '../clients/endpoints.js';
import { VictoriaLogsClient } from '../clients/victoria-logs.js';
import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { VmalertClient } from '../clients/vmalert.js';
import { readStackRecord } from '../stack/state.js';
import { clusterProbes } from '../stack/cluster.js';
import { CheckFailedError } from '../errors.js';
import { recordedCollectorHealthUrl, runPipelineProbes } from '../verify/index.js';
import { vmalertProbes } from '../verify/rules.js';

export default class Doctor extends BaseCommand<typeof Doctor> {
  static override summary = 'Probe the telemetry pipeline (stores, scrape, collector, data arriving, vmalert and its rules) and say what to fix';
  static override examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --json'];
  static override flags = {
    'collector-health-url': Flags.string({ description: "The collector's health_check URL [default: the running stack's]", env: 'SAGEWAI_OBS_COLLECTOR_HEALTH_URL', helpGroup: 'ENDPOINT' }),
    ...endpointFlags,
    ...vmalertUrlFlag,
  };

  public async run(): Promise<unknown> {
    const ep = resolveEndpoints(this.flags);
    const probes = await runPipelineProbes({
      vm: new VictoriaMetricsClient(ep.vmUrl),
      vl: new VictoriaLogsClient(ep.vlUrl),
      collectorHealthUrl: this.flags['collector-health-url'] ?? recordedCollectorHealthUrl(ep.stateDir),
      dataFlow: true,
    });
    // vmalert when one is given or the running stack has one (a bare VictoriaMetrics has none).
    if (this.flags['vmalert-url'] || process.env.SAGEWAI_OBS_VMALERT_URL || readStackRecord(ep.stateDir)?.endpoints.vmalertUrl) {
      probes.push(...(await vmalertProbes(new VmalertClient(resolveVmalertUrl(this.flags['vmalert-url'], ep.stateDir)))));
    }
    // The cluster profile's own processes, when the running stack has them.
    const record = readStackRecord(ep.stateDir);
    if (record?.cluster) probes.push(...(await clusterProbes(record)));
    const failed = probes.filter((p) => p.status === 'fail');
    const result = { ok: failed.length === 0, endpoints: { vm: ep.vmUrl, vl: ep.vlUrl, sources: ep.sources }, probes };
    if (!this.jsonEnabled()) {
      const k = color();
      for (const p of probes) {
        this.printLine(`${statusWord(k, p.status === 'ok' ? true : p.status === 'warn' ? 'warn' : false, p.status === 'ok' ? 'ok  ' : p.status === 'warn' ? 'warn' : 'FAIL')}  ${p.name}: ${p.detail}`);
        if (p.status !== 'ok' && p.hint) this.printLine(`      → ${p.hint}`);
      }
    }
    if (failed.length > 0) throw new CheckFailedError(`${failed.length} pipeline probe(s) failed: ${failed.map((p) => p.name).join(', ')}`, result);
    return result;
  }
}
