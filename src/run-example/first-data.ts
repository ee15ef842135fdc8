import { VictoriaMetricsClient } from '../clients/victoria-metrics.js';
import { getEntry, renderExpr } from '../queries/index.js';
import type { RequestCounter } from '../driver/counter.js';
import { rangeFor } from './stores.js';

/**
 * Time to first data: a background watcher that, once the driver has sent its first request,
 * polls the catalog's spend KPI for the window since that request and records when the first
 * cost number above zero becomes visible in VictoriaMetrics.
 */
export interface FirstDataWatcher {
  /** Seconds from the first request to the first visible cost, or null when not seen (yet). */
  seconds(): number | null;
  /** Latest spend the catalog reports for the run's window (for the progress line). */
  spendUsd(): number | null;
  stop(): Promise<void>;
}

export function watchFirstData(vmUrl: string, counter: RequestCounter, options: { intervalMs?: number } = {}): FirstDataWatcher {
  const vm = new VictoriaMetricsClient(vmUrl, { timeoutMs: 5000 });
  const entry = getEntry('kpi.spend_total');
  const interval = options.intervalMs ?? 500;
  let firstSeenAt: number | undefined;
  let lastSpend: number | null = null;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const first = counter.firstRequestAt;
      if (first !== undefined) {
        const now = Date.now();
        try {
          const samples = await vm.query(renderExpr(entry, { range: rangeFor(first - 1000, now, 1) }), { time: now / 1000 });
          const v = samples[0]?.value;
          if (v !== undefined && Number.isFinite(v)) {
            lastSpend = v;
            if (v > 0 && firstSeenAt === undefined) firstSeenAt = Date.now();
          }
        } catch {
          // the store may still be starting; the next poll tries again
        }
      }
      // Poll fast until the first number shows, then relax: the figure only feeds progress.
      await new Promise((r) => setTimeout(r, firstSeenAt === undefined ? interval : interval * 6));
    }
  })();
  return {
    seconds: () => (firstSeenAt === undefined || counter.firstRequestAt === undefined ? null : Math.round((firstSeenAt - counter.firstRequestAt) / 100) / 10),
    spendUsd: () => lastSpend,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
