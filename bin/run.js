#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { nodeTooOld } from './node-check.js';

// Before anything that needs a new Node: on an old one, one clear line and exit 2 (ExitCode.usage
// in src/errors.ts), never a stack trace from a dependency.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tooOld = nodeTooOld(process.versions.node, pkg.engines && pkg.engines.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(2);
}

const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
