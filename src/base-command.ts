import { Command, Errors, Flags, Interfaces } from '@oclif/core';
import { CancelledError, CheckFailedError, ExitCode, UserError, describeCause } from './errors.js';
import { colorErr, setColorFlag } from './ui/color.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/** What `--json` prints on failure: one object with `error`, and the partial result when a check failed. */
export interface ErrorJson {
  error: { message: string; kind: 'usage' | 'check-failed' | 'bug'; tryThis?: readonly string[] };
  result?: unknown;
}

/**
 * The single exit point (STYLE 7, 8): every command extends this. Under --json oclif's own
 * contract applies: `run()` returns its result object and oclif prints it (`logJson`); an error
 * prints `{"error": …}` and exits non-zero. Without --json, results go to stdout, progress and
 * warnings to stderr.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override enableJsonFlag = true;

  static override baseFlags = {
    json: Flags.boolean({ description: 'Print the result as JSON on stdout (errors as {"error": …}).', env: 'SAGEWAI_OBS_JSON', default: false, helpGroup: 'GLOBAL' }),
    color: Flags.boolean({
      description: 'Colour the output; --no-color turns it off (NO_COLOR and FORCE_COLOR are honoured too).',
      allowNo: true,
      helpGroup: 'GLOBAL',
    }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;

  public override async init(): Promise<void> {
    await super.init();
    try {
      const { args, flags } = await this.parse({
        flags: this.ctor.flags,
        baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: this.ctor.enableJsonFlag,
        args: this.ctor.args,
        strict: this.ctor.strict,
      });
      this.flags = flags as BaseFlags<T>;
      this.args = args as BaseArgs<T>;
      setColorFlag((flags as { color?: boolean }).color);
    } catch (err) {
      // Parsing was done and failed: without this oclif also warns "did not parse its arguments".
      this.parsed = true;
      throw toUserError(err, this.id);
    }
  }

  /** --json on the command line (oclif's test) or SAGEWAI_OBS_JSON (STYLE 9); works even when parsing failed. */
  public override jsonEnabled(): boolean {
    if (super.jsonEnabled()) return true;
    const env = process.env.SAGEWAI_OBS_JSON;
    return Boolean(this.ctor.enableJsonFlag) && (env === 'true' || env === '1');
  }

  /** Plain JSON, written straight to stdout (no theme colours: the output is for programs). */
  public override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  }

  protected printLine(line = ''): void {
    process.stdout.write(`${line}\n`);
  }

  /** A progress or status line on stderr; nothing under --json. */
  protected progress(line: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${line}\n`);
  }

  public override toErrorJson(err: unknown): ErrorJson {
    if (err instanceof UserError) return { error: { message: err.message, kind: 'usage', tryThis: err.tryThis } };
    if (err instanceof CheckFailedError) return { error: { message: err.message, kind: 'check-failed' }, result: err.result ?? null };
    return { error: { message: describeCause(err), kind: 'bug' } };
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const json = this.jsonEnabled();
    if (err instanceof CancelledError) {
      process.exitCode = ExitCode.cancelled;
      return;
    }
    // oclif's own exit() (used by --help/--version) must pass through.
    if (err instanceof Errors.ExitError) throw err;
    const e = err instanceof UserError || err instanceof CheckFailedError ? err : toUserError(err, this.id);
    if (json) this.logJson(this.toErrorJson(e));
    const c = colorErr();
    if (e instanceof UserError) {
      if (!json) {
        process.stderr.write(`${c.red.bold('Error:')} ${e.message}\n`);
        if (e.tryThis.length > 0) process.stderr.write(`${c.cyan('Try this:')} ${e.tryThis.join('\n          ')}\n`);
      }
      process.exitCode = ExitCode.usage;
      return;
    }
    if (e instanceof CheckFailedError) {
      if (!json) process.stderr.write(`${c.red.bold('Failed:')} ${e.message}\n`);
      process.exitCode = ExitCode.checkFailed;
      return;
    }
    if (!json) {
      process.stderr.write(`${c.red.bold('Internal error:')} ${describeCause(e)}\n`);
      if (process.env.DEBUG) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
      process.stderr.write('This is a bug in sagewai-obs. Please report it with the command you ran and DEBUG=1 output.\n');
    }
    process.exitCode = ExitCode.bug;
    return;
  }
}

/** oclif parse failures and our own user errors become one-line UserErrors; anything else is a bug. */
export function toUserError(err: unknown, commandId: string | undefined): unknown {
  if (err instanceof UserError) return err;
  const name = (err as Error | undefined)?.constructor?.name ?? '';
  const parseErrors = ['FailedFlagValidationError', 'NonExistentFlagsError', 'UnexpectedArgsError', 'RequiredArgsError', 'CLIParseError', 'ArgInvalidOptionError', 'FlagInvalidOptionError'];
  if (parseErrors.includes(name) || (err instanceof Errors.CLIError && !(err instanceof Errors.ExitError))) {
    const first = String((err as Error).message).split('\n').find((l) => l.trim().length > 0) ?? 'invalid input';
    const cmd = commandId ? commandId.replace(/:/g, ' ') : '';
    return new UserError(first.trim(), `sagewai-obs ${cmd} --help`.replace(/\s+/g, ' ').trim());
  }
  return err;
}
