/**
 * A mistyped command (`sagewai-obs stauts`). In a terminal, @oclif/plugin-not-found asks
 * "Did you mean status?" and runs it on yes. Anywhere else (a script, CI, a pipe) nobody can
 * answer a prompt, so the CLI names the closest command as a `Try this:` hint and exits 2, as
 * every other user mistake does (STYLE 7); under --json the same as {"error": …} on stdout.
 *
 * The plugin is called from here rather than listed in oclif.plugins: oclif runs every plugin's
 * command_not_found hook at once, and the plugin's own non-interactive path exits 127 without a
 * suggestion.
 */
import { Errors, toConfiguredId, type Hook } from '@oclif/core';
import { ExitCode } from '../errors.js';
import { colorErr } from '../ui/color.js';

/** Edit distance (insert, delete, substitute, and swap of two neighbours: "stauts" → "status" is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(a.length, b.length);
}

/** The closest command id, or undefined when none is close enough to be a typo of it. */
export function closestCommand(id: string, ids: readonly string[]): string | undefined {
  let best: { id: string; distance: number } | undefined;
  for (const candidate of ids) {
    const distance = editDistance(id, candidate);
    if (!best || distance < best.distance) best = { id: candidate, distance };
  }
  if (!best) return undefined;
  return best.distance <= Math.max(2, Math.floor(id.length / 3)) ? best.id : undefined;
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const interactive = process.stdin.isTTY === true && process.stderr.isTTY === true;
  const json = opts.argv?.includes('--json') === true || process.env.SAGEWAI_OBS_JSON === '1' || process.env.SAGEWAI_OBS_JSON === 'true';
  const { config } = opts;
  // `sagewai-obs help [command]`: help is a flag here, so point at it.
  const [first, ...restOfId] = opts.id.split(':');
  if (first === 'help') {
    const about = [...restOfId, ...(opts.argv ?? [])].filter((a) => !a.startsWith('-')).join(' ');
    const tryThis = [`${config.bin} ${about ? `${about} ` : ''}--help`];
    const message = `${config.bin} has no help command; every command takes --help`;
    if (json) process.stdout.write(`${JSON.stringify({ error: { message, kind: 'usage', tryThis } }, null, 2)}\n`);
    else {
      const c = colorErr();
      process.stderr.write(`${c.red.bold('Error:')} ${message}\n${c.cyan('Try this:')} ${tryThis[0]}\n`);
    }
    Errors.exit(ExitCode.usage);
  }
  if (interactive && !json) {
    const { default: askDidYouMean } = await import('@oclif/plugin-not-found');
    try {
      return await askDidYouMean.call(this, opts);
    } catch (err) {
      // Declined or no answer (the plugin then points at a `help` command we do not have):
      // our own hint, and our usage exit code.
      if (!(err instanceof Errors.CLIError)) throw err;
      if (!(err instanceof Errors.ExitError)) process.stderr.write(`${colorErr().cyan('Try this:')} ${config.bin} --help\n`);
      Errors.exit(ExitCode.usage);
    }
  }
  const hidden = new Set(config.commands.filter((c) => c.hidden).map((c) => c.id));
  const ids = [...config.commandIDs, ...config.commands.flatMap((c) => c.aliases)].filter((c) => !hidden.has(c));
  const typed = toConfiguredId(opts.id, config);
  const suggestion = closestCommand(opts.id, ids);
  const message = `${JSON.stringify(typed)} is not a ${config.bin} command.${suggestion ? ` Did you mean ${JSON.stringify(toConfiguredId(suggestion, config))}?` : ''}`;
  const rest = (opts.argv ?? []).join(' ');
  const tryThis = [...(suggestion ? [`${config.bin} ${toConfiguredId(suggestion, config)}${rest ? ` ${rest}` : ''}`] : []), `${config.bin} --help`];
  if (json) process.stdout.write(`${JSON.stringify({ error: { message, kind: 'usage', tryThis } }, null, 2)}\n`);
  else {
    const c = colorErr();
    process.stderr.write(`${c.red.bold('Error:')} ${message}\n${c.cyan('Try this:')} ${tryThis.join('\n          ')}\n`);
  }
  Errors.exit(ExitCode.usage);
};

export default hook;
