import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../src/paths.js';
import { CLUSTER_IMAGES, PINNED } from '../src/stack/versions.js';

/**
 * docker-compose.cluster.yml cannot run on this machine (no Docker engine), so it is checked by
 * parsing: its pins, its mounts, its ports, its wiring.
 */
interface Service {
  image?: string;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}
const root = packageRoot();
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.cluster.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = Object.entries(compose.services);
const svc = (name: string): Service => compose.services[name] as Service;

describe('docker-compose.cluster.yml', () => {
  it('runs the whole cluster topology', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ['backend-1', 'backend-2', 'collector-1', 'collector-2', 'grafana', 'postgres', 'vlinsert', 'vlselect', 'vlstorage-1', 'vlstorage-2', 'vmagent', 'vmalert', 'vminsert', 'vmselect', 'vmstorage-1', 'vmstorage-2'].sort(),
    );
  });

  it('pins every image to src/stack/versions.ts', () => {
    const expected: Record<string, string> = {
      'vmstorage-1': CLUSTER_IMAGES.vmstorage,
      'vmstorage-2': CLUSTER_IMAGES.vmstorage,
      vminsert: CLUSTER_IMAGES.vminsert,
      vmselect: CLUSTER_IMAGES.vmselect,
      vmagent: PINNED.vmagent.image,
      'vlstorage-1': PINNED['victoria-logs'].image,
      'vlstorage-2': PINNED['victoria-logs'].image,
      vlinsert: PINNED['victoria-logs'].image,
      vlselect: PINNED['victoria-logs'].image,
      'collector-1': PINNED.collector.image,
      'collector-2': PINNED.collector.image,
      postgres: CLUSTER_IMAGES.postgres,
      'backend-1': CLUSTER_IMAGES.node,
      'backend-2': CLUSTER_IMAGES.node,
      vmalert: PINNED.vmalert.image,
      grafana: PINNED.grafana.image,
    };
    for (const [name, s] of services) {
      expect(s.image, name).toBe(expected[name]);
      expect(s.image, name).not.toMatch(/:latest$|^[^:]+$/);
    }
    // The VictoriaMetrics cluster images are the -cluster tags of the same release as the single node.
    for (const image of [CLUSTER_IMAGES.vmstorage, CLUSTER_IMAGES.vminsert, CLUSTER_IMAGES.vmselect]) expect(image).toMatch(new RegExp(`:${PINNED['victoria-metrics'].version.replace(/\./g, '\\.')}-cluster$`));
  });

  it('mounts only files and directories that exist, read-only', () => {
    let binds = 0;
    for (const [name, s] of services) {
      for (const v of s.volumes ?? []) {
        const [src, , mode] = v.split(':');
        if (!src || !src.startsWith('.')) {
          expect(compose.volumes, `${name}: named volume ${src}`).toHaveProperty(src ?? '');
          continue;
        }
        binds++;
        expect(mode, `${name}: ${v} must be :ro`).toBe('ro');
        expect(fs.existsSync(path.join(root, src)), `${name}: ${src} exists`).toBe(true);
      }
    }
    expect(binds).toBe(9); // the checkout ×2 (backends), collector config ×2, scrape config, vmalert rules, Grafana datasources, provisioning and board
    // The backend replicas run the built CLI from the checkout.
    expect(fs.existsSync(path.join(root, 'bin', 'run.js'))).toBe(true);
  });

  it('replicates: two storage nodes behind each insert and select node', () => {
    expect(svc('vminsert').command).toEqual(expect.arrayContaining(['-storageNode=vmstorage-1:8400,vmstorage-2:8400', '-replicationFactor=2']));
    expect(svc('vmselect').command).toEqual(expect.arrayContaining(['-storageNode=vmstorage-1:8401,vmstorage-2:8401', '-replicationFactor=2']));
    expect(svc('vlinsert').command).toContain('-storageNode=vlstorage-1:9428,vlstorage-2:9428');
    expect(svc('vlselect').command).toContain('-storageNode=vlstorage-1:9428,vlstorage-2:9428');
    expect(svc('vlselect').command?.join(' ')).not.toContain('allowPartialResponse');
    expect(svc('collector-1').environment?.SAGEWAI_VL_OTLP_ENDPOINT).toBe('http://vlinsert:9428/insert/opentelemetry');
    expect(svc('vmagent').command).toContain('-remoteWrite.url=http://vminsert:8480/insert/0/prometheus/api/v1/write');
    for (const b of ['backend-1', 'backend-2']) expect(svc(b).command?.join(' ')).toMatch(/serve .*--database postgres:\/\/.*@postgres:5432\//);
  });

  it('publishes ports on 127.0.0.1 only, and sets no default password', () => {
    for (const [name, s] of services) for (const p of s.ports ?? []) expect(p, `${name}: ${p}`).toMatch(/^127\.0\.0\.1:\$\{SAGEWAI_OBS_\w+:-\d+\}:\d+$/);
    expect(svc('postgres').environment?.POSTGRES_PASSWORD).toMatch(/^\$\{SAGEWAI_OBS_POSTGRES_PASSWORD:\?/);
    expect(svc('grafana').environment?.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD:\?/);
  });

  it("scrapes with the single-node file's job names and intervals, so the catalog and doctor see the same jobs as fresh", () => {
    type Scrape = { global: { scrape_interval: string }; scrape_configs: { job_name: string; scrape_interval?: string }[] };
    const jobs = (file: string) => {
      const c = parse(fs.readFileSync(path.join(root, file), 'utf8')) as Scrape;
      return c.scrape_configs.map((j) => [j.job_name, j.scrape_interval ?? c.global.scrape_interval]);
    };
    expect(jobs('assets/cluster/scrape.yaml')).toEqual(jobs('assets/victoria-metrics/scrape.yaml'));
    // The business series every second (docs/stack.md → Freshness), the rest every 2 s.
    expect(jobs('assets/victoria-metrics/scrape.yaml')).toEqual([['otel-collector', '1s'], ['otelcol-internal', '2s'], ['victoria-metrics', '2s']]);
  });
});
