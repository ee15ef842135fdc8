import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { installStack, parseChecksumsFile } from '../../stack/install.js';
import { validators } from '../../settings.js';
import { createStepRenderer, silentSteps } from '../../ui/progress.js';

export default class StackInstall extends BaseCommand<typeof StackInstall> {
  static override summary = 'Obtain the pinned collector, VictoriaMetrics, VictoriaLogs, vmalert, vmagent and vmauth binaries into the cache';
  static override description =
    'Resolution order per binary: explicit path → cache ($XDG_CACHE_HOME/sagewai-obs/bin) → PATH (version checked) → release archive download (SHA-256 checked) → build from the Go module proxy. A second run does nothing.';
  static override examples = ['<%= config.bin %> stack install', '<%= config.bin %> stack install --force', '<%= config.bin %> stack install --vm-bin /usr/local/bin/victoria-metrics-prod'];

  static override flags = {
    'cache-dir': Flags.string({ description: 'Binary cache [default: $XDG_CACHE_HOME/sagewai-obs/bin]', env: 'SAGEWAI_OBS_CACHE_DIR' }),
    force: Flags.boolean({ description: 'Reinstall even when the cache holds a sound copy', env: 'SAGEWAI_OBS_FORCE', default: false }),
    'collector-bin': Flags.string({ description: 'Use this collector binary (copied into the cache)', env: 'SAGEWAI_OBS_COLLECTOR_BIN' }),
    'vm-bin': Flags.string({ description: 'Use this VictoriaMetrics binary (copied into the cache)', env: 'SAGEWAI_OBS_VM_BIN' }),
    'vl-bin': Flags.string({ description: 'Use this VictoriaLogs binary (copied into the cache)', env: 'SAGEWAI_OBS_VL_BIN' }),
    'vmalert-bin': Flags.string({ description: 'Use this vmalert binary (copied into the cache)', env: 'SAGEWAI_OBS_VMALERT_BIN' }),
    'vmagent-bin': Flags.string({ description: 'Use this vmagent binary (copied into the cache; `up --profile cluster` runs it)', env: 'SAGEWAI_OBS_VMAGENT_BIN' }),
    'vmauth-bin': Flags.string({ description: 'Use this vmauth binary (copied into the cache; `up --profile cluster` runs it)', env: 'SAGEWAI_OBS_VMAUTH_BIN' }),
    'release-base-url': Flags.string({ description: 'Download release archives from this URL (a mirror) instead of the official release pages', env: 'SAGEWAI_OBS_RELEASE_BASE_URL' }),
    'release-checksums': Flags.string({ description: 'sha256sum-format file with the SHA-256 of each release archive (e.g. the release\'s *_checksums.txt)', env: 'SAGEWAI_OBS_RELEASE_CHECKSUMS' }),
    'no-download': Flags.boolean({ description: 'Skip the release download step', env: 'SAGEWAI_OBS_NO_DOWNLOAD', default: false }),
    'no-path': Flags.boolean({ description: 'Ignore binaries found on PATH', env: 'SAGEWAI_OBS_NO_PATH', default: false }),
  };

  public async run(): Promise<unknown> {
    const f = this.flags;
    const steps = this.jsonEnabled() ? silentSteps : createStepRenderer();
    const result = await installStack({
      cacheDir: f['cache-dir'],
      force: f.force,
      binaries: { collector: f['collector-bin'], 'victoria-metrics': f['vm-bin'], 'victoria-logs': f['vl-bin'], vmalert: f['vmalert-bin'], vmagent: f['vmagent-bin'], vmauth: f['vmauth-bin'] },
      releaseBaseUrl: f['release-base-url'] === undefined ? undefined : validators.url(f['release-base-url']),
      checksums: f['release-checksums'] ? parseChecksumsFile(f['release-checksums']) : undefined,
      noDownload: f['no-download'],
      skipPath: f['no-path'],
      steps,
    }).finally(() => steps.stop());
    if (this.jsonEnabled()) return result;
    if (result.alreadyInstalled) this.printLine(`already installed in ${result.cacheDir}; nothing to do`);
    else {
      for (const c of result.components) this.printLine(`${c.component} ${c.version}: ${c.changed ? `installed from ${c.source}` : 'already installed'} (${(c.ms / 1000).toFixed(1)} s) → ${c.path}`);
    }
    return result;
  }
}
