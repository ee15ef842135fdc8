import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeTooOld } from '../bin/node-check.js';
import { packageRoot } from '../src/paths.js';

const engines = (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;

describe('the Node.js version check of bin/run.js', () => {
  it('refuses versions older than engines allows, names the required one, accepts the rest', () => {
    expect(engines).toBe('>=20.19.0');
    for (const old of ['18.20.4', '20.18.9', '20.0.0', '16.0.0', 'v14.21.3']) expect(nodeTooOld(old, engines)).toMatch(/^sagewai-obs needs Node\.js 20\.19\.0 or newer .*this is Node\.js \d+\.\d+\.\d+\. /);
    for (const ok of ['20.19.0', '20.20.2', '21.0.0', '22.11.0', '24.1.0']) expect(nodeTooOld(ok, engines)).toBeUndefined();
    expect(nodeTooOld('not-a-version', engines)).toBeUndefined();
    expect(nodeTooOld('18.0.0', '^20 || ^22')).toBeUndefined(); // a range it cannot read is not a reason to refuse
  });

  it('on an older Node, the CLI prints one line (no stack trace) and exits 2 before loading anything', () => {
    // process.versions.node faked before bin/run.js runs, as an older Node would report it.
    const hook = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.20.4"})';
    for (const argv of [['--version'], ['up', '--runtime', 'native'], ['frobnicate']]) {
      const r = spawnSync(process.execPath, ['--import', hook, path.join(packageRoot(), 'bin', 'run.js'), ...argv], { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining('needs Node.js 20.19.0 or newer') as string]);
      expect(r.stderr).toContain('this is Node.js 18.20.4');
    }
    // The control: the real Node runs it.
    const r = spawnSync(process.execPath, [path.join(packageRoot(), 'bin', 'run.js'), '--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^sagewai-obs\/\d+\.\d+\.\d+ /);
  });
});
