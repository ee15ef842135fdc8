import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheDir, packageRoot } from '../src/paths.js';
import { composeEnv } from '../src/stack/docker.js';
import { DEFAULT_PORTS } from '../src/stack/ports.js';

/**
 * This machine has no Docker engine, so neither compose file can be run here. Short of running
 * them, they are loaded by compose-go, the Compose Specification's reference loader and the
 * library `docker compose` itself parses files with (tools/compose-check): its JSON-schema
 * validation, variable interpolation (with the variables `up` sets) and normalisation. A file
 * that `docker compose` would refuse to load fails here.
 */
const root = packageRoot();
const toolDir = path.join(root, 'tools', 'compose-check');
let checker = '';

function buildChecker(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(fs.readFileSync(path.join(toolDir, f)));
  const bin = path.join(defaultCacheDir(), `compose-check-${hash.digest('hex').slice(0, 12)}`);
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(path.dirname(bin), { recursive: true });
  const tmp = `${bin}.${process.pid}.tmp`;
  const r = spawnSync('go', ['build', '-trimpath', '-o', tmp, '.'], { cwd: toolDir, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`building tools/compose-check failed: ${r.stderr || r.error?.message}`);
  fs.renameSync(tmp, bin);
  return bin;
}

interface Loaded {
  status: number | null;
  stderr: string;
  project?: {
    services: Record<string, { image?: string; ports?: { host_ip?: string; published?: string; target: number }[]; volumes?: { type: string; source?: string; read_only?: boolean }[]; depends_on?: Record<string, unknown>; environment?: Record<string, string | null> }>;
  };
}

function load(file: string, env: Record<string, string>): Loaded {
  const clean: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  const r = spawnSync(checker, [file], { cwd: path.dirname(file), env: { ...clean, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, ...(r.status === 0 ? { project: JSON.parse(r.stdout) as Loaded['project'] } : {}) };
}

const upEnv = composeEnv({ ...DEFAULT_PORTS }, 'test-grafana-password');
const clusterEnv = { ...upEnv, SAGEWAI_OBS_POSTGRES_PASSWORD: 'test-postgres-password' };

function checkProject(p: NonNullable<Loaded['project']>): void {
  const names = Object.keys(p.services);
  expect(names.length).toBeGreaterThan(0);
  for (const [name, s] of Object.entries(p.services)) {
    expect(s.image, `${name} has a pinned image`).toMatch(/^[^:]+:[^:]+$/);
    expect(s.image, name).not.toMatch(/:latest$/);
    for (const port of s.ports ?? []) expect(port.host_ip, `${name} publishes ${port.target} on loopback only`).toBe('127.0.0.1');
    for (const dep of Object.keys(s.depends_on ?? {})) expect(names, `${name} depends on ${dep}`).toContain(dep);
    for (const v of s.volumes ?? []) {
      if (v.type !== 'bind') continue;
      expect(fs.existsSync(v.source ?? ''), `${name} mounts ${v.source ?? '?'}, which must exist`).toBe(true);
      expect(v.read_only, `${name} mounts ${v.source ?? '?'} read-only`).toBe(true);
    }
  }
}

describe('compose files under the Compose Specification loader', { timeout: 360_000 }, () => {
  beforeAll(() => {
    checker = buildChecker();
  }, 360_000);

  it('docker-compose.yml loads with the variables `up --runtime docker` sets', () => {
    const r = load(path.join(root, 'docker-compose.yml'), upEnv);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    checkProject(r.project!);
    expect(Object.keys(r.project!.services).sort()).toEqual(['collector', 'grafana', 'victoria-logs', 'victoria-metrics', 'vmalert']);
  });

  it('docker-compose.cluster.yml loads, wires 16 services and resolves every mount', () => {
    const r = load(path.join(root, 'docker-compose.cluster.yml'), clusterEnv);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    checkProject(r.project!);
    expect(Object.keys(r.project!.services)).toHaveLength(16);
    expect(r.project!.services.postgres?.environment?.POSTGRES_PASSWORD).toBe('test-postgres-password');
  });

  it('refuses to start without the passwords instead of using a default', () => {
    const noPg = load(path.join(root, 'docker-compose.cluster.yml'), upEnv);
    expect(noPg.status).toBe(1);
    expect(noPg.stderr).toContain('SAGEWAI_OBS_POSTGRES_PASSWORD');
    const { SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD: _unused, ...noGrafana } = upEnv;
    const r = load(path.join(root, 'docker-compose.yml'), noGrafana);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('SAGEWAI_OBS_GRAFANA_ADMIN_PASSWORD');
  });

  it('the loader rejects what docker compose would reject (a misspelt key)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-spec-'));
    try {
      const text = fs.readFileSync(path.join(root, 'docker-compose.yml'), 'utf8').replace(/^(\s+)image:/m, '$1imagee:');
      fs.writeFileSync(path.join(dir, 'docker-compose.yml'), text);
      const r = load(path.join(dir, 'docker-compose.yml'), upEnv);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/imagee/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
