import { Command, Errors, Flags, Interfaces } from '@oclif/core';
import { CancelledError, CheckFailedError, ExitCode, UserError, describeCause } from './errors.js';

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>;
export type BaseArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>;

/**
 * The single exit point (STYLE 7, 8): every command extends this. Results go to stdout,
 * progress and warnings to stderr; under --json an error is {"error": …} on stdout.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    json: Flags.boolean({ description: 'Print the result as JSON on stdout.', env: 'SAGEWAI_OBS_JSON', default: false }),
  };

  protected flags!: BaseFlags<T>;
  protected args!: BaseArgs<T>;

  public override async init(): Promise<void> {
    await super.init();
    try {
      const { args, flags } = await this.parse({
        flags: this.ctor.flags,
        baseFlags: (super.ctor as typeof BaseCommand).baseFlags,
        enableJsonFlag: false,
        args: this.ctor.args,
        strict: this.ctor.strict,
      });
      this.flags = flags as BaseFlags<T>;
      this.args = args as BaseArgs<T>;
    } catch (err) {
      throw toUserError(err, this.id);
    }
  }

  /** Was --json asked for? Works even when parsing failed. */
  protected wantsJson(): boolean {
    return this.argv.includes('--json') || process.env.SAGEWAI_OBS_JSON === 'true' || process.env.SAGEWAI_OBS_JSON === '1';
  }

  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  protected printLine(line = ''): void {
    process.stdout.write(`${line}\n`);
  }

  protected progress(line: string): void {
    if (!this.wantsJson()) process.stderr.write(`${line}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    const json = this.wantsJson();
    if (err instanceof CancelledError) {
      process.exitCode = ExitCode.cancelled;
      return;
    }
    // oclif's own exit() (used by --help/--version) must pass through.
    if (err instanceof Errors.ExitError) throw err;
    const e = err instanceof UserError || err instanceof CheckFailedError ? err : toUserError(err, this.id);
    if (e instanceof UserError) {
      if (json) this.printJson({ error: { message: e.message, kind: 'usage', tryThis: e.tryThis } });
      else {
        process.stderr.write(`Error: ${e.message}\n`);
        if (e.tryThis.length > 0) process.stderr.write(`Try this: ${e.tryThis.join('\n          ')}\n`);
      }
      process.exitCode = ExitCode.usage;
      return;
    }
    if (e instanceof CheckFailedError) {
      if (json) this.printJson({ error: { message: e.message, kind: 'check-failed' }, result: e.result ?? null });
      else process.stderr.write(`Failed: ${e.message}\n`);
      process.exitCode = ExitCode.checkFailed;
      return;
    }
    if (json) this.printJson({ error: { message: describeCause(e), kind: 'bug' } });
    else {
      process.stderr.write(`Internal error: ${describeCause(e)}\n`);
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
