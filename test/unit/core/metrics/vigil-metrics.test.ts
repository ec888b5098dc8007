import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { VigilMetrics } from '../../../../core/metrics/vigil-metrics.js';
import { compileFeatures } from '../../../../schemas/features/extractor.js';

async function value(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const data = await metric.get();
  const hit = data.values.find(
    (v) =>
      Object.entries(labels).every(([k, l]) => String((v.labels as Record<string, unknown>)[k]) === l) &&
      Object.keys(v.labels).length >= Object.keys(labels).length,
  );
  return hit?.value;
}

describe('VigilMetrics', () => {
  it('registers only on the registry it is given, every name prefixed vigil_ with help text', async () => {
    const registry = new Registry();
    new VigilMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.length).toBeGreaterThanOrEqual(17);
    for (const m of metrics) {
      expect(m.name).toMatch(/^vigil_[a-z0-9_]+$/);
      expect(m.help.length).toBeGreaterThan(10);
    }
    const counters = metrics.filter((m) => String(m.type) === 'counter').map((m) => m.name);
    for (const c of counters) expect(c).toMatch(/_total$/);
    // A second set on a fresh registry does not collide: nothing went to the global registry.
    expect(() => new VigilMetrics(new Registry())).not.toThrow();
  });

  it('counts dead letters by reason and stage', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.recordDeadLetter('FEATURE_INVALID', 'features');
    m.recordDeadLetter('FEATURE_INVALID', 'features', 2);
    m.recordDeadLetter('DECODE_FAILED', 'decode');
    expect(
      await value(registry, 'vigil_records_dead_lettered_total', {
        reason: 'FEATURE_INVALID',
        stage: 'features',
      }),
    ).toBe(3);
    expect(
      await value(registry, 'vigil_records_dead_lettered_total', {
        reason: 'DECODE_FAILED',
        stage: 'decode',
      }),
    ).toBe(1);
  });

  it('records batches into the size and duration histograms', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.recordBatch(120, 0.004, 'linger');
    m.recordBatch(500, 0.02, 'records');
    const text = await registry.metrics();
    expect(text).toContain('vigil_batch_size_records_count 2');
    expect(text).toContain('vigil_batch_size_records_sum 620');
    expect(text).toContain('vigil_batch_size_records_bucket{le="250"} 1');
    expect(text).toContain('vigil_batches_total{reason="linger"} 1');
    expect(text).toContain('vigil_scoring_duration_seconds_count 2');
  });

  it('keeps one model info series across a swap and sets the threshold', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.setModel('sensor-dense', '1', 'cpu', 0.5);
    m.setModel('sensor-dense', '2', 'wasm', 0.42);
    const info = await registry.getSingleMetric('vigil_model_info')!.get();
    expect(info.values).toEqual([
      { value: 1, labels: { model_id: 'sensor-dense', model_version: '2', backend: 'wasm' } },
    ]);
    expect(await value(registry, 'vigil_threshold')).toBeCloseTo(0.42);
  });

  it('counts scored records and anomalies by input topic', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.recordScored([{ topic: 'a' }, { topic: 'b' }, { topic: 'a' }], [{ topic: 'a' }]);
    m.recordScored([{ topic: 'a' }], []);
    expect(await value(registry, 'vigil_records_scored_total', { topic: 'a' })).toBe(3);
    expect(await value(registry, 'vigil_records_scored_total', { topic: 'b' })).toBe(1);
    expect(await value(registry, 'vigil_anomalies_total', { topic: 'a' })).toBe(1);
    expect(await value(registry, 'vigil_anomalies_total', { topic: 'b' })).toBeUndefined();
  });

  it('observes every score against its own threshold and the severity of anomalies only', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.recordScores(
      {
        scores: Float32Array.of(0.5, 2, 30, 9),
        threshold: Float32Array.of(1, 1, 10, 0),
        severity: Float32Array.of(0.4, 0.15, 0.7, 0.2),
        isAnomaly: Uint8Array.of(0, 1, 1, 0),
      },
      3,
    );
    const text = await registry.metrics();
    // Three rows given as n; ratios 0.5, 2 and 3.
    expect(text).toContain('vigil_score_ratio_count 3');
    expect(text).toContain('vigil_score_ratio_bucket{le="1"} 1');
    expect(text).toContain('vigil_score_ratio_bucket{le="2"} 2');
    expect(text).toContain('vigil_score_ratio_bucket{le="3"} 3');
    expect(text).toContain('vigil_anomaly_severity_count 2');
    // Only the two anomalies (0.15 and 0.7), never the normal rows' 0.4 and 0.2.
    expect(text).toContain('vigil_anomaly_severity_bucket{le="0.2"} 1');
    expect(text).toContain('vigil_anomaly_severity_bucket{le="0.5"} 1');
    expect(text).toContain('vigil_anomaly_severity_bucket{le="0.8"} 2');
  });

  it('exports commit results and produce errors at 0 before the first one happens', async () => {
    const registry = new Registry();
    new VigilMetrics(registry);
    expect(await value(registry, 'vigil_commits_total', { result: 'failed' })).toBe(0);
    expect(await value(registry, 'vigil_commits_total', { result: 'ok' })).toBe(0);
    for (const output of ['anomalies', 'scores', 'dead_letters'])
      expect(await value(registry, 'vigil_produce_errors_total', { output })).toBe(0);
  });

  // VigilRetrainFailed and VigilDriftDetected use increase(), which cannot see a series that appears at 1.
  it('exports drift-check, retrain and feedback results at 0 before the first one happens', async () => {
    const registry = new Registry();
    new VigilMetrics(registry);
    for (const result of ['drift', 'stable', 'insufficient'])
      expect(await value(registry, 'vigil_drift_checks_total', { result })).toBe(0);
    for (const result of ['promoted', 'candidate', 'rejected', 'failed'])
      expect(await value(registry, 'vigil_retrains_total', { result })).toBe(0);
    for (const label of ['false_alarm', 'confirmed_anomaly', 'unknown_event', 'invalid'])
      expect(await value(registry, 'vigil_feedback_total', { label })).toBe(0);
  });

  it('reports lag per partition and drops a revoked partition', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.setLag('t', 0, 10);
    m.setLag('t', 1, 3);
    m.removePartition('t', 0);
    const lag = await registry.getSingleMetric('vigil_consumer_lag_records')!.get();
    expect(lag.values).toEqual([{ value: 3, labels: { topic: 't', partition: '1' } }]);
  });

  it('derives the buffer fill ratio', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.setBuffer(2500, 1_000_000, 10_000, 2);
    expect(await value(registry, 'vigil_buffer_fill_ratio')).toBe(0.25);
    expect(await value(registry, 'vigil_buffer_records')).toBe(2500);
    expect(await value(registry, 'vigil_paused_partitions')).toBe(2);
  });

  it('labels commits and produce errors from fixed sets', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    m.recordCommit(true);
    m.recordCommit(false);
    m.recordCommit(true);
    m.recordProduceError('anomalies');
    expect(await value(registry, 'vigil_commits_total', { result: 'ok' })).toBe(2);
    expect(await value(registry, 'vigil_commits_total', { result: 'failed' })).toBe(1);
    expect(await value(registry, 'vigil_produce_errors_total', { output: 'anomalies' })).toBe(1);
  });

  it('adds process metrics only when asked', async () => {
    const registry = new Registry();
    new VigilMetrics(registry, { processMetrics: true });
    expect(
      (await registry.getMetricsAsJSON()).some((x) => x.name === 'vigil_process_cpu_seconds_total'),
    ).toBe(true);
  });
});

describe('temporal feature state', () => {
  it('exports the extractor’s entities held and evictions, read at scrape time', async () => {
    const registry = new Registry();
    const m = new VigilMetrics(registry);
    const x = compileFeatures({
      entityKey: 'id',
      eventTime: { path: 't' },
      temporal: { maxEntities: 2 },
      fields: [{ kind: 'numeric', path: 'a' }],
    });
    m.watchEntityState(x.temporal!);
    const row = new Float32Array(x.width);
    for (const id of ['a', 'b', 'c', 'd', 'a']) x.extractInto({ id, t: 0, a: 1 }, row, 0, 'topic:0');
    expect(await value(registry, 'vigil_feature_entities')).toBe(2);
    expect(await value(registry, 'vigil_feature_entities_evicted_total')).toBe(3);
    // A second scrape adds only what happened since.
    x.extractInto({ id: 'e', t: 0, a: 1 }, row, 0, 'topic:1');
    expect(await value(registry, 'vigil_feature_entities_evicted_total')).toBe(4);
    x.forgetStream('topic:0');
    expect(await value(registry, 'vigil_feature_entities')).toBe(1);
  });
});
