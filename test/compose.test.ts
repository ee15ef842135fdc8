import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../src/paths.js';
import { composeEnv, grafanaPassword } from '../src/stack/docker.js';
import { DEFAULT_PORTS } from '../src/stack/ports.js';
import { PINNED } from '../src/stack/versions.js';

/** docker-compose.yml cannot run on this machine (no engine), so it is checked by parsing. */
interface Service {
  image?: string;
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}
const root = packageRoot();
const compose = parse(fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = Object.entries(compose.services);

describe('docker-compose.yml', () => {
  it('runs the same components as the native runtime, plus Grafana', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['collector', 'grafana', 'victoria-logs', 'victoria-metrics', 'vmalert']);
  });

  it('pins every image to the versions in src/stack/versions.ts', () => {
    const expected: Record<string, string> = {
      collector: PINNED.collector.image,
      'victoria-metrics': PINNED['victoria-metrics'].image,
      'victoria-logs': PINNED['victoria-logs'].image,
      vmalert: PINNED.vmalert.image,
      grafana: PINNED.grafana.image,
    };
    for (const [name, svc] of services) {
      expect(svc.image, name).toBe(expected[name]);
      expect(svc.image, name).not.toMatch(/:latest$|^[^:]+$/);
    }
    // The collector image is the contrib distribution at the release our manifest builds.
    expect(fs.readFileSync(path.join(root, 'assets/collector/manifest.yaml'), 'utf8')).toContain(`version: ${PINNED.collector.version}`);
  });

  it('mounts only files that exist, read-only, from assets/', () => {
    let binds = 0;
    for (const [name, svc] of services) {
      for (const v of svc.volumes ?? []) {
        const [src, , mode] = v.split(':');
        if (!src || !src.startsWith('.')) {
          expect(compose.volumes, `${name}: named volume ${src}`).toHaveProperty(src ?? '');
          continue;
        }
        binds++;
        expect(src, `${name}: ${v}`).toMatch(/^\.\/assets\//);
        expect(mode, `${name}: ${v} must be :ro`).toBe('ro');
        expect(fs.existsSync(path.join(root, src)), `${name}: ${src} exists`).toBe(true);
      }
    }
    expect(binds).toBe(6); // scrape config, collector config and its genai part, Grafana provisioning and dashboards, vmalert rules
  });

  it('publishes every port on 127.0.0.1 only, with the default ports of the contract', () => {
    const published: number[] = [];
    for (const [name, svc] of services) {
      for (const p of svc.ports ?? []) {
        expect(p, `${name}: ${p}`).toMatch(/^127\.0\.0\.1:/);
        const m = /^127\.0\.0\.1:\$\{(\w+):-(\d+)\}:\d+$/.exec(p);
        expect(m, `${name}: ${p} uses a SAGEWAI_OBS_* port variable with a default`).not.toBeNull();
        published.push(Number(m?.[2]));
        // up --runtime docker sets exactly these variables.
        expect(Object.keys(composeEnv(DEFAULT_PORTS, 'x'))).toContain(m?.[1]);
      }
    }
    expect(published.sort((a, b) => a - b)).toEqual(Object.values(DEFAULT_PORTS).sort((a, b) => a - b));
  });

  it('never falls back to a default Grafana admin password', () => {
    const pw = compose.services.grafana?.environment?.GF_SECURITY_ADMIN_PASSWORD ?? '';
    expect(pw).toMatch(/^\$\{SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD:\?/);
    expect(JSON.stringify(compose)).not.toMatch(/admin\/admin|PASSWORD:-/);
  });
});

describe('the Grafana admin password', () => {
  it('is generated once into the state dir with mode 0600 and reused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-grafana-'));
    try {
      const first = grafanaPassword(dir);
      expect(first.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
      expect(grafanaPassword(dir).password).toBe(first.password);
      expect(grafanaPassword(fs.mkdtempSync(path.join(dir, 'other-'))).password).not.toBe(first.password);
      expect(composeEnv(DEFAULT_PORTS, first.password).SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD).toBe(first.password);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
