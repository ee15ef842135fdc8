import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';
import { rulesDir } from '../src/queries/rules.js';
import { freePort } from '../src/stack/ports.js';

/** `alerts` and `alerts export` through the built binary (`npm run build` first); no vmalert runs here. */
const bin = path.join(packageRoot(), 'bin', 'run.js');
let tmp: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    execFile(process.execPath, [bin, ...args], { env: { ...base, SAGEWAI_OBS_STATE_DIR: path.join(tmp, 'state'), SAGEWAI_OBS_CONFIG: path.join(tmp, 'none.json') }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-alerts-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('sagewai-obs alerts (built binary)', () => {
  it('names an unreachable vmalert and what to try, exit 2; under --json the error is JSON on stdout', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await run(['alerts', '--vmalert-url', url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^Error: vmalert at ${url.replace(/[.]/g, '\\.')} is unreachable`, 'm'));
    expect(r.stderr).toMatch(/^Try this: sagewai-obs up/m);
    const j = await run(['alerts', '--vmalert-url', url, '--json']);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { kind: 'usage' } });
  });

  it('refuses a bad flag value with exit 2', async () => {
    expect((await run(['alerts', '--state', 'sleeping'])).code).toBe(2);
    expect((await run(['alerts', '--watch', '--interval', '0'])).code).toBe(2);
    expect((await run(['alerts', '--vmalert-url', 'not a url'])).code).toBe(2);
  });

  it('up --runtime docker refuses --rules and --alert-webhook (native only) before touching Docker', async () => {
    const r = await run(['up', '--runtime', 'docker', '--alert-webhook', 'http://127.0.0.1:9093']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: --rules and --alert-webhook apply to the native runtime/m);
    expect(r.stderr).toMatch(/^Try this: sagewai-obs up --runtime native/m);
  });

  it('export writes the same rule files as the committed ones, and says when nothing changed', async () => {
    const out = path.join(tmp, 'rules');
    const first = await run(['alerts', 'export', '--out', out, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { files: Array<{ file: string; changed: boolean }> };
    expect(result.files.map((f) => path.basename(f.file)).sort()).toEqual(['alerts.yml', 'recording.yml']);
    for (const f of result.files) expect(fs.readFileSync(f.file, 'utf8')).toBe(fs.readFileSync(path.join(rulesDir(), path.basename(f.file)), 'utf8'));
    const again = await run(['alerts', 'export', '--out', out]);
    expect(again.stdout).toMatch(/^unchanged .*alerts\.yml$/m);
  });
});
