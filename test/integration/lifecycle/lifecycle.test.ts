// The model lifecycle on the real broker (kafkajs transport): a stream whose distribution shifts mid-way
// raises drift, a retrain runs on a worker thread, the challenger passes the gate, is promoted in the registry
// topic and swapped in; feedback raises a noisy entity's threshold within its bound (persisted across a
// restart) and keeps confirmed anomalies out of the reservoir (counted); a retrain on contaminated data is
// rejected by the gate with the reason recorded in the registry; a shadow window promotes a challenger that live
// traffic bears out and rejects one it does not. One random set of topics per test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FeedbackFollower } from '../../../connector/lifecycle/feedback-topic.js';
import { sourceKey } from '../../../connector/lifecycle/lifecycle-records.js';
import {
  type Champion,
  DEFAULT_LIFECYCLE,
  ModelLifecycle,
  type ModelLifecycleOptions,
} from '../../../connector/lifecycle/model-lifecycle.js';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../../../connector/pipeline/output-codec.js';
import { Pipeline } from '../../../connector/pipeline/pipeline.js';
import { ModelRegistry, registryTopicSpec } from '../../../connector/registry/index.js';
import { createTransport, type Transport } from '../../../connector/transport/index.js';
import { createLogger, silentLogger } from '../../../core/logger.js';
import { VigilMetrics } from '../../../core/metrics/vigil-metrics.js';
import { loadDetector, readManifest } from '../../../model/artifact.js';
import type { Detector } from '../../../model/detector.js';
import type { Scorer } from '../../../model/types.js';
import { loadSchema } from '../../../schemas/catalog.js';
import type { AnomalyEvent, SensorReading } from '../../../schemas/types.js';
import { createTopic, deleteTopic, kafkajsClient, uniqueName } from '../../support/kafka.js';
import { seasonFleet, shifted, spike, trainSeasonChampion } from '../../support/season-fleet.js';
import { sensorExtractor } from '../../support/sensor-fixture.js';
import { plaintextOptions } from '../transport/conformance.js';

const sensorType = loadSchema('sensor_reading');
const log = process.env.VIGIL_TEST_LOG ? createLogger({ level: process.env.VIGIL_TEST_LOG }) : silentLogger();

// The fleet, the season change and the bearing fault: test/support/season-fleet.ts.
const { trainRecords, sameRecords, later } = seasonFleet();

let championDir: string;
let champion: Detector;
const scratch: string[] = [];

beforeAll(async () => {
  const trained = await trainSeasonChampion(trainRecords);
  champion = trained.detector;
  championDir = trained.dir;
  scratch.push(trained.base);
}, 180_000);

afterAll(async () => {
  champion?.dispose();
  for (const d of scratch) await rm(d, { recursive: true, force: true });
});

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
});

async function topic(prefix: string, partitions = 1, config: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await createTopic(name, partitions, config);
  cleanups.push(() => deleteTopic(name));
  return name;
}

function transport(): Transport {
  const t = createTransport('kafkajs', plaintextOptions(), log);
  cleanups.push(() => t.close());
  return t;
}

