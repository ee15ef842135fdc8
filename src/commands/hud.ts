import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { endpointFlags, projectFlag, resolveEndpoints, resolveVmalertUrl, vmalertUrlFlag } from '../clients/endpoints.js';
import { UserError } from '../errors.js';
import { createRealSources } from '../hud/real-sources.js';
import { parseDuration } from '../settings.js';
import { readStackRecord } from '../stack/state.js';

export default class Hud extends BaseCommand<typeof Hud> {
  static override summary = 'Live terminal HUD: KPIs, agents graph, missions in flight, fleet, spend per tenant, audit events';
  static override description =
    'Every number comes from the query catalog (VictoriaMetrics), the backend live endpoint or VictoriaLogs; a source that is down says so in its panel. Under the header, the alerts vmalert has firing (the tenant\'s own and the pipeline ones). Keys: tab/arrows move between panels, p picks a tenant, ? help, q quits. When stdout is not a terminal it prints one plain frame, like --once.';
  static override examples = ['<%= config.bin %> hud', '<%= config.bin %> hud --project acme-support --refresh 5s', '<%= config.bin %> hud --once', '<%= config.bin %> hud --json'];
  static override flags = {
    ...projectFlag,
    refresh: Flags.string({ description: 'Refresh interval', default: '2s', env: 'SAGEWAI_OBS_REFRESH' }),
    once: Flags.boolean({ description: 'Print one frame as plain text and exit', default: false, env: 'SAGEWAI_OBS_ONCE' }),
    ...endpointFlags,
    ...vmalertUrlFlag,
  };

  public async run(): Promise<unknown> {
    const refreshMs = parseDuration(this.flags.refresh);
    if (refreshMs < 250) throw new UserError(`--refresh ${this.flags.refresh} is too short`, 'use 250ms or more, e.g. --refresh 2s');
    const ep = resolveEndpoints(this.flags);
    // The alerts line needs a vmalert: one given, or the running stack's.
    const vmalertUrl = this.flags['vmalert-url'] || process.env.SAGEWAI_OBS_VMALERT_URL || readStackRecord(ep.stateDir)?.endpoints.vmalertUrl ? resolveVmalertUrl(this.flags['vmalert-url'], ep.stateDir) : undefined;
    const sources = createRealSources({ vmUrl: ep.vmUrl, vlUrl: ep.vlUrl, backendUrl: ep.backendUrl, token: ep.token, vmalertUrl });
    // React's development build keeps a performance entry for every render: a long-running HUD
    // would grow without bound. Load the UI after choosing the production build.
    process.env.NODE_ENV ??= 'production';
    // Ink renders only a final frame when it believes it runs in CI (a CI variable is set). In a
    // real terminal the operator wants the live HUD whatever the environment says, so hide the
    // variable from Ink, which reads it once when it loads.
    if (process.stdout.isTTY && process.stdin.isTTY && !this.flags.once && !this.flags.json) delete process.env.CI;
    const { renderHud } = await import('../tui/index.js');
    const { model } = await renderHud({ sources, project: this.flags.project ?? null, refreshMs, once: this.flags.once, json: this.flags.json });
    return model;
  }
}
