import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifests, renderCommandReference } from '../src/docs/command-reference.js';
import { packageRoot } from '../src/paths.js';

/**
 * docs/commands.md is generated (`npm run docs:commands`). It must be what the generator writes
 * today, and — checked against the command sources themselves, not the manifest — name every
 * command and every flag, so a new command or flag without a regenerated reference fails here.
 */
const root = packageRoot();
const doc = fs.readFileSync(path.join(root, 'docs', 'commands.md'), 'utf8');

function commandIds(dir: string, prefix: string[] = []): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return commandIds(path.join(dir, e.name), [...prefix, e.name]);
    return e.name.endsWith('.ts') ? [[...prefix, e.name.replace(/\.ts$/, '')].join(':')] : [];
  });
}

function section(id: string): string {
  const heading = `## \`sagewai-obs ${id.split(':').join(' ')}\``;
  const start = doc.indexOf(`${heading}\n`);
  if (start === -1) return '';
  const next = doc.indexOf('\n## ', start + heading.length);
  return doc.slice(start, next === -1 ? undefined : next);
}

describe('docs/commands.md', () => {
  it('is exactly what `npm run docs:commands` writes from the current manifest', async () => {
    const { bin, manifest, plugins } = await readManifests(root);
    expect(doc, 'docs/commands.md is stale: run `npm run docs:commands`').toBe(renderCommandReference(manifest, bin, plugins));
  });

  it('has a section for every command in src/commands, with each flag and the summary', async () => {
    for (const id of commandIds(path.join(root, 'src', 'commands'))) {
      const text = section(id);
      expect(text, `no section for ${id}: run \`npm run docs:commands\``).not.toBe('');
      const mod = (await import(path.join(root, 'src', 'commands', ...id.split(':')) + '.ts')) as { default: { summary?: string; flags?: Record<string, { char?: string; allowNo?: boolean }> } };
      if (mod.default.summary) expect(text, id).toContain(mod.default.summary);
      for (const [name, f] of Object.entries(mod.default.flags ?? {})) expect(text, `${id} --${name}`).toMatch(new RegExp(`\`(-${f.char ?? '\\w'}, )?--${f.allowNo ? '\\[no-\\]' : ''}${name}[\\s\`]`));
    }
  });

  it('lists the global flags once', () => {
    expect(doc).toMatch(/\| `--json` \| `SAGEWAI_OBS_JSON` \|/);
    expect(doc).toMatch(/\| `--\[no-\]color` \|/);
  });
});
