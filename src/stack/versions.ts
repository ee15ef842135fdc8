/**
 * Every pinned component version, in one place (STYLE 6). docker-compose.yml and the collector
 * manifest repeat these; a unit test checks they agree.
 */
export const PINNED = {
  collector: {
    version: '0.161.0',
    image: 'otel/opentelemetry-collector-contrib:0.161.0',
    binary: 'sagewai-otelcol',
  },
  'victoria-metrics': {
    version: 'v1.151.0',
    image: 'victoriametrics/victoria-metrics:v1.151.0',
    binary: 'victoria-metrics',
    goPackage: 'github.com/VictoriaMetrics/VictoriaMetrics/app/victoria-metrics',
  },
  'victoria-logs': {
    version: 'v1.52.1',
    image: 'victoriametrics/victoria-logs:v1.52.1',
    binary: 'victoria-logs',
    goPackage: 'github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs',
  },
  // VictoriaMetrics' rule engine: recording rules and alerts from assets/vmalert (generated from
  // the catalog). Same release as VictoriaMetrics; its release archive is the vmutils one.
  vmalert: {
    version: 'v1.151.0',
    image: 'victoriametrics/vmalert:v1.151.0',
    binary: 'vmalert',
    goPackage: 'github.com/VictoriaMetrics/VictoriaMetrics/app/vmalert',
  },
  // The cluster profile (`up --profile cluster`): vmagent scrapes the collectors and replicates
  // every sample to two VictoriaMetrics; vmauth balances reads over them. Same module and release
  // as VictoriaMetrics; their release archive is the vmutils one.
  vmagent: {
    version: 'v1.151.0',
    image: 'victoriametrics/vmagent:v1.151.0',
    binary: 'vmagent',
    goPackage: 'github.com/VictoriaMetrics/VictoriaMetrics/app/vmagent',
  },
  vmauth: {
    version: 'v1.151.0',
    image: 'victoriametrics/vmauth:v1.151.0',
    binary: 'vmauth',
    goPackage: 'github.com/VictoriaMetrics/VictoriaMetrics/app/vmauth',
  },
  grafana: {
    version: '12.2.0',
    image: 'grafana/grafana:12.2.0',
    binary: 'grafana',
  },
} as const;

export type ComponentName = 'collector' | 'victoria-metrics' | 'victoria-logs' | 'vmalert';

/** Everything `stack install` caches: the default stack's components plus the cluster profile's tools. */
export type InstallableName = ComponentName | 'vmagent' | 'vmauth';

/**
 * The VictoriaMetrics cluster images of the same release, used only by docker-compose.cluster.yml
 * (their binaries are not main programs of the module the Go proxy serves, so there is no native build).
 */
export const CLUSTER_IMAGES = {
  vmstorage: 'victoriametrics/vmstorage:v1.151.0-cluster',
  vminsert: 'victoriametrics/vminsert:v1.151.0-cluster',
  vmselect: 'victoriametrics/vmselect:v1.151.0-cluster',
  // The ledger's database and the image the backend replicas run `sagewai-obs serve` in (Node 20).
  postgres: 'postgres:17.6-bookworm',
  node: 'node:20.19.5-bookworm-slim',
} as const;

/** The collector builder (ocb) that turns assets/collector/manifest.yaml into our collector. */
export const COLLECTOR_BUILDER = {
  goPackage: 'go.opentelemetry.io/collector/cmd/builder',
  version: 'v0.161.0',
  binary: 'ocb',
} as const;

/**
 * Official release archives (download step of `stack install`). The archive holds `<binary>-prod`.
 * SHA-256 values are pinned here per archive name. None is pinned yet: the build machine could not
 * reach the release pages to read the published *_checksums.txt, and an unverified value is worse
 * than none. Until one is pinned, a checksum must come from a checksums file the user supplies
 * (`--release-checksums`, sha256sum format, e.g. the release's own *_checksums.txt); without one
 * the download step is skipped, never run unchecked.
 */
export const RELEASES: Record<Exclude<InstallableName, 'collector'>, { defaultBaseUrl: string; archive: (arch: string) => string; binaryInArchive: string }> = {
  'victoria-metrics': {
    defaultBaseUrl: `https://github.com/VictoriaMetrics/VictoriaMetrics/releases/download/${PINNED['victoria-metrics'].version}`,
    archive: (arch) => `victoria-metrics-linux-${arch}-${PINNED['victoria-metrics'].version}.tar.gz`,
    binaryInArchive: 'victoria-metrics-prod',
  },
  'victoria-logs': {
    defaultBaseUrl: `https://github.com/VictoriaMetrics/VictoriaLogs/releases/download/${PINNED['victoria-logs'].version}`,
    archive: (arch) => `victoria-logs-linux-${arch}-${PINNED['victoria-logs'].version}.tar.gz`,
    binaryInArchive: 'victoria-logs-prod',
  },
  vmalert: {
    defaultBaseUrl: `https://github.com/VictoriaMetrics/VictoriaMetrics/releases/download/${PINNED.vmalert.version}`,
    archive: (arch) => `vmutils-linux-${arch}-${PINNED.vmalert.version}.tar.gz`,
    binaryInArchive: 'vmalert-prod',
  },
  vmagent: {
    defaultBaseUrl: `https://github.com/VictoriaMetrics/VictoriaMetrics/releases/download/${PINNED.vmagent.version}`,
    archive: (arch) => `vmutils-linux-${arch}-${PINNED.vmagent.version}.tar.gz`,
    binaryInArchive: 'vmagent-prod',
  },
  vmauth: {
    defaultBaseUrl: `https://github.com/VictoriaMetrics/VictoriaMetrics/releases/download/${PINNED.vmauth.version}`,
    archive: (arch) => `vmutils-linux-${arch}-${PINNED.vmauth.version}.tar.gz`,
    binaryInArchive: 'vmauth-prod',
  },
};

/** archive file name → lowercase hex SHA-256 (see RELEASES). */
export const PINNED_RELEASE_SHA256: Readonly<Record<string, string>> = {};
