#!/usr/bin/env node
// Writes oclif.manifest.json next to package.json from the built commands in dist/, so that
// start-up (`sagewai-obs --version`, `--help`, every command) reads one JSON file instead of
// importing every command module to discover flags. Run by `npm run build`; the file is
// generated, never committed (.gitignore), and oclif ignores it when its version does not
// match package.json.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', isRoot: true, ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
const count = Object.keys(plugin.manifest.commands).length;
if (count === 0) throw new Error('oclif-manifest: no commands found under the oclif.commands directory; run tsc first.');
writeFileSync(join(root, 'oclif.manifest.json'), `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.error(`oclif-manifest: ${count} commands → oclif.manifest.json`);
