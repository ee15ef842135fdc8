/** HTTP health probes of the stack components. */

export interface ProbeResult {
  ok: boolean;
  status?: number;
  error?: string;
}

export async function probe(url: string, timeoutMs = 2000): Promise<ProbeResult> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return { ok: res.ok, status: res.status };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return { ok: false, error: cause?.code ?? (err as Error).message };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls url until it answers 2xx. `gaveUp` is checked between attempts so a process that died
 * stops the wait at once. Resolves the milliseconds it took, or throws with the last failure.
 */
export async function waitHealthy(url: string, options: { timeoutMs: number; startedAt?: number; gaveUp?: () => string | undefined }): Promise<number> {
  const start = options.startedAt ?? Date.now();
  let last: ProbeResult = { ok: false, error: 'not probed' };
  while (Date.now() - start < options.timeoutMs) {
    const reason = options.gaveUp?.();
    if (reason) throw new Error(reason);
    last = await probe(url, 1000);
    if (last.ok) return Date.now() - start;
    await sleep(50);
  }
  throw new Error(`${url} not healthy after ${Math.round(options.timeoutMs / 1000)} s (${last.error ?? `HTTP ${last.status}`})`);
}

/**
 * Asks VictoriaMetrics to make just-ingested samples searchable now. Without it a fresh sample
 * sits in VictoriaMetrics' in-memory buffer for up to ~10 s (measured on v1.151.0) before queries
 * see it; checks that compare a number just recorded with VictoriaMetrics call this first.
 */
export async function vmForceFlush(vmUrl: string): Promise<void> {
  const res = await fetch(`${vmUrl.replace(/\/+$/, '')}/internal/force_flush`, { signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  if (res.status === 404) throw new Error(`${vmUrl} serves no /internal/force_flush (a cluster select path or a proxy?); samples become searchable within seconds anyway`);
  if (!res.ok) throw new Error(`VictoriaMetrics force_flush answered HTTP ${res.status}`);
}
