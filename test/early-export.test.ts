import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, it } from 'vitest';

// A new tenant's first cost must not wait a whole export interval, and steady load must not
// cause extra exports: the ledger totals ask for an export when a series appears or first moves
// off 0, and telemetry.ts turns that into one debounced forceFlush.
class CountingReader extends MetricReader {
  flushes = 0;
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {
    this.flushes++;
  }
  protected async onShutdown(): Promise<void> {}
}

const reader = new CountingReader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
const { ledgerTotals } = await import('../src/backend/instruments.js');
const { earlyExports, EARLY_EXPORT_DELAY_MS } = await import('../src/backend/telemetry.js');
const early = earlyExports(reader);
afterAll(() => early.stop());

const settle = () => new Promise((r) => setTimeout(r, EARLY_EXPORT_DELAY_MS * 3));
const attrs = (project: string, model = 'm') => ({ 'sagewai.project_id': project, 'gen_ai.request.model': model });

describe('early export of new series', () => {
  it('a series born at 0, then its first cost: one export each, soon', async () => {
    const before = reader.flushes;
    ledgerTotals.costNusd.add(attrs('t1'), 0);
    await settle();
    expect(reader.flushes).toBe(before + 1);
    ledgerTotals.costNusd.add(attrs('t1'), 1234);
    await settle();
    expect(reader.flushes).toBe(before + 2);
  });

  it('later changes of a series that already moved wait for the periodic export', async () => {
    ledgerTotals.costNusd.add(attrs('t2'), 5);
    await settle();
    const before = reader.flushes;
    for (let i = 0; i < 100; i++) ledgerTotals.costNusd.add(attrs('t2'), 7);
    ledgerTotals.costNusd.ensure(attrs('t2'));
    await settle();
    expect(reader.flushes).toBe(before);
  });

  it('a burst of new series (one run moves cost, tokens and calls) is one export', async () => {
    const before = reader.flushes;
    for (let i = 0; i < 20; i++) {
      ledgerTotals.costNusd.add(attrs('t3', `model-${i}`), 10);
      ledgerTotals.tokens.add(attrs('t3', `model-${i}`), 100);
      ledgerTotals.calls.add(attrs('t3', `model-${i}`), 1);
    }
    await settle();
    expect(reader.flushes).toBe(before + 1);
  });
});
