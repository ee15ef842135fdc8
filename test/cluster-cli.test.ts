import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';

/**
 * Bad input to `up --profile cluster`, through the built binary (`npm run build` first): exit 2,
 * one "Error:" line and a "Try this:" hint, and nothing started (no stack record).
 */
const bin = path.join(packageRoot(), 'bin', 'run.js');
let tmp: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [bin, ...args], { env: { ...base, SAGEWAI_OBS_CACHE_DIR: path.join(tmp, 'empty-cache') }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-cluster-cli-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('up --profile cluster: bad input', () => {
  it('under the docker runtime, points at docker-compose.cluster.yml and starts nothing', async () => {
    const state = path.join(tmp, 'state-docker');
    const r = await run(['up', '--runtime', 'docker', '--profile', 'cluster', '--state-dir', state]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^Error: --profile cluster is a native profile/m);
    expect(r.stderr).toMatch(/^Try this: sagewai-obs up --runtime native --profile cluster/m);
    expect(r.stderr).toContain('docker-compose.cluster.yml');
    expect(fs.existsSync(path.join(state, 'stack.json'))).toBe(false);
  });

  it('--vl-storage-ports must be two ports', async () => {
    const state = path.join(tmp, 'state-ports');
    const r = await run(['up', '--runtime', 'native', '--profile', 'cluster', '--vl-storage-ports', '9491', '--state-dir', state]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^Error: --vl-storage-ports "9491" is not two ports/m);
    expect(r.stderr).toMatch(/^Try this: .*--vl-storage-ports 9491,9492/m);
    expect(fs.existsSync(path.join(state, 'stack.json'))).toBe(false);
  });

  it('an unknown profile is refused by the flag parser', async () => {
    const r = await run(['up', '--profile', 'galaxy', '--state-dir', path.join(tmp, 'state-x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Expected --profile=galaxy to be one of: default, cluster/);
  });
});
