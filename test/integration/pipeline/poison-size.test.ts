// A record as large as the broker accepts (its `message.max.bytes`), through `vigil run` (the CLI, as a child
// process) on both transports: its dead letter cannot carry it, so it goes out without the original bytes
// (coordinates, size and SHA-256 instead), the service never stops, and the committed offset passes it. Run
// with the default output.maxMessageBytes (the letter is slimmed before it is sent) and with a limit above the
// broker's, where the broker's or librdkafka's own refusal (each client reports it its own way) must be caught.
import { createHash, randomBytes } from 'node:crypto';
import { ConfigResourceTypes } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchema, schemaPath } from '../../../schemas/catalog.js';
import type { DeadLetter } from '../../../schemas/types.js';
import { brokers, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { freePort } from '../../support/prometheus.js';
import {
  metricTotals,
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import { client, createTopics, deleteTopics, readTopic, waitForProgress } from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const deadLetterType = loadSchema('dead_letter');

let artifact: SensorArtifact;
beforeAll(async () => {
  artifact = await sensorArtifact();
}, 180_000);

const kafka = client();
const topics: string[] = [];
let vigil: VigilProcess | undefined;
afterAll(async () => {
  await vigil?.kill();
  removeVigilConfigs();
  await deleteTopics(kafka, topics);
});

/** The topic's `max.message.bytes`: the broker's `message.max.bytes` unless the topic overrides it. */
async function topicLimit(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
    });
    return Number(resources[0]!.configEntries.find((e) => e.configName === 'max.message.bytes')!.configValue);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Writes the largest random value the broker accepts into partition 0 (trying from the limit down, since the
 * record's framing counts against it), and returns it with its offset.
 */
async function produceLargest(topic: string, limit: number): Promise<{ value: Buffer; offset: number }> {
  // A quiet client: each refused try would log an ERROR line.
  const producer = client(brokers()).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let size = limit - 40; size > limit - 400; size -= 4) {
      const value = randomBytes(size);
      try {
        const [meta] = await producer.send({
          topic,
          messages: [{ key: 'at-the-limit', value, partition: 0 }],
        });
        return { value, offset: Number(meta!.baseOffset) };
      } catch (err) {
        if ((err as { type?: string }).type !== 'MESSAGE_TOO_LARGE') throw err;
      }
    }
    throw new Error(`the broker accepted no value within 400 bytes of its ${limit}-byte limit`);
  } finally {
    await producer.disconnect();
  }
}

describe.each([
  ['kafkajs', 'default limit'],
  ['kafkajs', 'limit above the broker'],
  ['rdkafka', 'default limit'],
  ['rdkafka', 'limit above the broker'],
] as const)('a record at message.max.bytes (%s, %s)', (transport, variant) => {
  it('is dead-lettered without its bytes, and the committed offset passes it', async () => {
    const input = uniqueName('size-in');
    const anomalies = uniqueName('size-anom');
    const dlq = uniqueName('size-dlq');
    const scores = uniqueName('size-scores');
    const groupId = uniqueName('size-group');
    topics.push(input, anomalies, dlq, scores);
    await createTopics(kafka, { [input]: 2, [anomalies]: 1, [dlq]: 1, [scores]: 2 });
    const limit = await topicLimit(input);

    const good = sensorStream(600, { streamSeed: 61, anomalyRate: 0.03 }).map(({ record }, i) => ({
      key: `good-${i}`,
      value: sensorType.toBuffer(record),
    }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic: input, messages: good.slice(0, 300) });
    await producer.disconnect();
    const huge = await produceLargest(input, limit);
    const after = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await after.connect();
    await after.send({ topic: input, messages: good.slice(300) });
    await after.disconnect();
    // Idempotent producers: a send retried on a loaded machine must not write the input twice.
    const total = good.length + 1;

    const port = await freePort();
    const config = {
      kafka: {
        transport,
        brokers: brokers(),
        clientId: `vigil-size-${transport}`,
        groupId,
        consumer: { autoOffsetReset: 'earliest' },
      },
      input: { topics: [input], format: 'avro', schema: schemaPath('sensor_reading') },
      features: { preset: 'sensor-reading', temporal: { enabled: false } },
      model: { artifact: artifact.dir },
      output: {
        anomaliesTopic: anomalies,
        deadLetterTopic: dlq,
        scoresTopic: scores,
        ...(variant === 'default limit' ? {} : { maxMessageBytes: 4 * limit }),
      },
      batching: { maxRecords: 200, lingerMs: 20 },
      metrics: { enabled: true, host: '127.0.0.1', port },
    };
    vigil = await startVigil(await writeVigilConfig(config));
    const done = await vigil.whileRunning(
      waitForProgress(
        kafka,
        groupId,
        input,
        'vigil to commit past the record at the limit',
        (p) => p.high === total && p.caughtUp,
        90_000,
      ),
    );
    const stats = await metricTotals(port, [
      'vigil_records_consumed_total',
      'vigil_records_scored_total',
      'vigil_records_dead_lettered_total',
      'vigil_outputs_replaced_total',
    ]);
    // Still up after the record (whileRunning fails the test if it exits), and a clean stop.
    const exit = await vigil.stop();
    vigil = undefined;

    expect(exit.code).toBe(0);
    expect(done.committed).toBe(total);
    expect(stats.vigil_records_consumed_total).toBe(total);
    expect(stats.vigil_records_scored_total! + stats.vigil_records_dead_lettered_total!).toBe(total);
    expect(stats.vigil_records_dead_lettered_total).toBe(1);
    expect(stats.vigil_outputs_replaced_total).toBe(1);

    const letters = await readTopic(kafka, dlq);
    expect(letters).toHaveLength(1);
    const letter = letters[0]!;
    expect(letter.headers['vigil.original.omitted']).toBe('true');
    expect(letter.headers['vigil.source.partition']).toBe('0');
    expect(letter.headers['vigil.source.offset']).toBe(String(huge.offset));
    const body = deadLetterType.fromBuffer(letter.value!) as DeadLetter;
    expect(body.reason_code).toBe('DECODE_FAILED');
    expect(body.source_topic).toBe(input);
    expect(body.source_offset).toBe(huge.offset);
    expect(body.original_value).toBeNull();
    expect(body.original_key?.toString()).toBe('at-the-limit');
    expect(body.details.original_value_bytes).toBe(String(huge.value.length));
    expect(body.details.original_value_sha256).toBe(createHash('sha256').update(huge.value).digest('hex'));
    if (variant !== 'default limit') expect(body.details.original_omitted).toMatch(/refused by the broker/);

    // Every other record scored.
    const scored = await readTopic(kafka, scores);
    const sources = scored.map((s) => {
      const v = JSON.parse(s.value!.toString()) as { partition: number; offset: number };
      return `${v.partition}:${v.offset}`;
    });
    expect(new Set(sources).size).toBe(good.length);
    expect(sources).not.toContain(`0:${huge.offset}`);
    console.info(
      `[poison size ${transport}, ${variant}] value ${huge.value.length} bytes at ${input}:0@${huge.offset} ` +
        `(limit ${limit}): dead letter ${letter.value!.length} bytes, ${stats.vigil_records_scored_total} scored`,
    );
  }, 150_000);
});
