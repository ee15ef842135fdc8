import { ValueType, metrics, type Attributes, type Histogram, type HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type CollectionResult, type HistogramMetricData, type MetricProducer } from '@opentelemetry/sdk-metrics';

/**
 * The backend's histograms, aggregated here and handed to the SDK's metric reader as a
 * MetricProducer (the SDK's own interface for metrics made outside its instruments).
 *
 * Why not the SDK's Histogram: each `record(value, attributes)` there hashes the attribute set
 * (sorts its keys and JSON-encodes them) to find its series, and the HTTP histograms are
 * recorded twice per request. Here a caller asks once for the series of an attribute set and
 * keeps it; a record is then a bucket search and four additions.
 *
 * What is exported is what the SDK's explicit-bucket histogram exports: cumulative temporality,
 * the same bucket rule (a value lands in the first bucket whose upper bound is ≥ it), count, sum,
 * min and max; negative and NaN values are not recorded (the SDK drops them too). Names, units
 * and attributes stay CONTRACT.md's.
 */
export interface HistogramOptions {
  unit: string;
  description: string;
  /** Upper bounds of the buckets, ascending; one more bucket counts what lies above the last. */
  boundaries: readonly number[];
}

/** One series (one attribute set) of a histogram. */
export class HistogramSeries {
  private readonly counts: number[];
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;
  private startTime: HrTime | undefined;

  constructor(
    private readonly owner: FastHistogram,
    readonly attributes: Attributes,
  ) {
    this.counts = new Array<number>(owner.boundaries.length + 1).fill(0);
  }

  record(value: number): void {
    if (!this.owner.producer.enabled) {
      this.owner.viaApi().record(value, this.attributes);
      return;
    }
    if (!(value >= 0)) return;
    const b = this.owner.boundaries;
    // Bucket i holds (b[i-1], b[i]]: the first bound ≥ value (the SDK's binarySearchUB).
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((b[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    this.counts[lo] = (this.counts[lo] as number) + 1;
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    this.startTime ??= hrNow();
  }

  /** A copy of the cumulative state (undefined before the first record); `boundaries` is the collection's copy of the bounds. */
  point(endTime: HrTime, boundaries: number[]): HistogramMetricData['dataPoints'][number] | undefined {
    if (this.startTime === undefined) return undefined;
    return {
      startTime: this.startTime,
      endTime,
      attributes: this.attributes,
      value: { buckets: { boundaries, counts: [...this.counts] }, count: this.count, sum: this.sum, min: this.min, max: this.max },
    };
  }
}

/** A histogram whose series are looked up by the caller's own key, once. */
export class FastHistogram {
  readonly boundaries: readonly number[];
  private readonly series = new Map<string, HistogramSeries>();
  private api: Histogram | undefined;

  constructor(
    readonly producer: HistogramProducer,
    readonly name: string,
    readonly options: HistogramOptions,
  ) {
    for (let i = 1; i < options.boundaries.length; i++) {
      if (!((options.boundaries[i] as number) > (options.boundaries[i - 1] as number))) throw new Error(`histogram ${name}: bucket bounds must ascend`);
    }
    this.boundaries = [...options.boundaries];
  }

  /**
   * The series of `key`, made from `attributes()` the first time. The key must name the
   * attribute set exactly (two sets, two keys); it is the caller's cheap stand-in for hashing it.
   */
  seriesOf(key: string, attributes: () => Attributes): HistogramSeries {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new HistogramSeries(this, Object.freeze({ ...attributes() }));
      this.series.set(key, s);
    }
    return s;
  }

  /** Records with an attribute set that is not cached: the key is built from it (sorted, like the SDK's hash). */
  record(value: number, attributes: Attributes): void {
    const keys = Object.keys(attributes).sort();
    this.seriesOf(JSON.stringify(keys.map((k) => [k, attributes[k]])), () => attributes).record(value);
  }

  /**
   * The same histogram through the OpenTelemetry API, for records made while the producer is not
   * enabled: then whatever meter provider is global gets them (the no-op one with telemetry off,
   * a test's or an embedding program's SDK otherwise). Made on first use, after that provider.
   */
  viaApi(): Histogram {
    return (this.api ??= metrics.getMeter(this.producer.scopeName).createHistogram(this.name, { unit: this.options.unit, description: this.options.description, advice: { explicitBucketBoundaries: [...this.boundaries] } }));
  }

  data(endTime: HrTime): HistogramMetricData | undefined {
    const dataPoints = [];
    const boundaries = [...this.boundaries];
    for (const s of this.series.values()) {
      const p = s.point(endTime, boundaries);
      if (p) dataPoints.push(p);
    }
    if (dataPoints.length === 0) return undefined;
    return {
      descriptor: { name: this.name, description: this.options.description, unit: this.options.unit, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints,
    };
  }
}

function hrNow(): HrTime {
  const ms = performance.timeOrigin + performance.now();
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/**
 * The histograms of one meter scope, as a MetricProducer for a metric reader. They are kept here
 * once `enable()` was called, by serve's SDK set-up (telemetry.ts), which hands this producer to
 * its reader; before that, and without it, records go through the OpenTelemetry API instead.
 */
export class HistogramProducer implements MetricProducer {
  enabled = false;
  private readonly histograms = new Map<string, FastHistogram>();

  constructor(readonly scopeName: string) {}

  enable(): void {
    this.enabled = true;
  }

  /** The histogram `name` (one per name: asking again returns the same one). */
  histogram(name: string, options: HistogramOptions): FastHistogram {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = new FastHistogram(this, name, options);
      this.histograms.set(name, h);
    }
    return h;
  }

  collect(): Promise<CollectionResult> {
    const now = hrNow();
    const metrics: HistogramMetricData[] = [];
    for (const h of this.histograms.values()) {
      const d = h.data(now);
      if (d) metrics.push(d);
    }
    // The reader keeps its own SDK's resource and appends these scope metrics to it.
    return Promise.resolve({ resourceMetrics: { resource: EMPTY_RESOURCE, scopeMetrics: metrics.length ? [{ scope: { name: this.scopeName }, metrics }] : [] }, errors: [] });
  }
}

const EMPTY_RESOURCE = resourceFromAttributes({});

/** The backend's histograms (scope sagewai-admin), in whichever thread imports this module. */
export const histograms = new HistogramProducer('sagewai-admin');
