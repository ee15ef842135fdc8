import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closestCommand, editDistance } from '../src/hooks/command-not-found.js';
import { packageRoot } from '../src/paths.js';

// The built binary (`npm run build` first), not a terminal: no prompt may wait for an answer.
const bin = path.join(packageRoot(), 'bin', 'run.js');
let tmp: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SAGEWAI_OBS_')));
    const env = { ...base, NO_COLOR: '1', XDG_CACHE_HOME: path.join(tmp, 'cache'), XDG_STATE_HOME: path.join(tmp, 'state') };
    const child = execFile(process.execPath, [bin, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sagewai-obs-plugins-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('did you mean', { timeout: 60_000 }, () => {
  it('counts a swap of two letters as one edit and suggests only close commands', () => {
    expect(editDistance('stauts', 'status')).toBe(1);
    expect(editDistance('status', 'status')).toBe(0);
    expect(editDistance('', 'up')).toBe(2);
    const ids = ['status', 'stack:install', 'up', 'down', 'budget:set', 'budget:list'];
    expect(closestCommand('stauts', ids)).toBe('status');
    expect(closestCommand('stack:instal', ids)).toBe('stack:install');
    expect(closestCommand('budget:lsit', ids)).toBe('budget:list');
    expect(closestCommand('frobnicate', ids)).toBeUndefined();
  });

  it('a mistyped command names the right one and exits 2 without a prompt', async () => {
    const r = await run(['stauts']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Error: "stauts" is not a sagewai-obs command\. Did you mean "status"\?/);
    expect(r.stderr).toMatch(/^Try this: sagewai-obs status$/m);
  });

  it('keeps the flags in the suggestion, and a topic command is suggested with spaces', async () => {
    const r = await run(['stack', 'instal', '--force']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Try this: sagewai-obs stack install --force/);
  });

  it('under --json the mistake is {"error": …} on stdout', async () => {
    const r = await run(['stauts', '--json']);
    expect(r.code).toBe(2);
    const body = JSON.parse(r.stdout) as { error: { message: string; kind: string; tryThis: string[] } };
    expect(body.error.kind).toBe('usage');
    expect(body.error.tryThis[0]).toBe('sagewai-obs status --json');
  });

  it('`help status` points at --help', async () => {
    const r = await run(['help', 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Try this: sagewai-obs status --help$/m);
  });

  it('nothing close: no guess, only --help', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Did you mean/);
    expect(r.stderr).toMatch(/sagewai-obs --help/);
  });
});

describe('shell completion', { timeout: 60_000 }, () => {
  it('autocomplete prints set-up steps for bash and zsh', async () => {
    const bash = await run(['autocomplete', 'bash']);
    expect(bash.code, bash.stderr).toBe(0);
    expect(bash.stdout).toMatch(/bashrc/);
    const zsh = await run(['autocomplete', 'zsh']);
    expect(zsh.code, zsh.stderr).toBe(0);
    expect(zsh.stdout).toMatch(/zshrc/);
  });

  it('the generated bash completion knows our commands and their flags', async () => {
    const r = await run(['autocomplete', '--refresh-cache']);
    expect(r.code, r.stderr).toBe(0);
    const setup = path.join(tmp, 'cache', 'sagewai-obs', 'autocomplete', 'bash_setup');
    const functions = fs.readdirSync(path.join(tmp, 'cache', 'sagewai-obs', 'autocomplete', 'functions', 'bash')).map((f) => fs.readFileSync(path.join(tmp, 'cache', 'sagewai-obs', 'autocomplete', 'functions', 'bash', f), 'utf8')).join('\n');
    expect(fs.existsSync(setup)).toBe(true);
    expect(functions).toMatch(/stack:install/);
    expect(functions).toMatch(/--vm-port/);
  });
});
