import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';

/**
 * STYLE 8 through oclif's own contract (the built binary): `--json` (or SAGEWAI_OBS_JSON=1) makes
 * the command's returned object the only thing on stdout; an error is {"error": …} with a
 * non-zero exit; nothing goes to stderr.
 */
const root = packageRoot();
const bin = path.join(root, 'bin', 'run.js');
let tmp: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [bin, ...args], { env: { ...base, SAGEWAI_OBS_STATE_DIR: path.join(tmp, 'state'), ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-json-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('--json', { timeout: 60_000 }, () => {
  it('every command takes it through oclif (enableJsonFlag in the manifest)', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'oclif.manifest.json'), 'utf8')) as { commands: Record<string, { enableJsonFlag?: boolean }> };
    for (const [id, c] of Object.entries(manifest.commands)) expect(c.enableJsonFlag, id).toBe(true);
  });

  it('prints the returned object once, and nothing on stderr', async () => {
    const r = await run(['version', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const body = JSON.parse(r.stdout) as { 'sagewai-obs': string; pinned: Record<string, { version: string }> };
    expect(body['sagewai-obs']).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.pinned['victoria-metrics']?.version).toBe('v1.151.0');
    const env = await run(['status'], { SAGEWAI_OBS_JSON: '1' });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toMatchObject({ running: false, healthy: false });
  });

  it('an error is {"error": …} on stdout with exit 2, stderr empty', async () => {
    const r = await run(['up', '--runtime', 'podman', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('');
    const body = JSON.parse(r.stdout) as { error: { message: string; kind: string; tryThis: string[] } };
    expect(body.error.kind).toBe('usage');
    expect(body.error.message).toMatch(/podman/);
    expect(body.error.tryThis).toContain('sagewai-obs up --help');
  });
});
