import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/paths.js';

/**
 * `npm run build` writes oclif.manifest.json so start-up reads one file instead of importing every
 * command. A stale manifest would hide a new command or flag, so it must list exactly the command
 * files under src/commands, carry the package version (oclif ignores it otherwise), and describe
 * each command's flags as the built class does.
 */
const root = packageRoot();

function commandIds(dir: string, prefix: string[] = []): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return commandIds(path.join(dir, e.name), [...prefix, e.name]);
    return e.name.endsWith('.ts') ? [[...prefix, e.name.replace(/\.ts$/, '')].join(':')] : [];
  });
}

describe('oclif.manifest.json', () => {
  const file = path.join(root, 'oclif.manifest.json');

  it('exists after the build, at the package version, listing exactly the commands in src/commands', () => {
    expect(fs.existsSync(file), 'oclif.manifest.json is missing: run `npm run build`').toBe(true);
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string; commands: Record<string, { flags: Record<string, unknown>; relativePath?: string[] }> };
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect(manifest.version).toBe(pkg.version);
    expect(Object.keys(manifest.commands).sort()).toEqual(commandIds(path.join(root, 'src', 'commands')).sort());
    for (const [id, c] of Object.entries(manifest.commands)) expect(c.relativePath, id).toBeDefined();
  });

  it('has the same flags as the built command classes', async () => {
    const manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as { commands: Record<string, { flags: Record<string, unknown> }> };
    for (const [id, c] of Object.entries(manifest.commands)) {
      const mod = (await import(path.join(root, 'dist', 'src', 'commands', ...id.split(':')) + '.js')) as { default: { flags?: Record<string, unknown>; baseFlags?: Record<string, unknown> } };
      const built = Object.keys({ ...mod.default.baseFlags, ...mod.default.flags }).sort();
      expect(Object.keys(c.flags).sort(), id).toEqual(built);
    }
  });
});
