import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../../../connector/pipeline/output-codec.js';
import { Pipeline, type PipelineDeps, type PipelineOptions } from '../../../connector/pipeline/pipeline.js';
import { createTransport } from '../../../connector/transport/index.js';
import type { Transport, TransportKind } from '../../../connector/transport/types.js';
import { createLogger, silentLogger } from '../../../core/logger.js';
import { VigilMetrics } from '../../../core/metrics/vigil-metrics.js';
import { saveDetector } from '../../../model/artifact.js';
import type { Detector } from '../../../model/detector.js';
import { scoreFile } from '../../../model/eval/cli.js';
import { detectorSource, ScoringPool } from '../../../model/workers/pool.js';
import { loadSchema } from '../../../schemas/catalog.js';
import type { AnomalyEvent, DeadLetter } from '../../../schemas/types.js';
import { brokers, createTopic, deleteTopic, kafkajsClient, uniqueName } from '../../support/kafka.js';
import { sensorExtractor, sensorRecords, trainSensorDetector } from '../../support/sensor-fixture.js';
import { client, coordinate, readTopic } from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const anomalyType = loadSchema('anomaly_event');
const deadLetterType = loadSchema('dead_letter');

let detector: Detector;
/** The same model calibrated on post-processed scores: per-device smoothing and anomaly likelihood. */
let postDetector: Detector;
const POSTPROCESS = { ewmaHalfLife: 3, likelihood: { halfLife: 200, warmup: 20 }, maxEntities: 1000 };
beforeAll(async () => {
  detector = await trainSensorDetector();
  postDetector = await trainSensorDetector(4000, 7, POSTPROCESS);
}, 300_000);

/** Reads every message of a topic from the beginning until `expected` arrived or the time runs out. */
async function readAll(topic: string, expected: number, timeoutMs = 30_000) {
  const consumer = kafkajsClient().consumer({ groupId: uniqueName('reader') });
  const out: { key: Buffer | null; value: Buffer; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ key: message.key, value: message.value!, headers });
    },
  });
  const deadline = Date.now() + timeoutMs;
  while (out.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // A little longer, so that a surplus (duplicates) would be seen too.
  await new Promise((r) => setTimeout(r, 500));
  await consumer.disconnect();
  return out;
}

/** `n` sensor readings as Kafka messages keyed by device. */
function encodedReadings(n: number, seed: number, anomalyRate: number) {
  return sensorRecords(n, seed, anomalyRate).map(({ record }) => ({
    key: record.device_id,
    value: sensorType.toBuffer(record),
  }));
}

/** Produces `messages` in sends of `chunk`, `gapMs` apart (a slow stream when above zero). */
async function produceAll(
  topic: string,
  messages: readonly { key: string; value: Buffer }[],
  chunk = messages.length,
  gapMs = 0,
) {
  const producer = kafkajsClient().producer();
  await producer.connect();
  for (let i = 0; i < messages.length; i += chunk) {
    await producer.send({ topic, messages: messages.slice(i, i + chunk) });
    if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
  }
  await producer.disconnect();
}

