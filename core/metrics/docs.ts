/**
 * The metrics reference (docs/metrics.md), rendered from what VigilMetrics registers, so the page cannot drift
 * from the code: a unit test compares the file with this output.
 */
import { Registry } from 'prom-client';
import { VigilMetrics } from './vigil-metrics.js';

interface MetricShape {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly labelNames: readonly string[];
}

/** Name, type, help and label names of every metric Vigil registers (process metrics left out). */
export function describeMetrics(): MetricShape[] {
  const registry = new Registry();
  new VigilMetrics(registry);
  return registry
    .getMetricsAsArray()
    .map((m) => {
      const metric = m as unknown as { name: string; help: string; labelNames?: string[]; type?: string };
      return {
        name: metric.name,
        type: String(metric.type ?? 'untyped'),
        help: metric.help,
        labelNames: [...(metric.labelNames ?? [])],
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export function renderMetricsDocs(): string {
  const rows = describeMetrics().map(
    (m) =>
      `| \`${m.name}\` | ${m.type} | ${m.labelNames.length === 0 ? '–' : m.labelNames.map((l) => `\`${l}\``).join(', ')} | ${m.help} |`,
  );
  return [
    '# Metrics',
    '',
    'Generated from `core/metrics/vigil-metrics.ts` by `npm run docs:metrics`; a unit test keeps this page and the code',
    'in step. Served at `metrics.host`:`metrics.port` on `metrics.path` (default `/metrics`, Prometheus text format),',
    'with `/healthz` (live: 503 once the pipeline has stopped on an error) and `/readyz` (ready: 200 only with the',
    'model loaded, connected and partitions assigned; 503 with the reason while starting, joining or shutting down)',
    'beside it. `vigil run` also exports the Node.js process metrics (CPU, memory, event-loop lag, GC) under the same',
    '`vigil_` prefix; they are not listed here.',
    '',
    'Histograms also expose `_bucket`, `_sum` and `_count` series. Labels are low-cardinality by design: error',
    'codes, pipeline stages, output kinds and the consumed topic and partition; never a key, an entity or an offset.',
    '',
    '| metric | type | labels | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    'Two latencies: `vigil_end_to_end_latency_seconds` runs from the record’s Kafka timestamp, so it includes the',
    'producer, the broker and any consumer lag; `vigil_processing_latency_seconds` runs from the moment the Kafka',
    'client hands the record to Vigil, so it is Vigil’s own part. A rising end-to-end latency with a flat processing',
    'latency points upstream (lag, a slow producer); both rising points at Vigil.',
    '',
  ].join('\n');
}
