import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BucketHistogram } from '../../../../core/metrics/bucket-histogram.js';
import { DEFAULT_LATENCY_BUCKETS } from '../../../../core/metrics/vigil-metrics.js';

const spec = { name: 'vigil_test_latency_seconds', help: 'A latency, in seconds.' };

/** The same observations into prom-client's Histogram and into BucketHistogram, each on a registry of its own. */
async function expositions(values: readonly number[], buckets: number[] = DEFAULT_LATENCY_BUCKETS) {
  const a = new Registry();
  const b = new Registry();
  const reference = new Histogram({ ...spec, buckets, registers: [a] });
  const ours = new BucketHistogram({ ...spec, buckets, registers: [b] });
  for (const v of values) {
    reference.observe(v);
    ours.observe(v);
  }
  return { reference: await a.metrics(), ours: await b.metrics(), a, b, ours_: ours, reference_: reference };
}

describe('BucketHistogram', () => {
  it('exposes exactly what a prom-client Histogram with the same observations exposes', async () => {
    // Values on bucket bounds, between them, beyond the last one, and zero.
    const values = [0, 0.001, 0.0049, 0.005, 0.0051, 0.02, 0.1, 0.25, 0.7, 1, 3, 9.99, 10, 42, 1e6];
    const { reference, ours } = await expositions(values);
    expect(ours).toBe(reference);
    expect(ours).toContain('vigil_test_latency_seconds_count 15');
  });

  it('matches with no observations', async () => {
    const { reference, ours } = await expositions([]);
    expect(ours).toBe(reference);
    expect(ours).toContain('vigil_test_latency_seconds_count 0');
  });

  it('sorts its buckets, so the cumulative counts are right whatever order they are given in', async () => {
    const r = new Registry();
    const h = new BucketHistogram({ ...spec, buckets: [1, 0.1, 5], registers: [r] });
    for (const v of [0.05, 0.3, 2, 7]) h.observe(v);
    const text = await r.metrics();
    expect(text).toContain('vigil_test_latency_seconds_bucket{le="0.1"} 1\n');
    expect(text).toContain('vigil_test_latency_seconds_bucket{le="1"} 2\n');
    expect(text).toContain('vigil_test_latency_seconds_bucket{le="5"} 3\n');
    expect(text).toContain('vigil_test_latency_seconds_bucket{le="+Inf"} 4\n');
  });

  it('matches in the OpenMetrics format and with default labels', async () => {
    const { a, b } = await expositions([0.02, 0.5]);
    for (const r of [a, b]) {
      r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
      r.setDefaultLabels({ service: 'vigil' });
    }
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('resets as prom-client does, and drops non-finite values, which prom-client refuses', async () => {
    const { a, b, ours_, reference_ } = await expositions([0.2, 0.4]);
    ours_.reset();
    reference_.reset();
    expect(await b.metrics()).toBe(await a.metrics());
    ours_.observe(Number.NaN);
    ours_.observe(Number.POSITIVE_INFINITY);
    expect(() => reference_.observe(Number.NaN)).toThrow();
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('refuses a second metric of the same name on a registry, as prom-client does', () => {
    const r = new Registry();
    new BucketHistogram({ ...spec, buckets: [1], registers: [r] });
    expect(() => new Histogram({ ...spec, buckets: [1], registers: [r] })).toThrow(/already been registered/);
  });
});
