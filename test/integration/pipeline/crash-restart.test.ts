// kill -9 mid-stream, then restart: Vigil runs as its own OS process (`vigil run --config`), is SIGKILLed while
// records are still arriving and some are processed, and a fresh process with the same config finishes the job.
// What must hold is computed offline from the input topic with the same model artifact:
//   at-least-once  every record scored, every expected anomaly event and dead letter there; duplicates are
//                  allowed, and counted;
//   exactly-once   a read_committed reader sees every record's score, every expected event and every dead letter
//                  exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import type { TransportKind } from '../../../connector/transport/types.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { AnomalyEvent } from '../../../schemas/types.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { sensorExtractor } from '../../support/sensor-fixture.js';
import {
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import {
  client,
  createTopics,
  deadLetterCounts,
  deleteTopics,
  deliveryReport,
  expectedFromInput,
  producePaced,
  readTopic,
  scoreCounts,
  scoreMismatches,
  waitForProgress,
} from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const anomalyType = loadSchema('anomaly_event');

let artifact: SensorArtifact;
beforeAll(async () => {
  artifact = await sensorArtifact();
}, 180_000);

const running: VigilProcess[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
  removeVigilConfigs();
});

type Delivery = 'at-least-once' | 'exactly-once';

const cases: [TransportKind, Delivery][] = [
  ['kafkajs', 'at-least-once'],
  ['kafkajs', 'exactly-once'],
  ['rdkafka', 'at-least-once'],
  ['rdkafka', 'exactly-once'],
];

