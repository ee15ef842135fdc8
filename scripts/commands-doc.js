#!/usr/bin/env node
// Writes docs/commands.md from oclif.manifest.json and the manifests of the plugins listed in
// package.json's oclif.plugins. Run after the build: `npm run docs:commands` does both.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readManifests, renderCommandReference } from '../dist/src/docs/command-reference.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bin, manifest, plugins } = await readManifests(root);
writeFileSync(join(root, 'docs', 'commands.md'), renderCommandReference(manifest, bin, plugins));
console.error(`commands-doc: ${Object.keys(manifest.commands).length} commands and ${plugins.length} plugin(s) → docs/commands.md`);
