/** Pacing helpers: sleeps that end early on abort, and loops that run until a deadline. */

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Run `body` repeatedly until `signal` aborts, waiting `nextDelayMs()` between iterations.
 * An error in one iteration is passed to `onError` and the loop continues: a load driver
 * must keep its pace even when the server misbehaves.
 */
export async function loopUntil(
  signal: AbortSignal,
  nextDelayMs: () => number,
  body: () => Promise<void>,
  onError: (err: unknown) => void,
  options: { delayFirst?: boolean } = {},
): Promise<void> {
  if (options.delayFirst) await sleep(nextDelayMs(), signal);
  while (!signal.aborted) {
    try {
      await body();
    } catch (err) {
      onError(err);
    }
    if (signal.aborted) break;
    await sleep(nextDelayMs(), signal);
  }
}

/** Run tasks with at most `limit` in flight; results keep input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return out;
}