describe.each<[TransportKind, 'main thread' | 'worker thread']>([
  ['kafkajs', 'main thread'],
  ['rdkafka', 'main thread'],
  ['kafkajs', 'worker thread'],
])('pipeline over %s, scoring on the %s', (kind, scoring) => {
  let transport: Transport;
  let pool: ScoringPool | undefined;
  const input = uniqueName(`pipe-in-${kind}`);
  const anomalies = uniqueName(`pipe-anom-${kind}`);
  const dlq = uniqueName(`pipe-dlq-${kind}`);

  beforeAll(async () => {
    await createTopic(input, 3);
    await createTopic(anomalies, 1);
    await createTopic(dlq, 1);
    transport = createTransport(
      kind,
      { brokers: brokers(), clientId: `vigil-${kind}`, security: { protocol: 'PLAINTEXT' } },
      silentLogger(),
    );
  });
  afterAll(async () => {
    await pool?.close();
    await transport?.close();
    for (const t of [input, anomalies, dlq]) await deleteTopic(t);
  });

  /** A Pipeline reading `topic` from the start, scoring in-thread, writing to this block's output topics. */
  const sensorPipeline = (
    topic: string,
    groupId: string,
    options: Pick<PipelineOptions, 'batching'> & Partial<PipelineOptions>,
    metrics?: VigilMetrics,
    deps: Partial<Pick<PipelineDeps, 'scorer' | 'onAnomaly'>> = {},
  ) =>
    new Pipeline(
      {
        topics: [topic],
        groupId,
        anomaliesTopic: anomalies,
        deadLetterTopic: dlq,
        delivery: 'at-least-once',
        startFrom: 'earliest',
        ...options,
      },
      {
        transport,
        decoder: plainAvroDecoder(sensorType),
        extractor: sensorExtractor(),
        scorer: detector,
        output: plainAvroOutputCodec(),
        logger: process.env.VIGIL_TEST_LOG
          ? createLogger({ level: process.env.VIGIL_TEST_LOG })
          : silentLogger(),
        ...(metrics === undefined ? {} : { metrics }),
        ...deps,
      },
    );

  it('records in = records scored + records dead-lettered; poison goes to the dead-letter topic with its reason', async () => {
    const labelled = sensorRecords(3000, 11, 0.03);
    // Keyed per reading, not per device: anomaly events must still be keyed by entity (the device).
    const good = labelled.map(({ record }, i) => ({
      key: `${record.device_id}/${i}`,
      value: sensorType.toBuffer(record),
    }));
    const nanRecord = { ...labelled[0]!.record, temp_bearing_front_c: Number.NaN };
    const infRecord = { ...labelled[1]!.record, current_phase_a_a: Number.POSITIVE_INFINITY };
    const goodBytes = good[2]!.value;
    const poison = [
      {
        key: 'random',
        value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03]),
        reason: 'DECODE_FAILED',
      },
      { key: 'truncated', value: goodBytes.subarray(0, goodBytes.length - 7), reason: 'DECODE_FAILED' },
      { key: 'trailing', value: Buffer.concat([goodBytes, Buffer.from([1, 2, 3])]), reason: 'DECODE_FAILED' },
      { key: 'nan', value: sensorType.toBuffer(nanRecord), reason: 'NON_FINITE' },
      { key: 'inf', value: sensorType.toBuffer(infRecord), reason: 'NON_FINITE' },
      { key: 'empty', value: Buffer.alloc(0), reason: 'DECODE_FAILED' },
    ];
    // Poison spread through the stream, not bunched at one end.
    const messages = [...good];
    for (const [i, p] of poison.entries()) messages.splice(200 + i * 450, 0, { key: p.key, value: p.value });

    await produceAll(input, messages, 1000);

    const events: AnomalyEvent[] = [];
    const registry = new Registry();
    if (scoring === 'worker thread') {
      pool = await ScoringPool.create(detectorSource(detector), { size: 1, backend: 'wasm' });
    }
    const pipeline = new Pipeline(
      {
        topics: [input],
        groupId: uniqueName(`pipe-group-${kind}`),
        anomaliesTopic: anomalies,
        deadLetterTopic: dlq,
        batching: { maxRecords: 256, maxBytes: 1 << 20, lingerMs: 20, maxBuffered: 2048, yieldEvery: 256 },
        delivery: 'at-least-once',
        startFrom: 'earliest',
      },
      {
        transport,
        decoder: plainAvroDecoder(sensorType),
        extractor: sensorExtractor(),
        scorer: pool?.asScorer(detector.identity) ?? detector,
        output: plainAvroOutputCodec(),
        logger: silentLogger(),
        metrics: new VigilMetrics(registry),
        onAnomaly: (e) => events.push(e),
      },
    );
    await pipeline.start();
    const deadline = Date.now() + 60_000;
    while (pipeline.stats.scored + pipeline.stats.deadLettered < messages.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await pipeline.stop();

    expect(pipeline.stats.consumed).toBe(messages.length);
    expect(pipeline.stats.scored).toBe(good.length);
    expect(pipeline.stats.deadLettered).toBe(poison.length);
    expect(pipeline.stats.scored + pipeline.stats.deadLettered).toBe(messages.length);
    // Both latencies are observed once per record; Vigil's own part is within the end-to-end one.
    const histogram = async (name: string) => {
      const values = (await registry.getSingleMetric(name)!.get()).values;
      const pick = (suffix: string) =>
        values.find((v) => (v as { metricName?: string }).metricName === `${name}${suffix}`)!.value;
      return { count: pick('_count'), sum: pick('_sum') };
    };
    const e2e = await histogram('vigil_end_to_end_latency_seconds');
    const own = await histogram('vigil_processing_latency_seconds');
    expect(e2e.count).toBe(messages.length);
    expect(own.count).toBe(messages.length);
    expect(own.sum).toBeGreaterThan(0);
    expect(own.sum).toBeLessThanOrEqual(e2e.sum);

    const letters = await readAll(dlq, poison.length);
    expect(letters).toHaveLength(poison.length);
    const byKey = new Map(
      letters.map((l) => [
        l.key?.toString(),
        { ...l, body: deadLetterType.fromBuffer(l.value) as DeadLetter },
      ]),
    );
    for (const p of poison) {
      const l = byKey.get(p.key)!;
      expect(l, p.key).toBeDefined();
      expect(l.body.reason_code).toBe(p.reason);
      expect(l.body.source_topic).toBe(input);
      expect(Buffer.compare(l.body.original_value!, p.value)).toBe(0);
      expect(l.headers['vigil.reason']).toBe(p.reason);
      expect(l.headers['vigil.source.offset']).toBe(String(l.body.source_offset));
    }

    const produced = await readAll(anomalies, events.length);
    expect(produced).toHaveLength(pipeline.stats.anomalies);
    const decoded = produced.map((m) => anomalyType.fromBuffer(m.value) as AnomalyEvent);
    expect(new Set(decoded.map((e) => e.event_id)).size).toBe(decoded.length);
    decoded.forEach((e, i) => {
      expect(produced[i]!.key?.toString()).toBe(e.entity);
      expect(e.key?.toString()).toMatch(new RegExp(`^${e.entity}/\\d+$`));
    });
    for (const e of decoded) {
      const share = e.contributions.reduce((s, c) => s + c.contribution, 0);
      expect(e.score).toBeGreaterThan(e.threshold);
      expect(e.source.topic).toBe(input);
      // Listed contributions are the top ten of 35 features; they carry most of the error.
      expect(share).toBeLessThanOrEqual(1.0001);
      expect(share).toBeGreaterThan(0.5);
      expect(e.contributions.every((c) => Number.isFinite(c.expected))).toBe(true);
      expect(e.model).toEqual({ id: 'sensor-test', version: 'v1' });
    }
    // The injected anomalies should be a large part of what was flagged.
    const truthAnomalous = new Set(
      labelled.filter((l) => l.truth.label === 1).map((l) => `${l.record.device_id}@${l.record.event_time}`),
    );
    expect(truthAnomalous.size).toBeGreaterThan(20);

    // Every input offset is committed: high watermark per partition.
    const admin = transport.admin();
    const committed = await admin.fetchCommittedOffsets(pipelineGroup(pipeline), [input]);
    const marks = await admin.fetchWatermarks(input);
    for (const m of marks) {
      const c = committed.find((x) => x.partition === m.partition)!;
      expect(c.offset).toBe(m.high);
    }
  }, 120_000);

  it('streamed = offline: every record gets the raw and post-processed score and decision `vigil score` gives it', async () => {
    const topic = uniqueName(`pipe-post-${kind}`);
    const scoresTopic = uniqueName(`pipe-post-scores-${kind}`);
    await createTopic(topic, 3);
    await createTopic(scoresTopic, 1);
    const dir = await mkdtemp(path.join(tmpdir(), 'vigil-post-'));
    try {
      // Keyed by device: a device's readings stay in one partition, in the order they were produced.
      await produceAll(topic, encodedReadings(3000, 11, 0.03), 500);
      const postPool =
        scoring === 'worker thread'
          ? await ScoringPool.create(detectorSource(postDetector), { size: 1, backend: 'wasm' })
          : undefined;
      const events: AnomalyEvent[] = [];
      const pipeline = sensorPipeline(
        topic,
        uniqueName(`pipe-post-group-${kind}`),
        {
          // Small, uneven batches, so each device's state is carried across many of them.
          batching: { maxRecords: 97, maxBytes: 1 << 20, lingerMs: 5, maxBuffered: 2048, yieldEvery: 64 },
          scoresTopic,
        },
        undefined,
        {
          scorer:
            postPool?.asScorer(postDetector.identity, 0, postDetector.activeCalibration) ?? postDetector,
          onAnomaly: (e) => events.push(e),
        },
      );
      await pipeline.start();
      await scoredWithin(pipeline, 3000, 60_000);
      await pipeline.stop();
      await postPool?.close();
      expect(pipeline.stats.scored).toBe(3000);

      const kafka = client();
      const streamed = new Map(
        (await readTopic(kafka, scoresTopic)).map((r) => {
          const s = JSON.parse(r.value!.toString()) as {
            partition: number;
            offset: number;
            score: number;
            raw_score: number;
            anomaly: boolean;
          };
          return [coordinate(s.partition, s.offset), s];
        }),
      );
      expect(streamed.size).toBe(3000);

      // Offline: the input topic as the broker holds it, through `vigil score`'s own code and the saved artifact.
      const input = await readTopic(kafka, topic);
      const extractor = sensorExtractor();
      const d = extractor.width;
      const rows = new Float32Array(input.length * d);
      const entities: string[] = [];
      for (const [i, r] of input.entries()) {
        const value = sensorType.fromBuffer(r.value!);
        expect(extractor.extractInto(value, rows, i * d).ok).toBe(true);
        entities.push(extractor.entityOf(value) ?? '');
      }
      await saveDetector(postDetector, path.join(dir, 'model'));
      const csv = path.join(dir, 'scores.csv');
      await scoreFile(
        {
          model: path.join(dir, 'model'),
          data: '',
          out: csv,
          labelColumn: 'label',
          backend: 'wasm',
          batch: '256',
        },
        { stdout: () => {} },
        async () => ({ rows, n: input.length, d, entities }),
      );
      const lines = (await readFile(csv, 'utf8')).trim().split('\n');
      expect(lines[0]).toBe('row,score,severity,is_anomaly,threshold,top_feature,raw_score');
      const near = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(Math.abs(b), 1e-6);
      const mismatches: string[] = [];
      let flips = 0;
      let processedDiffers = 0;
      for (const [i, line] of lines.slice(1).entries()) {
        const [, score, , isAnomaly, threshold, , raw] = line.split(',');
        const at = coordinate(input[i]!.partition, input[i]!.offset);
        const s = streamed.get(at)!;
        if (!near(s.raw_score, Number(raw)) || !near(s.score, Number(score)))
          mismatches.push(`${at}: streamed ${s.raw_score}/${s.score}, offline ${raw}/${score}`);
        // A decision may differ only where float rounding in another batch makes the score touch the threshold.
        if (s.anomaly !== (isAnomaly === '1') && !near(Number(score), Number(threshold))) flips++;
        if (s.score !== s.raw_score) processedDiffers++;
      }
      expect(mismatches, 'streamed and offline scores differ').toEqual([]);
      expect(flips).toBe(0);
      // The stage did run: judged scores are the likelihood transform, not the reconstruction errors.
      expect(processedDiffers).toBe(3000);
      // Events carry the raw reconstruction error beside the judged score; the stream has anomalies to show it.
      expect(pipeline.stats.anomalies).toBeGreaterThan(0);
      expect(events.length).toBe(pipeline.stats.anomalies);
      for (const e of events)
        expect(e.raw_score).toBe(streamed.get(coordinate(e.source.partition, e.source.offset))!.raw_score);
    } finally {
      await rm(dir, { recursive: true, force: true });
      for (const t of [topic, scoresTopic]) await deleteTopic(t);
    }
  }, 180_000);

  it.skipIf(scoring === 'worker thread')(
    'commits are spaced by commitIntervalMs while running, and shutdown commits everything at once',
    async () => {
      const topic = uniqueName(`pipe-ci-${kind}`);
      await createTopic(topic, 3);
      try {
        const records = encodedReadings(2000, 5, 0.01);
        await produceAll(topic, records);

        const groupId = uniqueName(`pipe-ci-group-${kind}`);
        const pipeline = sensorPipeline(topic, groupId, {
          batching: { maxRecords: 100, maxBytes: 1 << 20, lingerMs: 20, maxBuffered: 2048, yieldEvery: 256 },
          // Longer than the test: only the first batch's commit may go out while the pipeline runs.
          commitIntervalMs: 600_000,
        });
        await pipeline.start();
        await scoredWithin(pipeline, records.length, 60_000);
        expect(pipeline.stats.scored).toBe(records.length);
        const admin = transport.admin();
        const marks = await admin.fetchWatermarks(topic);
        const total = (offsets: readonly { offset: bigint }[]) =>
          offsets.reduce((s, o) => s + (o.offset > 0n ? o.offset : 0n), 0n);
        const whileRunning = await admin.fetchCommittedOffsets(groupId, [topic]);
        // 20 batches went through, at most one commit: the first batch's, which goes out at once. It may also
        // have failed (a group still settling on a loaded machine), and then its retry waits out the interval.
        const commitsWhileRunning = pipeline.stats.commits;
        expect(commitsWhileRunning).toBeLessThanOrEqual(1);
        expect(total(whileRunning)).toBeLessThan(total(marks.map((m) => ({ offset: m.high }))));

        await pipeline.stop();
        expect(pipeline.stats.commits).toBe(commitsWhileRunning + 1);
        const afterStop = await admin.fetchCommittedOffsets(groupId, [topic]);
        for (const m of marks)
          expect(afterStop.find((c) => c.partition === m.partition)!.offset).toBe(m.high);
      } finally {
        await deleteTopic(topic);
      }
    },
    120_000,
  );

  it.skipIf(scoring === 'worker thread')(
    'dispatchWhenIdle: with nothing in flight, queued records are scored at once instead of waiting out the linger',
    async () => {
      const topic = uniqueName(`pipe-idle-${kind}`);
      await createTopic(topic, 1);
      try {
        const records = encodedReadings(40, 9, 0);
        const run = async (dispatchWhenIdle: boolean) => {
          const registry = new Registry();
          const pipeline = sensorPipeline(
            topic,
            uniqueName(`pipe-idle-group-${kind}`),
            {
              // Neither size nor linger can close a batch within the test: only idle dispatch (or stop) can.
              batching: {
                maxRecords: 10_000,
                maxBytes: 1 << 24,
                lingerMs: 600_000,
                maxBuffered: 20_000,
                yieldEvery: 256,
                dispatchWhenIdle,
              },
            },
            new VigilMetrics(registry),
          );
          await pipeline.start();
          // Without idle dispatch nothing would be scored however long it waited: three seconds show it.
          await scoredWithin(pipeline, records.length, dispatchWhenIdle ? 15_000 : 3_000);
          const scoredBeforeStop = pipeline.stats.scored;
          await pipeline.stop();
          const batches = (await registry.getSingleMetric('vigil_batches_total')!.get()).values;
          const byReason = Object.fromEntries(batches.map((v) => [v.labels.reason, v.value]));
          return { scoredBeforeStop, scored: pipeline.stats.scored, byReason };
        };
        // Four sends a little apart, as a slow stream delivers them.
        await produceAll(topic, records, 10, 50);

        const eager = await run(true);
        expect(eager.scoredBeforeStop).toBe(records.length);
        expect(eager.byReason.idle).toBeGreaterThan(0);
        expect(eager.byReason.linger ?? 0).toBe(0);

        const waiting = await run(false);
        // Nothing closed a batch until stop() flushed it.
        expect(waiting.scoredBeforeStop).toBe(0);
        expect(waiting.scored).toBe(records.length);
        expect(waiting.byReason.flush).toBeGreaterThan(0);
        expect(waiting.byReason.idle ?? 0).toBe(0);
      } finally {
        await deleteTopic(topic);
      }
    },
    120_000,
  );
});

/** Waits until the pipeline has scored `n` records or `timeoutMs` has passed. */
async function scoredWithin(pipeline: Pipeline, n: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (pipeline.stats.scored < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}

function pipelineGroup(p: Pipeline): string {
  return (p as unknown as { opts: { groupId: string } }).opts.groupId;
}
