// The Pipeline end to end over the in-memory transport (test/support/memory-transport.ts), with a real model,
// real Avro bytes and the transports' own error classifiers: what it commits, what it writes, and when it stops.
import { createHash, randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { plainAvroDecoder } from '../../../../connector/pipeline/decode-stage.js';
import { plainAvroOutputCodec } from '../../../../connector/pipeline/output-codec.js';
import { messageSize } from '../../../../connector/pipeline/outputs.js';
import { Pipeline, type PipelineOptions } from '../../../../connector/pipeline/pipeline.js';
import {
  classifyKafkajsError,
  classifyRdkafkaError,
  RD,
  toVigilError,
} from '../../../../connector/transport/errors.js';
import type { ProduceMessage } from '../../../../connector/transport/types.js';
import { isVigilError } from '../../../../core/errors.js';
import { silentLogger } from '../../../../core/logger.js';
import { VigilMetrics } from '../../../../core/metrics/vigil-metrics.js';
import type { Detector } from '../../../../model/detector.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import type { DeadLetter } from '../../../../schemas/types.js';
import {
  type EncodedRecord,
  type MemoryTransportOptions,
  memoryTransport,
} from '../../../support/memory-transport.js';
import { sensorExtractor, sensorRecords, trainSensorDetector } from '../../../support/sensor-fixture.js';

const sensorType = loadSchema('sensor_reading');
const deadLetterType = loadSchema('dead_letter');

let detector: Detector;
beforeAll(async () => {
  detector = await trainSensorDetector(2000);
}, 180_000);

function readings(n: number): EncodedRecord[] {
  return sensorRecords(n, 5, 0.05).map(({ record }) => ({
    key: Buffer.from(record.device_id),
    value: sensorType.toBuffer(record),
  }));
}

const OPTIONS: PipelineOptions = {
  topics: ['in'],
  groupId: 'g',
  anomaliesTopic: 'anomalies',
  deadLetterTopic: 'dlq',
  scoresTopic: 'scores',
  batching: { maxRecords: 100, maxBytes: 10_000_000, lingerMs: 5, maxBuffered: 1000, yieldEvery: 64 },
  delivery: 'at-least-once',
  commitIntervalMs: 0,
  maxFetchRecords: 50,
};

function setUp(
  transport: MemoryTransportOptions,
  options: Partial<PipelineOptions> = {},
  scorer: Detector = detector,
) {
  const t = memoryTransport({ keepMessages: true, ...transport });
  const metrics = new VigilMetrics(new Registry());
  const pipeline = new Pipeline(
    { ...OPTIONS, ...options },
    {
      transport: t,
      decoder: plainAvroDecoder(sensorType),
      extractor: sensorExtractor(),
      scorer,
      output: plainAvroOutputCodec(),
      logger: silentLogger(),
      metrics,
    },
  );
  return { t, pipeline, metrics };
}

/** Waits until `done` holds, polling on timers (the pipeline runs on the same loop). */
async function until(done: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const byTopic = (sent: readonly ProduceMessage[], topic: string) => sent.filter((m) => m.topic === topic);

describe('Pipeline over the in-memory transport', () => {
  it('scores or dead-letters every record once and commits each partition to its end', async () => {
    const pool = readings(300);
    pool[17] = { key: Buffer.from('junk'), value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) };
    pool[18] = { key: Buffer.from('tombstone'), value: null };
    const { t, pipeline } = setUp({ pool, recordsPerPartition: 300, partitions: 2 });
    await pipeline.start();
    await until(
      () => t.counters.committed.get(0) === 300n && t.counters.committed.get(1) === 300n,
      'commits',
    );
    await pipeline.stop();
    await pipeline.closed;

    const { stats } = pipeline;
    expect(stats.consumed).toBe(600);
    expect(stats.scored + stats.deadLettered).toBe(600);
    const scores = byTopic(t.counters.sent, 'scores');
    const letters = byTopic(t.counters.sent, 'dlq');
    expect(scores).toHaveLength(stats.scored);
    expect(letters).toHaveLength(stats.deadLettered);
    // Each partition hands out the whole pool once, so each met the junk record and the tombstone once.
    expect(letters).toHaveLength(4);
    for (const l of letters)
      expect((deadLetterType.fromBuffer(l.value as Buffer) as DeadLetter).reason_code).toBe('DECODE_FAILED');
    const coords = scores.map((m) => {
      const s = JSON.parse(m.value as string) as { partition: number; offset: number };
      return `${s.partition}:${s.offset}`;
    });
    expect(new Set(coords).size).toBe(coords.length);
    expect(byTopic(t.counters.sent, 'anomalies')).toHaveLength(stats.anomalies);
  });

  it('post-processing state stays at the limit with more entities than it, and the metrics count the evictions', async () => {
    const limit = 50;
    const post = await trainSensorDetector(2000, 7, {
      ewmaHalfLife: 3,
      likelihood: { halfLife: 200, warmup: 20 },
      maxEntities: limit,
    });
    // 600 readings, every one from a device not seen before: 550 more entities than the state may hold.
    const pool = sensorRecords(600, 8, 0).map(({ record }, i) => ({
      key: Buffer.from(`dev-${i}`),
      value: sensorType.toBuffer({ ...record, device_id: `dev-${i}` }),
    }));
    const { pipeline, metrics } = setUp({ pool, recordsPerPartition: 600, partitions: 1 }, {}, post);
    await pipeline.start();
    await until(() => pipeline.stats.scored === 600, 'every record');
    const value = async (name: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values[0]?.value;
    expect(await value('vigil_postprocess_entities')).toBe(limit);
    // One eviction per device after the first `limit`.
    expect(await value('vigil_postprocess_entities_evicted_total')).toBe(600 - limit);
    await pipeline.stop();
    // Stopping gives the partition up, and its entities' state goes with it; the counter keeps its count.
    expect(await value('vigil_postprocess_entities')).toBe(0);
    expect(await value('vigil_postprocess_entities_evicted_total')).toBe(600 - limit);
    post.dispose();
  });

  it('with a long commit interval, commits the first batch at once and the rest at shutdown', async () => {
    const { t, pipeline } = setUp(
      { pool: readings(400), recordsPerPartition: 400, partitions: 2 },
      { commitIntervalMs: 600_000 },
    );
    await pipeline.start();
    await until(() => pipeline.stats.scored + pipeline.stats.deadLettered === 800, 'every record');
    await until(() => pipeline.stats.commits === 1, 'the first commit');
    expect(t.counters.commits).toBe(1);
    await pipeline.stop();
    expect(pipeline.stats.commits).toBe(2);
    expect(t.counters.committed.get(0)).toBe(400n);
    expect(t.counters.committed.get(1)).toBe(400n);
  });

  it('commits past transaction markers, so the lag of a transactional input reaches 0', async () => {
    // Every fetched batch ends a transaction: its commit marker takes one offset that is never delivered.
    const { t, pipeline } = setUp({
      pool: readings(200),
      recordsPerPartition: 200,
      partitions: 1,
      markerAfter: () => 1,
    });
    await pipeline.start();
    // 200 records in batches of 50, each followed by its marker: the log ends at 204.
    await until(() => t.counters.committed.get(0) === 204n, 'a commit past the last marker');
    await pipeline.stop();
    expect(pipeline.stats.scored + pipeline.stats.deadLettered).toBe(200);
    const offsets = byTopic(t.counters.sent, 'scores').map(
      (m) => (JSON.parse(m.value as string) as { offset: number }).offset,
    );
    // Record offsets skip the markers: 0..49, 51..100, ...
    expect(offsets).toContain(51);
    expect(offsets).not.toContain(50);
  });

  it('drops records delivered twice in one assignment instead of failing on them', async () => {
    const { t, pipeline } = setUp({
      pool: readings(150),
      recordsPerPartition: 150,
      partitions: 1,
      deliveries: 2,
    });
    let failure: unknown;
    await pipeline.start();
    pipeline.closed.catch((err: unknown) => (failure = err));
    await until(() => t.counters.committed.get(0) === 150n, 'the commit of the last record');
    await pipeline.stop();
    expect(failure).toBeUndefined();
    expect(pipeline.stats.redelivered).toBe(150);
    expect(pipeline.stats.scored + pipeline.stats.deadLettered).toBe(150);
    expect(byTopic(t.counters.sent, 'scores')).toHaveLength(pipeline.stats.scored);
  });

  it('stops with the error when a commit fails for a reason no retry fixes', async () => {
    const denied = toVigilError(
      'COMMIT_FAILED',
      'commit for group g failed',
      { name: 'KafkaJSProtocolError', type: 'GROUP_AUTHORIZATION_FAILED', retriable: false },
      classifyKafkajsError({
        name: 'KafkaJSProtocolError',
        type: 'GROUP_AUTHORIZATION_FAILED',
        retriable: false,
      }),
    );
    const { t, pipeline } = setUp({
      pool: readings(100),
      recordsPerPartition: 100,
      partitions: 1,
      onCommit: () => {
        throw denied;
      },
    });
    await pipeline.start();
    const err = await pipeline.closed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilError(err) && err.code).toBe('CONFIG_INVALID');
    expect(t.counters.committed.size).toBe(0);
    await pipeline.stop();
  });

  it('keeps going through commit failures that a retry fixes', async () => {
    let failures = 0;
    const unavailable = (e: unknown) =>
      toVigilError('COMMIT_FAILED', 'commit failed', e, classifyRdkafkaError(e));
    const { t, pipeline } = setUp({
      pool: readings(100),
      recordsPerPartition: 100,
      partitions: 1,
      onCommit: () => {
        if (failures++ < 3) throw unavailable({ code: RD.ERR_COORDINATOR_NOT_AVAILABLE });
      },
    });
    await pipeline.start();
    await until(() => t.counters.committed.get(0) === 100n, 'a commit after the failures');
    await pipeline.stop();
    expect(failures).toBeGreaterThan(3);
  });

  it('counts produce errors under the outputs of the failed request', async () => {
    const pool = readings(60);
    pool[3] = { key: Buffer.from('junk'), value: Buffer.from([1, 2, 3]) };
    let failed = false;
    const { t, pipeline, metrics } = setUp(
      {
        pool,
        recordsPerPartition: 60,
        partitions: 1,
        onSend: (messages) => {
          if (!failed && messages.some((m) => m.topic === 'dlq')) {
            failed = true;
            throw toVigilError(
              'PRODUCE_FAILED',
              'send failed',
              {},
              classifyRdkafkaError({ code: RD.ERR__TRANSPORT }),
            );
          }
        },
      },
      { scoresTopic: undefined },
    );
    await pipeline.start();
    await until(() => t.counters.committed.get(0) === 60n, 'the commit after the retry');
    await pipeline.stop();
    const values = (await metrics.produceErrors.get()).values;
    const byOutput = new Map(values.map((v) => [v.labels.output, v.value]));
    expect(byOutput.get('dead_letters')).toBe(1);
    // The failed request held a dead letter and, maybe, anomaly events; never a scores output (none configured;
    // every output's series starts at 0, so a wrong label would show here as a non-zero count).
    expect(byOutput.get('scores')).toBe(0);
  });
});

describe('Pipeline and outputs the broker can never accept', () => {
  // A value as large as the broker accepts on input (message.max.bytes 1 048 588 less the record's framing).
  const HUGE = 1_048_300;

  function poisoned(): { pool: EncodedRecord[]; huge: Buffer } {
    const pool = readings(40);
    const huge = randomBytes(HUGE);
    pool[7] = { key: Buffer.from('huge'), value: huge };
    return { pool, huge };
  }

  function checkSlimLetter(sent: readonly ProduceMessage[], huge: Buffer) {
    const letters = byTopic(sent, 'dlq');
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    const headers = new Map((letter.headers ?? []).map((h) => [h.key, h.value?.toString()]));
    expect(headers.get('vigil.original.omitted')).toBe('true');
    expect(headers.get('vigil.source.offset')).toBe('7');
    const body = deadLetterType.fromBuffer(letter.value as Buffer) as DeadLetter;
    expect(body.reason_code).toBe('DECODE_FAILED');
    expect(body.source_offset).toBe(7);
    expect(body.original_value).toBeNull();
    expect(body.original_key?.toString()).toBe('huge');
    expect(body.details.original_value_bytes).toBe(String(HUGE));
    expect(body.details.original_value_sha256).toBe(createHash('sha256').update(huge).digest('hex'));
    expect(body.details.original_omitted).toBeTruthy();
  }

  it('replaces a dead letter over output.maxMessageBytes before sending it', async () => {
    const { pool, huge } = poisoned();
    const { t, pipeline, metrics } = setUp({ pool, recordsPerPartition: 40, partitions: 1 });
    await pipeline.start();
    await until(() => t.counters.committed.get(0) === 40n, 'the commit past the huge record');
    await pipeline.stop();
    checkSlimLetter(t.counters.sent, huge);
    expect(pipeline.stats.replacedOutputs).toBe(1);
    const replaced = (await metrics.outputsReplaced.get()).values;
    expect(replaced).toEqual([expect.objectContaining({ labels: { output: 'dead_letters' }, value: 1 })]);
  });

  for (const [client, refusal] of [
    [
      'kafkajs',
      () =>
        toVigilError(
          'PRODUCE_FAILED',
          'send failed',
          { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false },
          classifyKafkajsError({ name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false }),
        ),
    ],
    [
      'rdkafka',
      () =>
        toVigilError(
          'PRODUCE_FAILED',
          'send failed',
          { code: RD.ERR_MSG_SIZE_TOO_LARGE, message: 'Broker: Message size too large' },
          classifyRdkafkaError({ code: RD.ERR_MSG_SIZE_TOO_LARGE }),
        ),
    ],
  ] as const) {
    it(`isolates and replaces what the broker refuses as too large (${client}'s error)`, async () => {
      const { pool, huge } = poisoned();
      const limit = 1_048_588;
      let refusals = 0;
      const { t, pipeline } = setUp(
        {
          pool,
          recordsPerPartition: 40,
          partitions: 1,
          // Like the broker: a request holding a message over the limit is refused as a whole.
          onSend: (messages) => {
            if (messages.some((m) => messageSize(m) > limit)) {
              refusals++;
              throw refusal();
            }
          },
        },
        // A limit above the broker's, so only the broker's refusal can catch it.
        { maxMessageBytes: 4_000_000 },
      );
      let failure: unknown;
      await pipeline.start();
      pipeline.closed.catch((err: unknown) => (failure = err));
      await until(() => t.counters.committed.get(0) === 40n, 'the commit past the huge record');
      await pipeline.stop();
      expect(failure).toBeUndefined();
      expect(refusals).toBeGreaterThan(0);
      checkSlimLetter(t.counters.sent, huge);
      expect(pipeline.stats.scored + pipeline.stats.deadLettered).toBe(40);
      // Every other output of the batch still went out, once.
      expect(byTopic(t.counters.sent, 'scores')).toHaveLength(pipeline.stats.scored);
    });
  }
});