async function produce(topicName: string, records: readonly SensorReading[], keyOf: (i: number) => string) {
  const producer = kafkajsClient().producer();
  await producer.connect();
  for (let i = 0; i < records.length; i += 1000) {
    await producer.send({
      topic: topicName,
      messages: records
        .slice(i, i + 1000)
        .map((r, j) => ({ key: keyOf(i + j), value: sensorType.toBuffer(r) })),
    });
  }
  await producer.disconnect();
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function registryWithChampion(t: Transport) {
  const name = uniqueName('lifecycle-registry');
  await t.admin().createTopics([registryTopicSpec(name)]);
  cleanups.push(() => deleteTopic(name));
  const registry = new ModelRegistry(t, { topic: name, chunkBytes: 256 * 1024 }, log);
  cleanups.push(() => registry.close());
  const v0 = await registry.publish(championDir);
  await registry.setStatus(v0, 'promoted', 'initial model');
  const c: Champion = { dir: championDir, manifest: await readManifest(championDir), registryVersion: v0 };
  return { registry, v0, champion: c, topic: name };
}

function lifecycleOptions(
  base: string,
  eventsTopic: string,
  overrides: Partial<ModelLifecycleOptions> = {},
): ModelLifecycleOptions {
  return {
    ...DEFAULT_LIFECYCLE,
    eventsTopic,
    reservoir: { capacity: 3000 },
    drift: { ...DEFAULT_LIFECYCLE.drift, intervalMs: 1500 },
    retrain: {
      ...DEFAULT_LIFECYCLE.retrain,
      cooldownMs: 0,
      minRows: 1500,
      epochs: 15,
      trimFraction: 0,
      workDir: base,
    },
    // The test models run at the 0.99 quantile: 1 % of normal rows flagged by design.
    // The held-out sample is taken before the flags, so phase 1's faults (1 in 50) are in it for both models.
    gate: { ...DEFAULT_LIFECYCLE.gate, maxFalseAlarmRate: 0.05 },
    ...overrides,
  };
}

function pipeline(
  t: Transport,
  input: string,
  scorer: Scorer,
  lifecycle: ModelLifecycle,
  outputs: { anomalies: string; dlq: string },
  metrics: VigilMetrics,
  onAnomaly: (e: AnomalyEvent) => void,
): Pipeline {
  const p = new Pipeline(
    {
      topics: [input],
      groupId: uniqueName('lifecycle-group'),
      anomaliesTopic: outputs.anomalies,
      deadLetterTopic: outputs.dlq,
      delivery: 'at-least-once',
      startFrom: 'earliest',
      batching: { maxRecords: 500, maxBytes: 4 << 20, lingerMs: 20, maxBuffered: 5000, yieldEvery: 500 },
    },
    {
      transport: t,
      decoder: plainAvroDecoder(sensorType),
      extractor: sensorExtractor(),
      scorer,
      output: plainAvroOutputCodec(),
      logger: log,
      metrics,
      onAnomaly,
      onScored: lifecycle.onScored,
    },
  );
  cleanups.push(() => p.stop().then(() => p.closed));
  return p;
}

describe('model lifecycle on the real broker', () => {
  it('a distribution shift raises drift, retrains off-thread, promotes a challenger that passes the gate, and the serving model swaps', async () => {
    const t = transport();
    const base = await mkdtemp(path.join(tmpdir(), 'vigil-lifecycle-run-'));
    scratch.push(base);
    const { registry, v0, champion: c0, topic: registryTopic } = await registryWithChampion(t);
    const input = await topic('lifecycle-in', 3);
    const outputs = { anomalies: await topic('lifecycle-anom'), dlq: await topic('lifecycle-dlq') };
    const events = await topic('lifecycle-events');
    const metrics = new VigilMetrics(new Registry());
    const swaps: { version: string; scoredBefore: number }[] = [];
    let serving: Detector | undefined;
    let p: Pipeline | undefined;
    const lifecycle = new ModelLifecycle(
      lifecycleOptions(base, events),
      {
        transport: t,
        registry,
        logger: log,
        metrics: metrics.lifecycle,
        onPromoted: async (version, dir) => {
          serving = await loadDetector(dir);
          swaps.push({ version, scoredBefore: p!.stats.scored });
          p!.setScorer(serving);
        },
      },
      c0,
    );
    cleanups.push(() => lifecycle.stop());
    cleanups.push(async () => serving?.dispose());
    await lifecycle.start();
    const anomalies: AnomalyEvent[] = [];
    p = pipeline(t, input, champion, lifecycle, outputs, metrics, (e) => anomalies.push(e));
    await p.start();

    // Phase 1: fresh normal readings of the training period, a bearing fault every 50th.
    const phase1 = sameRecords.map((r, i) => (i % 50 === 25 ? spike(r) : r));
    await produce(input, phase1, (i) => `a${i}`);
    await until('phase 1 scored', () => p!.stats.scored >= phase1.length, 120_000);
    await until('a drift check over phase 1', () => (lifecycle.lastDrift?.rows ?? 0) >= 1500, 30_000);
    expect(lifecycle.lastDrift!.drifted).toBe(false);
    expect(lifecycle.history).toHaveLength(0);
    const faultsBefore = anomalies.filter(
      (e) => /^a\d+$/.test(keyOf(e)) && Number(keyOf(e).slice(1)) % 50 === 25,
    );
    const recallBefore = faultsBefore.length / Math.floor(phase1.length / 50);

    // Phase 2: the season changes.
    const phase2 = later(3000).map(shifted);
    await produce(input, phase2, (i) => `b${i}`);
    await until('a retrain to finish', () => lifecycle.history.length > 0, 300_000);
    const outcome = lifecycle.history[0]!;
    expect(outcome.trigger).toBe('drift');
    expect(outcome.reasons).toEqual([]);
    expect(outcome.result).toBe('promoted');
    const verdict = outcome.verdict!;
    // The stale champion flags today's normal more than the challenger does.
    expect(verdict.champion.falseAlarmRate).toBeGreaterThan(verdict.challenger.falseAlarmRate);
    expect(swaps.map((s) => s.version)).toEqual([outcome.version]);
    expect(p.stats.scored).toBeGreaterThanOrEqual(swaps[0]!.scoredBefore);

    // Phase 3: shifted normal with faults, scored by the new model.
    const phase3 = later(2000).map((r, i) => (i % 50 === 25 ? spike(shifted(r)) : shifted(r)));
    await produce(input, phase3, (i) => `c${i}`);
    const total = phase1.length + phase2.length + phase3.length;
    await until('every record scored', () => p!.stats.scored >= total, 120_000);
    await new Promise((r) => setTimeout(r, 1000));
    // Counted by record: nothing lost, nothing scored twice, across the swap.
    expect(p.stats.scored + p.stats.deadLettered).toBe(total);
    const keys = anomalies.map(keyOf);
    expect(new Set(keys).size).toBe(keys.length);
    const phase3Events = anomalies.filter((e) => keyOf(e).startsWith('c'));
    expect(phase3Events.every((e) => e.model.version === serving!.identity.version)).toBe(true);
    const faultsAfter = phase3Events.filter((e) => Number(keyOf(e).slice(1)) % 50 === 25).length;
    const recallAfter = faultsAfter / Math.floor(phase3.length / 50);
    const falseAfter = (phase3Events.length - faultsAfter) / (phase3.length - phase3.length / 50);
    // Detection keeps working: the faults are still found, and the new normal is not reported as anomalous
    // as often as the old model would (scored offline on the same rows).
    expect(recallBefore).toBeGreaterThan(0.8);
    expect(recallAfter).toBeGreaterThan(0.8);
    const ex = sensorExtractor();
    const rows = new Float32Array(phase3.length * ex.width);
    let n = 0;
    for (const [i, r] of phase3.entries()) if (i % 50 !== 25 && ex.extractInto(r, rows, n * ex.width).ok) n++;
    const stale = champion.score(rows, n, undefined, { explain: 'anomalies' });
    const staleRate = stale.isAnomaly.reduce((a, b) => a + b, 0) / n;
    expect(falseAfter).toBeLessThan(staleRate);

    // The registry as a fresh replica reads it: the challenger is the promoted version, with lineage and the
    // gate's evaluation, and it loads into a working model (what `vigil run` loads at start).
    const fresh = new ModelRegistry(transport(), { topic: registryTopic }, log);
    cleanups.push(() => fresh.close());
    const promoted = await fresh.latestPromoted();
    expect(promoted?.version).toBe(outcome.version);
    expect(promoted?.manifest.lineage.parentVersion).toBe(v0);
    expect((promoted!.manifest.evaluation as { gate: { passed: boolean } }).gate.passed).toBe(true);
    const dir = path.join(base, 'fresh');
    await fresh.loadInto(outcome.version!, dir);
    const reloaded = await loadDetector(dir);
    expect(reloaded.identity.version).toBe(serving!.identity.version);
    reloaded.dispose();

    // Metrics and the lifecycle topic say what happened.
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigil_drift_checks_total\{result="drift"\} [1-9]/);
    expect(text).toMatch(/vigil_retrains_total\{result="promoted"\} 1/);
    expect(text).toMatch(/vigil_reservoir_rows \d{3,}/);
    const lifecycleEvents = await readJson(events);
    expect(lifecycleEvents.some((e) => e.type === 'drift_check' && e.drifted === true)).toBe(true);
    expect(lifecycleEvents.find((e) => e.type === 'retrain')).toMatchObject({
      result: 'promoted',
      parentVersion: v0,
    });
  }, 600_000);

  it('feedback: false alarms raise an entity’s threshold within its bound (kept across a restart), confirmed anomalies stay out of the reservoir, and a contaminated retrain is rejected', async () => {
    const t = transport();
    const base = await mkdtemp(path.join(tmpdir(), 'vigil-lifecycle-fb-'));
    scratch.push(base);
    const { registry, champion: c0, topic: registryTopic } = await registryWithChampion(t);
    const input = await topic('lifecycle-fb-in', 1);
    const dirty = await topic('lifecycle-dirty-in', 1);
    const outputs = { anomalies: await topic('lifecycle-fb-anom'), dlq: await topic('lifecycle-fb-dlq') };
    const events = await topic('lifecycle-fb-events');
    const feedbackTopic = await topic('lifecycle-feedback', 1);
    const adjustments = await topic('lifecycle-adjust', 1, { 'cleanup.policy': 'compact' });
    const feedbackOptions = { falseAlarmsPerStep: 1, stepFactor: 2, maxFactor: 3, maxEntities: 1000 };
    const makeLifecycle = async (metrics: VigilMetrics) => {
      const l = new ModelLifecycle(
        lifecycleOptions(base, events, {
          adjustmentsTopic: adjustments,
          feedback: feedbackOptions,
          reservoir: { capacity: 10_000 },
          drift: { ...DEFAULT_LIFECYCLE.drift, intervalMs: 0 },
        }),
        { transport: t, registry, logger: log, metrics: metrics.lifecycle },
        c0,
      );
      cleanups.push(() => l.stop());
      await l.start();
      const f = new FeedbackFollower(
        t,
        l,
        { feedbackTopic, adjustmentsTopic: adjustments },
        log,
        metrics.lifecycle,
      );
      cleanups.push(() => f.stop());
      await f.start();
      return { l, f };
    };
    const metrics = new VigilMetrics(new Registry());
    const { l: lifecycle, f: follower } = await makeLifecycle(metrics);

    // Same-period normal data with a bearing fault every 40th reading; offsets are indices (one partition).
    const records = sameRecords.map((r, i) => (i % 40 === 20 ? spike(r) : r));
    const isFault = (offset: number) => offset % 40 === 20;
    await produce(input, records, (i) => `r${i}`);
    const first: AnomalyEvent[] = [];
    const p1 = pipeline(t, input, champion, lifecycle, outputs, metrics, (e) => first.push(e));
    await p1.start();
    await until('first pass scored', () => p1.stats.scored >= records.length, 120_000);
    await p1.stop();
    await p1.closed;
    const confirmed = first.filter((e) => isFault(e.source.offset));
    expect(confirmed.length).toBeGreaterThan(50);
    // The entity with the most false alarms; all its alerts are marked false (faults too: the analyst says so).
    const falseByEntity = new Map<string, number>();
    for (const e of first)
      if (!isFault(e.source.offset)) falseByEntity.set(e.entity, (falseByEntity.get(e.entity) ?? 0) + 1);
    const noisy = [...falseByEntity.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    const noisyEvents = first.filter((e) => e.entity === noisy);
    const feedback = [
      ...noisyEvents.map((e) => ({ key: e.event_id, value: JSON.stringify({ label: 'false_alarm' }) })),
      ...confirmed
        .filter((e) => e.entity !== noisy)
        .map((e) => ({ key: e.event_id, value: JSON.stringify({ label: 'confirmed_anomaly' }) })),
    ];
    const fbProducer = kafkajsClient().producer();
    await fbProducer.connect();
    await fbProducer.send({ topic: feedbackTopic, messages: feedback });
    await fbProducer.disconnect();
    await until('feedback applied', () => follower.appliedCount >= feedback.length, 60_000);
    const confirmedCount = confirmed.filter((e) => e.entity !== noisy).length;
    const factor = lifecycle.thresholds.factor(noisy);
    expect(factor).toBe(3); // bounded by maxFactor, though there were more steps' worth of false alarms
    expect(noisyEvents.length).toBeGreaterThan(Math.log(3) / Math.log(2));

    // The same stream again: the noisy entity alerts less, within the bound; the others exactly as before.
    const second: AnomalyEvent[] = [];
    const p2 = pipeline(t, input, champion, lifecycle, outputs, metrics, (e) => second.push(e));
    await p2.start();
    await until('second pass scored', () => p2.stats.scored >= records.length, 120_000);
    await p2.stop();
    await p2.closed;
    const noisyAfter = second.filter((e) => e.entity === noisy);
    expect(noisyAfter.length).toBeLessThan(noisyEvents.length);
    for (const e of noisyAfter) expect(e.score).toBeGreaterThan(e.threshold);
    for (const e of noisyAfter)
      expect(e.threshold).toBeLessThanOrEqual(3 * c0.manifest.threshold.threshold * 1.0001);
    // As sets of offsets: batches in flight together finish (and call onAnomaly) in either order.
    const others = (xs: AnomalyEvent[]) =>
      [...new Set(xs.filter((e) => e.entity !== noisy).map((e) => e.source.offset))].sort((a, b) => a - b);
    expect(others(second)).toEqual(others(first));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/vigil_threshold_adjusted_entities 1/);
    expect(text).toMatch(/vigil_threshold_adjustment_max_factor 3/);

    // Restart: the adjustment is restored from the compacted topic, and the feedback is not counted again.
    const { l: restarted, f: follower2 } = await makeLifecycle(new VigilMetrics(new Registry()));
    expect(restarted.thresholds.get(noisy)).toMatchObject({ factor: 3, falseAlarms: noisyEvents.length });
    expect(follower2.appliedCount).toBe(0);
    // Reversible.
    await restarted.resetEntity(noisy);
    expect(restarted.thresholds.factor(noisy)).toBe(1);

    // Every record of the topic again through a model that flags nothing: all enter the reservoir except the
    // confirmed anomalies (same offsets), counted.
    const lax = await loadDetector(championDir, { threshold: { value: 1e30 } });
    cleanups.push(async () => lax.dispose());
    const before = lifecycle.reservoir.size;
    const p3 = pipeline(t, input, lax, lifecycle, outputs, metrics, () => {});
    await p3.start();
    await until('lax pass scored', () => p3.stats.scored >= records.length, 120_000);
    await p3.stop();
    await p3.closed;
    const snap = lifecycle.reservoir.snapshot();
    const held = lifecycle.holdout.snapshot();
    // Every record is in the training reservoir or the held-out sample, once, except the confirmed anomalies.
    expect(snap.n + held.n).toBe(records.length - confirmedCount);
    expect(new Set([...snap.keys, ...held.keys]).size).toBe(snap.n + held.n);
    expect(held.n).toBeGreaterThan(0);
    expect(snap.n - before).toBeGreaterThan(0);
    const confirmedKeys = new Set(
      confirmed.filter((e) => e.entity !== noisy).map((e) => sourceKey(e.source)),
    );
    expect([...snap.keys, ...held.keys].filter((k) => confirmedKeys.has(k))).toEqual([]);
    expect(lifecycle.labelled.size).toBe(confirmedCount);

    // Contamination: a stretch where a third of the readings are faults gets into the reservoir through the lax
    // model; the retrain learns the faults, and the gate, checking the confirmed anomalies, rejects it.
    const contaminated = later(3000).map((r, i) => (i % 3 === 0 ? spike(r) : r));
    await produce(dirty, contaminated, (i) => `d${i}`);
    const p4 = pipeline(t, dirty, lax, lifecycle, outputs, metrics, () => {});
    await p4.start();
    await until('contaminated stretch scored', () => p4.stats.scored >= contaminated.length, 120_000);
    const outcome = await lifecycle.retrain('manual');
    expect(outcome?.result).toBe('rejected');
    expect(outcome!.reasons.join('; ')).toMatch(/recall on \d+ confirmed anomalies/);
    const fresh = new ModelRegistry(transport(), { topic: registryTopic }, log);
    cleanups.push(() => fresh.close());
    const listed = await fresh.list();
    const rejected = listed.find((e) => e.version === outcome!.version);
    expect(rejected?.status).toBe('rejected');
    expect(rejected?.reason).toMatch(/^gate: .*recall on \d+ confirmed anomalies/);
    expect((await fresh.latestPromoted())?.version).toBe(c0.registryVersion);
  }, 600_000);

  it('a shadow window: the challenger is promoted when live traffic bears it out, and rejected when the season turns back before promotion', async () => {
    // Both challengers learn the new season and pass the gate on its held-out rows; what the window sees differs.
    const cases = [
      { traffic: shifted, expected: 'promoted' },
      { traffic: (r: SensorReading) => r, expected: 'rejected' },
    ] as const;
    for (const [k, c] of cases.entries()) {
      const t = transport();
      const base = await mkdtemp(path.join(tmpdir(), 'vigil-lifecycle-shadow-'));
      scratch.push(base);
      const { registry, v0, champion: c0, topic: registryTopic } = await registryWithChampion(t);
      const input = await topic(`lifecycle-shadow-in-${k}`, 1);
      const outputs = { anomalies: await topic('lifecycle-sh-anom'), dlq: await topic('lifecycle-sh-dlq') };
      const events = await topic('lifecycle-sh-events');
      const metrics = new VigilMetrics(new Registry());
      const lifecycle = new ModelLifecycle(
        lifecycleOptions(base, events, {
          drift: { ...DEFAULT_LIFECYCLE.drift, intervalMs: 0 },
          shadow: { windowMs: 4000, minRows: 300, maxAlertRate: 0.05, maxRatio: 1.5 },
        }),
        { transport: t, registry, logger: log, metrics: metrics.lifecycle },
        c0,
      );
      cleanups.push(() => lifecycle.stop());
      await lifecycle.start();
      const season = later(5000).map(shifted);
      await produce(input, season, (i) => `s${i}`);
      const p = pipeline(t, input, champion, lifecycle, outputs, metrics, () => {});
      await p.start();
      await until('the new season scored', () => p.stats.scored >= season.length, 120_000);

      // Live traffic for as long as the retrain (and its window) runs.
      let feeding = true;
      let fed = 0;
      const feeder = (async () => {
        while (feeding) {
          await produce(input, later(100).map(c.traffic), (i) => `f${fed + i}`);
          fed += 100;
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      const outcome = await lifecycle.retrain('manual');
      feeding = false;
      await feeder;
      expect(outcome?.verdict?.passed).toBe(true);
      const sh = outcome!.shadow!;
      expect(sh.rows).toBeGreaterThanOrEqual(300);
      expect(outcome!.result).toBe(c.expected);
      const reader = new ModelRegistry(transport(), { topic: registryTopic }, log);
      cleanups.push(() => reader.close());
      const listed = await reader.list();
      const entry = listed.find((e) => e.version === outcome!.version);
      if (c.expected === 'promoted') {
        // The stale champion alerts on the new season; the challenger does not.
        expect(sh.challengerRate).toBeLessThan(sh.championRate);
        expect(entry?.status).toBe('promoted');
        expect(entry?.reason).toMatch(/shadow: would-be alert rate .* on \d+ live records/);
      } else {
        // Back to the old season: the champion's normal, the challenger's anomaly.
        expect(sh.challengerRate).toBeGreaterThan(Math.max(0.05, 1.5 * sh.championRate));
        expect(entry?.status).toBe('rejected');
        expect(entry?.reason).toMatch(/^shadow: would-be alert rate/);
      }
      const retrainEvent = (await readJson(events)).find((e) => e.type === 'retrain');
      expect(retrainEvent).toMatchObject({
        result: c.expected,
        parentVersion: v0,
        shadow: { rows: sh.rows },
      });
      await p.stop();
      await p.closed;
    }
  }, 600_000);
});

/** The source record's key (the tests key each record by its phase and index). */
function keyOf(e: AnomalyEvent): string {
  return e.key?.toString('utf8') ?? '';
}

async function readJson(topicName: string): Promise<Record<string, unknown>[]> {
  const t = createTransport('kafkajs', plaintextOptions(), silentLogger());
  const out: Record<string, unknown>[] = [];
  try {
    const reader = t.topicReader({ topic: topicName });
    await reader.start(async (b) => {
      for (const r of b.records) out.push(JSON.parse(r.value!.toString('utf8')));
    });
    await reader.closed;
  } finally {
    await t.close();
  }
  return out;
}
