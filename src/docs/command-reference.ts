/**
 * docs/commands.md from the oclif manifest: every command with its summary, description,
 * arguments, flags (with their environment variables and defaults) and examples. Written by
 * `npm run docs:commands`; test/command-reference.test.ts fails when the file and the commands
 * disagree.
 */

export interface ManifestFlag {
  name: string;
  type: 'boolean' | 'option';
  char?: string;
  description?: string;
  summary?: string;
  env?: string;
  default?: unknown;
  options?: readonly string[];
  allowNo?: boolean;
  helpGroup?: string;
  hidden?: boolean;
  multiple?: boolean;
  required?: boolean;
}

export interface ManifestArg {
  name: string;
  description?: string;
  options?: readonly string[];
  required?: boolean;
}

export interface ManifestCommand {
  id: string;
  summary?: string;
  description?: string;
  examples?: ReadonlyArray<string | { command: string; description?: string }>;
  flags: Record<string, ManifestFlag>;
  args?: Record<string, ManifestArg>;
  hidden?: boolean;
  pluginName?: string;
}

export interface Manifest {
  commands: Record<string, ManifestCommand>;
}

const GLOBAL = 'GLOBAL';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const bin = (s: string, name: string): string => s.replace(/<%=\s*config\.bin\s*%>/g, name).replace(/<%=\s*command\.id\s*%>/g, '');
const summaryOf = (c: ManifestCommand): string => c.summary ?? c.description?.split('\n')[0] ?? '';

function flagName(f: ManifestFlag): string {
  const long = f.allowNo ? `--[no-]${f.name}` : `--${f.name}`;
  const value = f.type === 'option' ? (f.options ? ` ${f.options.join('|')}` : ' <value>') : '';
  return `${f.char ? `-${f.char}, ` : ''}${long}${value}`;
}

function flagRow(f: ManifestFlag): string {
  const def = f.default === undefined || f.default === false ? '' : `\`${String(f.default)}\``;
  const text = f.summary ?? f.description ?? '';
  return `| \`${cell(flagName(f))}\`${f.required ? ' (required)' : ''} | ${f.env ? `\`${f.env}\`` : ''} | ${def} | ${cell(text)} |`;
}

function commandSection(c: ManifestCommand, binName: string, spaced: string): string[] {
  const out = [`## \`${binName} ${spaced}\``, ''];
  const summary = summaryOf(c);
  if (summary) out.push(summary, '');
  if (c.description && c.description !== summary) out.push(bin(c.description, binName), '');
  if (c.pluginName && c.pluginName !== binName) out.push(`_From the \`${c.pluginName}\` plugin._`, '');
  const args = Object.values(c.args ?? {});
  const usageArgs = args.map((a) => (a.required ? `<${a.name}>` : `[${a.name}]`)).join(' ');
  out.push('```', `${binName} ${spaced}${usageArgs ? ` ${usageArgs}` : ''} [flags]`, '```', '');
  if (args.length > 0) {
    out.push('| argument | description |', '|---|---|');
    for (const a of args) out.push(`| \`${a.name}\`${a.options ? ` (${a.options.join('\\|')})` : ''} | ${cell(a.description ?? '')} |`);
    out.push('');
  }
  const flags = Object.values(c.flags).filter((f) => !f.hidden && f.helpGroup !== GLOBAL).sort((a, b) => a.name.localeCompare(b.name));
  if (flags.length > 0) {
    out.push('| flag | env | default | description |', '|---|---|---|---|');
    for (const f of flags) out.push(flagRow(f));
    out.push('');
  }
  const examples = (c.examples ?? []).map((e) => bin(typeof e === 'string' ? e : e.command, binName).replace(/^\$\s+/, ''));
  if (examples.length > 0) out.push('Examples:', '', '```sh', ...examples, '```', '');
  return out;
}

/** The whole reference, commands sorted by id; `plugins` adds commands that plugins bring. */
export function renderCommandReference(manifest: Manifest, binName: string, plugins: readonly Manifest[] = []): string {
  const commands = [manifest, ...plugins].flatMap((m) => Object.values(m.commands)).filter((c) => !c.hidden);
  commands.sort((a, b) => a.id.localeCompare(b.id));
  const spaced = (id: string): string => id.split(':').join(' ');
  const globals = new Map<string, ManifestFlag>();
  for (const f of Object.values(manifest.commands).flatMap((c) => Object.values(c.flags))) if (f.helpGroup === GLOBAL && !globals.has(f.name)) globals.set(f.name, f);
  const out = [
    '# Command reference',
    '',
    '<!-- Generated from oclif.manifest.json by `npm run docs:commands`. Do not edit by hand: a test fails when this file and the commands disagree. -->',
    '',
    ...commands.map((c) => `- [\`${binName} ${spaced(c.id)}\`](#${`${binName} ${spaced(c.id)}`.replace(/[^a-z0-9 -]/gi, '').replace(/ /g, '-').toLowerCase()}) — ${cell(summaryOf(c))}`),
    '',
    '## Global flags',
    '',
    `Every ${binName} command takes these.`,
    '',
    '| flag | env | default | description |',
    '|---|---|---|---|',
    ...[...globals.values()].sort((a, b) => a.name.localeCompare(b.name)).map(flagRow),
    '',
  ];
  for (const c of commands) out.push(...commandSection(c, binName, spaced(c.id)));
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

/** Reads our manifest and those of the plugins in package.json's oclif.plugins (installed under node_modules). */
export async function readManifests(root: string): Promise<{ bin: string; manifest: Manifest; plugins: Manifest[] }> {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const json = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
  const pkg = json<{ oclif: { bin: string; plugins?: string[] } }>(join(root, 'package.json'));
  const plugins = (pkg.oclif.plugins ?? []).map((name) => json<Manifest>(join(root, 'node_modules', ...name.split('/'), 'oclif.manifest.json')));
  return { bin: pkg.oclif.bin, manifest: json<Manifest>(join(root, 'oclif.manifest.json')), plugins };
}
