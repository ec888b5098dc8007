// Exactly-once with several replicas of one Deployment: two (kafkajs) and three (rdkafka) `vigil run`
// processes share a group, each with its own stable `kafka.instanceId` (so its own transactional.id: replicas
// that shared one fenced each other in a loop). One is SIGKILLed mid-transaction and restarted under the same
// name, as a StatefulSet restarts a pod; its restart fences the killed one's open transaction at once. A
// read_committed reader must see every record's score, every expected anomaly event and every dead letter
// exactly once, checked against the offline expectation from the input topic and the same model artifact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainAvroDecoder } from '../../../connector/pipeline/decode-stage.js';
import type { TransportKind } from '../../../connector/transport/types.js';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
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
  waitForProgress,
} from './robustness.js';

const sensorType = loadSchema('sensor_reading');

let artifact: SensorArtifact;
beforeAll(async () => {
  artifact = await sensorArtifact();
}, 180_000);

const kafka = client();
const running: VigilProcess[] = [];
const topics: string[] = [];
afterAll(async () => {
  for (const p of running) await p.kill();
  removeVigilConfigs();
  await deleteTopics(kafka, topics);
});

/** Owns partitions now: the pipeline's assignment lines (with a list) outnumber its revocations. */
function ownsPartitions(vigil: VigilProcess): boolean {
  const count = (msg: string) =>
    vigil.logs().filter((l) => l.msg === msg && Array.isArray(l['partitions']) && l['partitions'].length > 0)
      .length;
  return count('partitions assigned') > count('partitions revoked');
}

describe.each<[TransportKind, number]>([
  ['kafkajs', 2],
  ['rdkafka', 3],
])('exactly-once over %s with %i replicas, one SIGKILLed and restarted', (kind, replicas) => {
  it('a read_committed reader sees every output exactly once', async () => {
    const input = uniqueName(`eos-in-${kind}`);
    const anomalies = uniqueName(`eos-anom-${kind}`);
    const dlq = uniqueName(`eos-dlq-${kind}`);
    const scores = uniqueName(`eos-scores-${kind}`);
    const groupId = uniqueName(`eos-group-${kind}`);
    topics.push(input, anomalies, dlq, scores);
    await createTopics(kafka, { [input]: 6, [anomalies]: 3, [dlq]: 1, [scores]: 3 });

    const config = (instanceId: string) =>
      writeVigilConfig({
        kafka: {
          transport: kind,
          brokers: brokers(),
          // One client id for all, as a Deployment's replicas have: only instanceId tells them apart.
          clientId: 'vigil',
          instanceId,
          groupId,
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
        output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
        batching: { maxRecords: 200, lingerMs: 20 },
        delivery: 'exactly-once',
        metrics: { enabled: false },
        logging: { level: 'info' },
      });
    const names = Array.from({ length: replicas }, (_, i) => `vigil-${i}`);
    const configs = await Promise.all(names.map(config));

    const messages = sensorStream(3000, { streamSeed: 59, anomalyRate: 0.03 }).map(({ record }) => ({
      key: record.device_id,
      value: sensorType.toBuffer(record),
    }));
    messages.splice(900, 0, { key: 'poison-1', value: Buffer.from([0xde, 0xad]) });
    messages.splice(2200, 0, { key: 'poison-2', value: Buffer.alloc(0) });

    // A backlog waits when the replicas start, so they are busy (a transaction open, outputs written) at the kill.
    const backlog = 1500;
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < backlog; i += 500)
      await producer.send({ topic: input, messages: messages.slice(i, i + 500) });
    await producer.disconnect();
    const group = await Promise.all(configs.map((c) => startVigil(c)));
    running.push(...group);
    const feed = producePaced(kafka, input, messages.slice(backlog), { chunk: 100, intervalMs: 50 });
    const victim = group.at(-1)!;
    await victim.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'every replica to be working',
        (p) => p.committed >= 600 && group.every(ownsPartitions),
        90_000,
      ),
    );
    expect((await victim.kill()).signal).toBe('SIGKILL');
    const atKill = await waitForProgress(kafka, groupId, input, 'offsets at the kill', () => true);
    const restarted = await startVigil(configs.at(-1)!);
    running.push(restarted);
    await feed.done;
    await restarted.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'the group to commit every input record',
        (p) => p.high === messages.length && p.caughtUp,
        90_000,
      ),
    );
    for (const p of [...group.slice(0, -1), restarted]) {
      const exit = await p.stop();
      expect(exit.code, p.tail()).toBe(0);
    }
    // Not one replica fenced another while they all ran (a shared transactional.id did, in a loop).
    for (const p of [...group, restarted]) expect(p.output()).not.toMatch(/fenced|newer producer/i);
    const errors = [...group, restarted].flatMap((p) =>
      p
        .logs()
        .filter((l) => (l.level ?? 0) >= 50)
        .map((l) => l.msg),
    );

    const inputRecords = await readTopic(kafka, input);
    expect(inputRecords).toHaveLength(messages.length);
    const expected = expectedFromInput(
      inputRecords,
      input,
      plainAvroDecoder(sensorType),
      sensorExtractor(),
      artifact.detector,
    );
    expect(expected.dead.size).toBe(2);
    expect(expected.sure.size).toBeGreaterThan(5);
    const events = await readTopic(kafka, anomalies, { isolation: 'read_committed' });
    const report = deliveryReport(
      expected,
      events.map((e) => e.headers['vigil.event_id']!),
    );
    const scored = scoreCounts(await readTopic(kafka, scores, { isolation: 'read_committed' }));
    const letters = deadLetterCounts(await readTopic(kafka, dlq, { isolation: 'read_committed' }));
    const aborted =
      (await readTopic(kafka, scores, { isolation: 'read_uncommitted' })).length -
      [...scored.values()].reduce((a, n) => a + n, 0);
    console.info(
      `[eos ${kind} ×${replicas}] committed at kill ${atKill.committed}/${messages.length}; records scored ${scored.size}, ` +
        `more than once ${[...scored.values()].filter((n) => n > 1).length}; anomaly events expected ${report.expected} ` +
        `(+${report.borderline} borderline), received ${report.received}, duplicates ${report.duplicates}; ` +
        `scores in aborted transactions (read_uncommitted only) ${aborted}; ` +
        `restart said why it waited: ${restarted.logs().some((l) => l.msg?.startsWith('no partitions assigned yet'))}; error log lines ${errors.length}: ` +
        JSON.stringify([...new Set(errors)]),
    );
    expect(
      [...expected.scored].filter((at) => scored.get(at) !== 1),
      'records not scored exactly once',
    ).toEqual([]);
    expect(report.missing, 'anomaly events lost').toEqual([]);
    expect(report.unexpected).toEqual([]);
    expect(report.duplicates).toBe(0);
    expect(new Set(letters.keys())).toEqual(expected.dead);
    expect([...letters.values()].every((n) => n === 1)).toBe(true);
  }, 240_000);
});
