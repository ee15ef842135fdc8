/** The one-line complaint when `current` is older than the `engines.node` range allows, else undefined. */
export function nodeTooOld(current: string, range: string | undefined): string | undefined;