describe.each(cases)('vigil run over %s, %s, killed with SIGKILL mid-stream', (kind, delivery) => {
  const input = uniqueName(`crash-in-${kind}`);
  const anomalies = uniqueName(`crash-anom-${kind}`);
  const dlq = uniqueName(`crash-dlq-${kind}`);
  const scores = uniqueName(`crash-scores-${kind}`);
  const groupId = uniqueName(`crash-group-${kind}`);
  const kafka = client();

  beforeAll(async () => {
    await createTopics(kafka, { [input]: 3, [anomalies]: 3, [dlq]: 1, [scores]: 3 });
  });
  afterAll(async () => {
    await deleteTopics(kafka, [input, anomalies, dlq, scores]);
  });

  it('restarts where the crashed process left off and loses no anomaly event or dead letter', async () => {
    const configPath = await writeVigilConfig({
      kafka: {
        transport: kind,
        brokers: brokers(),
        clientId: `vigil-crash-${kind}`,
        // The restart is the same replica: the same transactional.id fences the killed one's open transaction.
        instanceId: 'crash-0',
        groupId,
        // A killed member holds its partitions until its session expires; keep that short.
        consumer: {
          autoOffsetReset: 'earliest',
          sessionTimeoutMs: 6_000,
          heartbeatIntervalMs: 1_000,
          rebalanceTimeoutMs: 10_000,
        },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { artifact: artifact.dir },
      // Every record's score too: one output per record, so replays are counted exactly, not only anomalies.
      output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
      batching: { maxRecords: 200, lingerMs: 20 },
      delivery,
      metrics: { enabled: false },
      logging: { level: process.env.VIGIL_TEST_KEEP_LOGS ? 'debug' : 'info' },
    });

    const labelled = sensorStream(4000, { streamSeed: 23, anomalyRate: 0.03 });
    const messages = labelled.map(({ record }) => ({
      key: record.device_id,
      value: sensorType.toBuffer(record),
    }));
    // A little poison, so dead letters go through the crash too.
    const nan = { ...labelled[5]!.record, vibration_x_mm_s: Number.NaN };
    messages.splice(700, 0, { key: 'poison-bytes', value: Buffer.from([0xde, 0xad, 0xbe, 0xef]) });
    messages.splice(2100, 0, { key: 'poison-nan', value: sensorType.toBuffer(nan) });
    messages.splice(3500, 0, { key: 'poison-empty', value: Buffer.alloc(0) });

    // A backlog waits when Vigil starts, so it is busy — batches scored, produced, committed in flight — when it
    // is killed; the rest of the stream keeps arriving meanwhile, and while it is down.
    const backlog = 3000;
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < backlog; i += 500)
      await producer.send({ topic: input, messages: messages.slice(i, Math.min(i + 500, backlog)) });
    await producer.disconnect();

    const logs = process.env.VIGIL_TEST_KEEP_LOGS;
    const first = await startVigil(configPath, logs ? { logFile: `${logs}/${input}-first.log` } : {});
    running.push(first);
    const feed = producePaced(kafka, input, messages.slice(backlog), { chunk: 100, intervalMs: 50 });
    await first.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'the first process to commit',
        (p) => p.committed >= 600,
        60_000,
        20,
      ),
    );
    const exit = await first.kill();
    expect(exit.signal).toBe('SIGKILL');
    const atKill = await waitForProgress(kafka, groupId, input, 'offsets at the kill', () => true);
    await feed.done;
    // Mid-stream for real: part of the backlog committed, not all of it.
    expect(atKill.committed).toBeGreaterThan(0);
    expect(atKill.committed).toBeLessThan(backlog);

    const second = await startVigil(configPath, logs ? { logFile: `${logs}/${input}-second.log` } : {});
    running.push(second);
    await second.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'the restarted process to commit every input record',
        (p) => p.high === messages.length && p.caughtUp,
        60_000,
      ),
    );
    const stopped = await second.stop();
    expect(stopped.code, second.tail()).toBe(0);

    const inputRecords = await readTopic(kafka, input);
    expect(inputRecords).toHaveLength(messages.length);
    const expected = expectedFromInput(
      inputRecords,
      input,
      plainAvroDecoder(sensorType),
      sensorExtractor(),
      artifact.detector,
    );
    expect(expected.dead.size).toBe(3);
    // A working model flags a small share: the injected anomalies and a few false alarms.
    expect(expected.sure.size).toBeGreaterThan(5);
    expect(expected.sure.size).toBeLessThan(inputRecords.length / 5);

    const events = await readTopic(kafka, anomalies, { isolation: 'read_committed' });
    const report = deliveryReport(
      expected,
      events.map((e) => e.headers['vigil.event_id']!),
    );
    const letters = deadLetterCounts(await readTopic(kafka, dlq, { isolation: 'read_committed' }));
    const scored = scoreCounts(await readTopic(kafka, scores, { isolation: 'read_committed' }));
    const rescored = [...scored.values()].reduce((a, n) => a + n - 1, 0);
    // Outputs of the transaction the kill left open: written, then aborted when the restart fenced it.
    const aborted =
      delivery === 'exactly-once'
        ? (await readTopic(kafka, scores, { isolation: 'read_uncommitted' })).length -
          [...scored.values()].reduce((a, n) => a + n, 0)
        : undefined;
    console.info(
      `[crash ${kind} ${delivery}] committed at kill ${atKill.committed}/${messages.length}; ` +
        `records scored ${scored.size}, of them again after the restart ${rescored}; ` +
        `anomaly events expected ${report.expected} (+${report.borderline} borderline), received ${report.received}, ` +
        `duplicates ${report.duplicates}; dead letters ${[...letters.values()].reduce((a, b) => a + b, 0)} for ${letters.size} records` +
        (aborted === undefined ? '' : `; scores in aborted transactions (read_uncommitted only) ${aborted}`),
    );

    const online = events.map((e) => anomalyType.fromBuffer(e.value!) as AnomalyEvent);
    expect(scoreMismatches(expected, online), 'online and offline scores differ').toEqual([]);
    expect(
      [...expected.scored].filter((at) => !scored.has(at)),
      'records never scored',
    ).toEqual([]);
    expect(report.missing, 'anomaly events lost').toEqual([]);
    expect(report.unexpected, 'events for records the model does not flag').toEqual([]);
    expect(new Set(letters.keys())).toEqual(expected.dead);
    if (delivery === 'exactly-once') {
      // read_committed: every output exactly once, the killed process's open transaction invisible.
      expect(rescored).toBe(0);
      expect(report.duplicates).toBe(0);
      expect([...letters.values()].every((n) => n === 1)).toBe(true);
    }
  }, 150_000);
});
