import type { Registry } from 'prom-client';

/**
 * A label-free histogram for what is observed for every record on the pipeline's thread (the two latencies and
 * the score ratio). prom-client's Histogram builds a label object, validates and hashes it on every observe
 * (about 0.2 µs, and garbage, each): at 100k records/s the metrics were 7 % of the thread (bench/RESULTS.md, "Pipeline", profile). This one
 * adds to a typed array. It registers and exposes exactly as a prom-client Histogram of the same name, help and
 * buckets does (a unit test compares the two expositions), so dashboards and alert rules do not change.
 *
 * Non-finite values are dropped: prom-client throws on them, and a latency is never one. Buckets are sorted
 * (prom-client keeps them in the order given, and its cumulative counts are wrong when that is unsorted).
 */
export class BucketHistogram {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly upperBounds: readonly number[];
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;
  /** Whether the series is exposed: from the start, and again from the first observation after a reset. */
  private exposed = true;

  constructor(options: {
    readonly name: string;
    readonly help: string;
    readonly buckets: readonly number[];
    readonly registers: readonly Registry[];
  }) {
    this.name = options.name;
    this.help = options.help;
    this.upperBounds = [...options.buckets].sort((a, b) => a - b);
    this.counts = new Float64Array(this.upperBounds.length);
    for (const r of options.registers) r.registerMetric(this as never);
  }

  readonly name: string;
  readonly help: string;

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        this.counts[i]!++;
        break;
      }
    }
    this.sum += value;
    this.count++;
    this.exposed = true;
  }

  /**
   * The MetricObject prom-client's registry formats: cumulative buckets, +Inf, sum and count. Like prom-client's
   * label-free Histogram, zeros from the start, and no series after a reset until the next observation.
   */
  async get() {
    const name = this.name;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    if (!this.exposed) return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    let acc = 0;
    for (let i = 0; i < this.upperBounds.length; i++) {
      acc += this.counts[i]!;
      values.push({ labels: { le: this.upperBounds[i]! }, value: acc, metricName: `${name}_bucket` });
    }
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${name}_count` });
    return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
    this.exposed = false;
  }
}
