/**
 * Typed errors and the exit codes of the whole CLI, listed once (STYLE 7).
 * Library code throws these; only the base command turns them into output and an exit code.
 */
export const ExitCode = {
  ok: 0,
  /** A bug in sagewai-obs: the message says what to report. */
  bug: 1,
  /** The user can fix it: bad flag, taken port, missing binary, unreachable store. */
  usage: 2,
  /** The command ran, and a check it was asked to make failed (verify, run-example --verify). */
  checkFailed: 3,
  /** Interrupted by the user (Ctrl-C). */
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the user can fix. `tryThis` holds concrete suggestions, shown as "Try this:". */
export class UserError extends Error {
  readonly exitCode = ExitCode.usage;
  readonly tryThis: readonly string[];
  constructor(message: string, tryThis: string | readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UserError';
    this.tryThis = typeof tryThis === 'string' ? [tryThis] : tryThis;
  }
}

/** The command did its work and a requested check failed; carries the result for --json. */
export class CheckFailedError extends Error {
  readonly exitCode = ExitCode.checkFailed;
  readonly result: unknown;
  constructor(message: string, result?: unknown) {
    super(message);
    this.name = 'CheckFailedError';
    this.result = result;
  }
}

/** A quiet cancel: nothing to report beyond the exit code. */
export class CancelledError extends Error {
  readonly exitCode = ExitCode.cancelled;
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}

/** One line describing an unknown error's cause chain, for messages such as "fetch failed: ECONNREFUSED". */
export function describeCause(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 4; depth++) {
    if (cur instanceof Error) {
      const code = (cur as NodeJS.ErrnoException).code;
      parts.push(code && !cur.message.includes(code) ? `${cur.message} (${code})` : cur.message);
      cur = (cur as { cause?: unknown }).cause;
    } else {
      parts.push(String(cur));
      break;
    }
  }
  return parts.filter(Boolean).join(': ');
}
