import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMAND_NODE_FLAGS, missingNodeFlags } from '../bin/node-flags.js';
import { packageRoot } from '../src/paths.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sgo-node-flags-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A script that relaunches itself through relaunchWithFlags, as bin/run.js does, then acts as its child. */
function relauncher(childBody: string): string {
  const file = path.join(dir, `relaunch-${Math.random().toString(36).slice(2)}.mjs`);
  const lib = pathToFileURL(path.join(packageRoot(), 'bin', 'node-flags.js')).href;
  fs.writeFileSync(
    file,
    `import { relaunchWithFlags } from ${JSON.stringify(lib)};
if (!process.execArgv.includes('--max-semi-space-size=32')) {
  process.stdout.write('parent ' + process.pid + '\\n');
  process.exit(await relaunchWithFlags(['--max-semi-space-size=32'], ${JSON.stringify(file)}, process.argv.slice(2)));
}
${childBody}
`,
  );
  return file;
}

describe('Node flags per command (bin/node-flags.js)', () => {
  it('only the HUD needs flags, and only those not given already', () => {
    const hud = ['--max-semi-space-size=32', '--min-semi-space-size=32'];
    expect(COMMAND_NODE_FLAGS.hud).toEqual(hud);
    expect(missingNodeFlags(['hud'], [], undefined)).toEqual(hud);
    expect(missingNodeFlags(['hud', '--once', '--project', 'acme'], [], '')).toEqual(hud);
    expect(missingNodeFlags(['--help'], [], undefined)).toEqual([]);
    for (const other of [['cost', '--by', 'project'], ['serve'], ['version'], []]) expect(missingNodeFlags(other, [], undefined)).toEqual([]);
    // The user's own choice of any of them wins, on the command line or in NODE_OPTIONS, in either spelling.
    expect(missingNodeFlags(['hud'], ['--max-semi-space-size=8'], undefined)).toEqual([]);
    expect(missingNodeFlags(['hud'], [], '--enable-source-maps --min_semi_space_size=1')).toEqual([]);
    expect(missingNodeFlags(['hud'], ['--enable-source-maps'], '--max-old-space-size=512')).toEqual(hud);
    // A flag name that only starts the same is another flag.
    expect(missingNodeFlags(['hud'], ['--max-semi-space-size-x'], undefined)).toEqual(hud);
  });

  it('the relaunched child has the flags, the same arguments and stdio, and its exit code is the parent\'s', () => {
    const file = relauncher(`process.stdout.write(JSON.stringify({ execArgv: process.execArgv, args: process.argv.slice(2) }) + '\\n'); process.exit(7);`);
    const r = spawnSync(process.execPath, [file, 'hud', '--once'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(7);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^parent \d+$/);
    expect(JSON.parse(lines[1] as string)).toEqual({ execArgv: ['--max-semi-space-size=32'], args: ['hud', '--once'] });
  });

  it('a child ended by a signal ends the parent by the same signal; SIGTERM to the parent is passed on', () => {
    const killed = relauncher(`process.kill(process.pid, 'SIGKILL');`);
    const r1 = spawnSync(process.execPath, [killed], { encoding: 'utf8', timeout: 20_000 });
    expect(r1.signal).toBe('SIGKILL');

    // The child waits; a SIGTERM sent to the parent only must stop it (default action: exit by SIGTERM).
    const waits = relauncher(`process.stdout.write('child ready\\n'); setTimeout(() => process.exit(0), 15_000);`);
    const r2 = spawnSync('sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(waits)} & P=$!; sleep 1.5; kill -TERM $P; wait $P; echo "status $?"`], { encoding: 'utf8', timeout: 20_000 });
    expect(r2.stdout).toContain('child ready');
    // 128 + 15: the parent died of SIGTERM, re-raised after its child died of it (not after 15 s).
    expect(r2.stdout).toContain('status 143');
  });
});
