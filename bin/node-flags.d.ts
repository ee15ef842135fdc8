/** Node.js flags per command that needs some (bin/run.js relaunches with them). */
export const COMMAND_NODE_FLAGS: Record<string, string[]>;
/** The flags the command in `argv` still needs, given the current execArgv and NODE_OPTIONS. */
export function missingNodeFlags(argv: string[], execArgv: string[], nodeOptions: string | undefined): string[];
/** Runs `script args` in a child Node with `flags`, on the same stdio; resolves with its exit code. */
export function relaunchWithFlags(flags: string[], script: string, args: string[]): Promise<number>;
