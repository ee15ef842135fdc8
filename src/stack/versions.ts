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
  grafana: {
    version: '12.2.0',
    image: 'grafana/grafana:12.2.0',
    binary: 'grafana',
  },
} as const;

export type ComponentName = 'collector' | 'victoria-metrics' | 'victoria-logs';
