#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeTooOld } from './node-check.js';
import { missingNodeFlags, relaunchWithFlags } from './node-flags.js';

// Before anything that needs a new Node: on an old one, one clear line and exit 2 (ExitCode.usage
// in src/errors.ts), never a stack trace from a dependency.
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tooOld = nodeTooOld(process.versions.node, pkg.engines && pkg.engines.node);
if (tooOld) {
  process.stderr.write(`${tooOld}\n`);
  process.exit(2);
}

// A command that needs Node flags this process lacks (bin/node-flags.js) runs in a child Node
// that has them.
const flags = missingNodeFlags(process.argv.slice(2), process.execArgv, process.env.NODE_OPTIONS);
if (flags.length > 0) process.exit(await relaunchWithFlags(flags, fileURLToPath(import.meta.url), process.argv.slice(2)));

const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
