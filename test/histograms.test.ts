import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { metrics } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { HistogramProducer } from '../src/backend/histograms.js';

/** A reader collected by hand (cumulative, like serve's). */
class ManualReader extends MetricReader {
  constructor(producers: HistogramProducer[] = []) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE, metricProducers: producers });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const BOUNDS = [0, 0.005, 0.01, 0.1, 1, 10];
// Values on every bound, between bounds, above the last, plus ones both must ignore.
const VALUES = [0, 0, 0.005, 0.0049, 0.0051, 0.01, 0.05, 0.1, 0.1000001, 0.99, 1, 7, 10, 10.5, 1e9, -1, Number.NaN, 3];
const SETS = [
  { 'http.request.method': 'GET', 'http.route': '/a', 'http.response.status_code': 200 },
  { 'http.response.status_code': 404, 'http.request.method': 'POST' },
];

async function histogramOf(reader: ManualReader, name: string): Promise<HistogramMetricData> {
  const { resourceMetrics } = await reader.collect();
  const m = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === name);
  expect(m?.dataPointType).toBe(DataPointType.HISTOGRAM);
  return m as HistogramMetricData;
}

const comparable = (m: HistogramMetricData) =>
  m.dataPoints
    .map((p) => ({ attributes: p.attributes, value: p.value }))
    .sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));

describe('histograms.ts against the SDK\'s explicit-bucket histogram', () => {
  it('exports the same buckets, count, sum, min and max per attribute set, and the same descriptor', async () => {
    const sdkReader = new ManualReader();
    const sdk = new MeterProvider({ readers: [sdkReader] }).getMeter('t').createHistogram('x.duration', { unit: 's', description: 'd', advice: { explicitBucketBoundaries: BOUNDS } });
    const producer = new HistogramProducer('t');
    producer.enable();
    const ours = producer.histogram('x.duration', { unit: 's', description: 'd', boundaries: BOUNDS });
    const ourReader = new ManualReader([producer]);
    new MeterProvider({ readers: [ourReader] });
    VALUES.forEach((v, i) => {
      const attrs = SETS[i % 2]!;
      sdk.record(v, attrs);
      // One set through a cached series, the other through record() with its attributes.
      if (i % 2 === 0) ours.seriesOf('a', () => attrs).record(v);
      else ours.record(v, { ...attrs });
    });
    const [a, b] = [await histogramOf(sdkReader, 'x.duration'), await histogramOf(ourReader, 'x.duration')];
    expect(comparable(b)).toEqual(comparable(a));
    expect(b.descriptor).toEqual({ name: a.descriptor.name, description: a.descriptor.description, unit: a.descriptor.unit, valueType: a.descriptor.valueType });
    expect(b.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    // Cumulative: a second collection still holds every value; a later record adds to it.
    ours.seriesOf('a', () => SETS[0]!).record(0.5);
    const again = await histogramOf(ourReader, 'x.duration');
    const countOf = (m: HistogramMetricData, set: (typeof SETS)[number]) => m.dataPoints.find((p) => JSON.stringify(p.attributes) === JSON.stringify(set))?.value.count;
    expect(countOf(again, SETS[0]!)).toBe((countOf(b, SETS[0]!) ?? 0) + 1);
    expect(countOf(again, SETS[1]!)).toBe(countOf(b, SETS[1]!));
  });

  it('until enabled, records go through the global meter provider; a snapshot does not move with later records', async () => {
    const globalReader = new ManualReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [globalReader] }));
    const producer = new HistogramProducer('t');
    const h = producer.histogram('y', { unit: '1', description: '', boundaries: [1, 2] });
    const s = h.seriesOf('k', () => ({ k: 'v' }));
    s.record(1);
    expect((await producer.collect()).resourceMetrics.scopeMetrics).toEqual([]);
    const viaApi = await histogramOf(globalReader, 'y');
    expect(viaApi.dataPoints.map((p) => [p.attributes, p.value.count, p.value.buckets.counts])).toEqual([[{ k: 'v' }, 1, [1, 0, 0]]]);
    metrics.disable();
    producer.enable();
    s.record(1.5);
    const snap = (await producer.collect()).resourceMetrics.scopeMetrics[0]!.metrics[0] as HistogramMetricData;
    s.record(5);
    expect(snap.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [1, 2], counts: [0, 1, 0] }, count: 1, sum: 1.5, min: 1.5, max: 1.5 });
  });

  it('refuses bounds that do not ascend', () => {
    expect(() => new HistogramProducer('t').histogram('z', { unit: '1', description: '', boundaries: [1, 1] })).toThrow(/ascend/);
  });
});
