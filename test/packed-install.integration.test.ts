import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardJson } from '../src/queries/dashboard.js';
import { defaultCacheDir, packageRoot } from '../src/paths.js';
import { freePorts } from '../src/stack/ports.js';
import type { StackStatus } from '../src/stack/status.js';
import type { StackRecord } from '../src/stack/state.js';

// The package as a user gets it: `npm pack`, then `npm install -g --prefix <temp> <tarball>`
// (dependencies from the npm cache where it has them), then `sagewai-obs` from PATH, run from a
// directory outside the clone, against the cached stack binaries, with its own state and ports.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(file: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0, stdout, stderr }),
    );
  });
}

const root = packageRoot();
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const binaryCache = defaultCacheDir();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-pkg-'));
const prefix = path.join(tmp, 'prefix');
const outside = path.join(tmp, 'somewhere-else');
const stateDir = path.join(tmp, 'state');
let tarball: string;
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };
let installedDir: string;
let cliEnv: NodeJS.ProcessEnv;
let pids: number[] = [];

/** `sagewai-obs …` found on PATH, as a user types it. */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> => exec('sagewai-obs', args, { cwd: outside, env: { ...cliEnv, ...env } });

/** Every file of the installed package outside node_modules, with size and mtime. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (p !== path.join(dir, 'node_modules')) walk(p);
      } else {
        const st = fs.statSync(p);
        out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

async function untar(file: string, into: string): Promise<void> {
  const r = await exec('tar', ['-xzf', file, '-C', into], { cwd: into, env: process.env });
  expect(r.code, r.stderr).toBe(0);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'commands', 'up.js')) || !fs.existsSync(path.join(root, 'oclif.manifest.json'))) {
    throw new Error('the CLI is not built; run `npm run build` first');
  }
  fs.mkdirSync(outside, { recursive: true });
  // Under `npm test`, npm's own lifecycle variables (the clone's package, its prefix) are in the
  // environment; the install below must not inherit them. The user's npm settings (registry, cache) stay.
  const npmEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|config_(local_prefix|prefix|global_prefix|global)$)/i.test(k)));
  Object.assign(npmEnv, { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });
  const pack = await exec('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: root, env: npmEnv });
  expect(pack.code, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0] as typeof packed;
  tarball = path.join(tmp, packed.filename);
  const t0 = Date.now();
  // Dependencies come from the npm cache when it has them (--prefer-offline); better-sqlite3
  // compiles its native module unless a prebuilt one can be fetched.
  const install = await exec('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], { cwd: outside, env: npmEnv, timeoutMs: 900_000 });
  expect(install.code, install.stderr).toBe(0);
  installedDir = path.join(prefix, 'lib', 'node_modules', 'sagewai-obs');
  process.stdout.write(
    `[package] ${path.basename(tarball)}: ${(packed.size / 1024).toFixed(0)} kB packed, ${(packed.unpackedSize / 1024).toFixed(0)} kB unpacked, ${packed.files.length} files; npm install -g took ${((Date.now() - t0) / 1000).toFixed(0)} s\n`,
  );
  // No SAGEWAI_OBS_* of the developer's shell, no XDG dirs of theirs: only the binary cache is shared.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_') && !k.startsWith('XDG_') && !k.startsWith('npm_')));
  cliEnv = {
    ...inherited,
    PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), process.env.PATH ?? ''].join(path.delimiter),
    XDG_CONFIG_HOME: path.join(tmp, 'config'),
    XDG_CACHE_HOME: path.join(tmp, 'cache'),
    XDG_DATA_HOME: path.join(tmp, 'data'),
    XDG_STATE_HOME: path.join(tmp, 'xdg-state'),
    SAGEWAI_OBS_STATE_DIR: stateDir,
    SAGEWAI_OBS_CACHE_DIR: binaryCache,
    OTEL_SDK_DISABLED: 'true',
  };
}, 900_000);

afterAll(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('carries the CLI, its assets and nothing else: no tests, benches, docs, sources, source maps or machine paths', async () => {
    const files = packed.files.map((f) => f.path);
    for (const needed of ['bin/run.js', 'bin/node-check.js', 'bin/node-flags.js', 'oclif.manifest.json', 'package.json', 'README.md', 'docker-compose.yml', 'dist/src/commands/up.js', 'dist/src/backend/main.js', 'dist/src/backend/telemetry-worker.js', 'dist/examples/ex43-observatory-live.js', 'assets/pricebook.json', 'assets/collector/config.yaml', 'assets/collector/manifest.yaml', 'assets/collector/genai.yaml', 'assets/vmalert/recording.yml', 'assets/vmalert/alerts.yml', 'examples/genai/openai-node-app.mjs', 'examples/genai/openai_python_app.py', 'examples/genai/requirements.txt', 'assets/victoria-metrics/scrape.yaml', 'assets/grafana/dashboards/sagewai-admin.json', 'assets/grafana/provisioning/datasources/sagewai.yaml']) {
      expect(files).toContain(needed);
    }
    // examples/genai holds the external apps run-example 17 runs (a Node and a Python app, not sources of the CLI).
    const unwanted = files.filter((f) => /^(test|bench|docs|scripts|src|coverage|\.ci|node_modules)\//.test(f) || (/^examples\//.test(f) && !/^examples\/genai\/[\w.-]+\.(mjs|py|txt)$/.test(f)) || /^dist\/(test|bench)\//.test(f) || /\.map$|\.tsbuildinfo$|(?<!\.d)\.tsx?$|^(tsconfig|vitest\.config|eslint\.config)/.test(f) || f.startsWith('assets/collector/build/'));
    expect(unwanted).toEqual([]);

    // Every file of the package is text; none may name a path of the machine that packed it.
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(unpacked);
    await untar(tarball, unpacked);
    const machine = [root, os.homedir(), os.tmpdir()].filter((p) => p.length > 1).map((p) => `${p}/`);
    const findings: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(unpacked, 'package', f), 'utf8');
      for (const m of machine) if (text.includes(m)) findings.push(`${f}: ${m}`);
      const abs = /(?<![\w.~])\/(?:work|root|home|Users|tmp|var\/folders)\/[\w.-]+/.exec(text);
      if (abs) findings.push(`${f}: ${abs[0]}`);
    }
    expect(findings).toEqual([]);
    expect(packed.size).toBeLessThan(400 * 1024); // docs/stack.md states the size; this keeps it honest
  });

  it('sagewai-obs is on PATH and prints its version, from a directory outside the clone', async () => {
    expect(fs.realpathSync(path.join(prefix, 'bin', 'sagewai-obs'))).toBe(fs.realpathSync(path.join(installedDir, 'bin', 'run.js')));
    const r = await cli(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^sagewai-obs/${version.replace(/\./g, '\\.')} `));
  });

  it('up / status / down against the cached binaries use the configs inside the installed package, and write nothing into it', async () => {
    const before = snapshot(installedDir);
    // Without the binaries, up still says exactly what to run.
    const missing = await cli(['up', '--runtime', 'native'], { SAGEWAI_OBS_CACHE_DIR: path.join(tmp, 'empty-cache') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^Try this: sagewai-obs stack install/m);

    const p = await freePorts();
    const ports = ['--otlp-grpc-port', String(p.otlpGrpc), '--otlp-http-port', String(p.otlpHttp), '--prom-port', String(p.promExporter), '--collector-metrics-port', String(p.collectorMetrics), '--collector-health-port', String(p.collectorHealth), '--vm-port', String(p.vm), '--vl-port', String(p.vl), '--vmalert-port', String(p.vmalert)];
    const up = await cli(['up', '--runtime', 'native', ...ports]);
    expect(up.code, up.stderr).toBe(0);
    const record = JSON.parse(fs.readFileSync(path.join(stateDir, 'stack.json'), 'utf8')) as StackRecord;
    pids = Object.values(record.components).map((c) => c.pid as number);
    expect(pids.every(alive)).toBe(true);
    // The collector's, VictoriaMetrics' and vmalert's configs come from the installed package, not the clone.
    const cmdline = (pid: number): string => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    expect(cmdline(record.components.collector.pid as number)).toContain(path.join(installedDir, 'assets', 'collector', 'config.yaml'));
    expect(cmdline(record.components['victoria-metrics'].pid as number)).toContain(path.join(installedDir, 'assets', 'victoria-metrics', 'scrape.yaml'));
    expect(cmdline(record.components.collector.pid as number)).toContain(path.join(installedDir, 'assets', 'collector', 'genai.yaml'));
    expect(cmdline(record.components.vmalert.pid as number)).toContain(path.join(installedDir, 'assets', 'vmalert'));

    let status: StackStatus | undefined;
    const deadline = Date.now() + 30_000;
    do {
      const s = await cli(['status', '--json']);
      expect(s.code, s.stderr).toBe(0);
      status = JSON.parse(s.stdout) as StackStatus;
      if (status.healthy) break;
      await new Promise((res) => setTimeout(res, 1000));
    } while (Date.now() < deadline);
    expect(status?.components.map((c) => [c.component, c.healthy])).toEqual([
      ['collector', true],
      ['victoria-metrics', true],
      ['victoria-logs', true],
      ['vmalert', true],
    ]);
    expect(status?.collectorScrape).toMatchObject({ up: true });

    // The board goes to the current directory (or where --out says), never into the package.
    const exp = await cli(['dashboard', 'export']);
    expect(exp.code, exp.stderr).toBe(0);
    expect(fs.readFileSync(path.join(outside, 'sagewai-admin.json'), 'utf8')).toBe(dashboardJson());

    const down = await cli(['down', '--purge']);
    expect(down.code, down.stderr).toBe(0);
    await new Promise((res) => setTimeout(res, 500));
    expect(pids.filter(alive)).toEqual([]);
    expect(fs.existsSync(path.join(stateDir, 'stack.json'))).toBe(false);
    expect(snapshot(installedDir)).toEqual(before);
  });

  it('serve from the installed package finds its price book and prices a call', async () => {
    const before = snapshot(installedDir);
    const child = execFile('sagewai-obs', ['serve', '--port', '0', '--json', '--latency-scale', '0'], { cwd: outside, env: cliEnv });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /"url":"([^"]+)"/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`serve exited (${code})`)));
      });
      const token = fs.readFileSync(path.join(stateDir, 'backend', 'operator-token'), 'utf8').trim();
      const { BackendClient } = await import('../src/clients/backend.js');
      const c = new BackendClient({ baseUrl: url, token });
      await c.createProject({ slug: 'pkg', name: 'Packaged' });
      await c.createAgent('pkg', { name: 'bot', model: 'gpt-4o' });
      const r = await c.run('pkg', { agent_name: 'bot', message: 'hello', simulate: { input_tokens: 1000, output_tokens: 100 } });
      expect(r.usage?.priced).toBe(true);
      expect(r.usage?.cost_nusd).toBeGreaterThan(0);
      await c.close();
    } finally {
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    }
    expect(snapshot(installedDir)).toEqual(before);
  });
});
