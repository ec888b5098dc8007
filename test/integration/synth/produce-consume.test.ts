// The generator producing real Avro records to the real broker, in both wire formats, and a consumer reading
// them back: plain Avro bodies decoded with the schema file, and Confluent-framed values decoded through schema
// ids fetched from the real registry (Apicurio's Confluent-compatible API).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type AvroSchema, parseSchema } from '../../../schemas/avro.js';
import { loadSchema, schemaJson } from '../../../schemas/catalog.js';
import { AvroCodec, ConfluentDecoder, SchemaCache } from '../../../schemas/codec.js';
import { RegistryClient } from '../../../schemas/registry-client.js';
import type { CardTransaction, SensorReading } from '../../../schemas/types.js';
import { readSchemaId } from '../../../schemas/wire-format.js';
import { runGenerateCli } from '../../../synth/cli.js';
import { SensorGenerator } from '../../../synth/sensor-generator.js';
import { TransactionGenerator } from '../../../synth/transaction-generator.js';
import { parseTruthLines } from '../../../synth/truth-writer.js';
import {
  brokers,
  createTopic,
  deleteTopic,
  kafkajsClient,
  registryUrl,
  uniqueName,
} from '../../support/kafka.js';

interface Consumed {
  partition: number;
  message: KafkaMessage;
}

/** Reads `count` messages of `topic` from the beginning (one random group), or fails after `timeoutMs`. */
async function consume(topic: string, count: number, timeoutMs = 60_000): Promise<Consumed[]> {
  const consumer = kafkajsClient().consumer({ groupId: uniqueName('vigil-synth-it') });
  const out: Consumed[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consumed ${out.length} of ${count} messages in ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const message of batch.messages) out.push({ partition: batch.partition, message });
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'vigil-synth-it-'));
const topics: string[] = [];
const quiet = { stdout: () => {} };

afterEach(async () => {
  for (const t of topics.splice(0)) await deleteTopic(t);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generate → Kafka → consume', () => {
  it('plain Avro: every sensor reading arrives intact, keyed by device, in order per device', async () => {
    const topic = uniqueName('vigil-synth-plain');
    topics.push(topic);
    await createTopic(topic, 3);
    const count = 6000;
    const truthPath = join(dir, 'plain.truth.jsonl');
    const report = await runGenerateCli(
      [
        'sensor',
        ...['--seed', '21', '-n', String(count), '--entities', '40', '--anomaly-rate', '0.05'],
        ...['--topic', topic, '--brokers', brokers().join(','), '--batch-size', '1000', '--truth', truthPath],
      ],
      quiet,
    );
    expect(report).toMatchObject({ records: count, aborted: false });

    const expected = new SensorGenerator({ seed: 21, devices: 40, anomalyRate: 0.05 });
    const want = Array.from({ length: count }, () => expected.next().record);
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    const got = await consume(topic, count);
    expect(got).toHaveLength(count);

    const byId = new Map(want.map((r) => [`${r.device_id}@${r.event_time}`, r]));
    const partitionOf = new Map<string, number>();
    const lastTime = new Map<string, number>();
    for (const { partition, message } of got) {
      const r = codec.decode(message.value!);
      expect(message.key!.toString()).toBe(r.device_id);
      expect(r).toEqual(byId.get(`${r.device_id}@${r.event_time}`));
      // One device, one partition, readings in event-time order.
      expect(partitionOf.get(r.device_id) ?? partition).toBe(partition);
      partitionOf.set(r.device_id, partition);
      expect(r.event_time).toBeGreaterThan(lastTime.get(r.device_id) ?? 0);
      lastTime.set(r.device_id, r.event_time);
    }
    expect(new Set(partitionOf.values()).size).toBe(3);

    // The sidecar labels exactly the records produced.
    const truth = parseTruthLines(readFileSync(truthPath, 'utf8'));
    expect(truth.map((t) => t.id).sort()).toEqual([...byId.keys()].sort());
    expect(truth.filter((t) => t.label === 1).length).toBe(report.anomalies);
  });

  it('Confluent framing: registered schema id in every value; decoded via ids fetched from the registry', async () => {
    const topic = uniqueName('vigil-synth-framed');
    topics.push(topic);
    await createTopic(topic, 3);
    const count = 4000;
    await runGenerateCli(
      [
        'transaction',
        ...['--seed', '5', '-n', String(count), '--entities', '500', '--anomaly-rate', '0.05'],
        ...[
          '--topic',
          topic,
          '--brokers',
          brokers().join(','),
          '--wire',
          'confluent',
          '--registry-url',
          registryUrl(),
        ],
      ],
      quiet,
    );

    // A consumer that has never seen the schema: fresh cache, ids resolved through the registry.
    const cache = new SchemaCache();
    const registry = new RegistryClient({ url: registryUrl(), cache });
    const decoder = new ConfluentDecoder<CardTransaction>(loadSchema('card_transaction'), cache);
    const got = await consume(topic, count);
    expect(got).toHaveLength(count);
    const ids = new Set(got.map(({ message }) => readSchemaId(message.value!)));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [number];
    expect(decoder.missingSchemaId(got[0]!.message.value!)).toBe(id);
    await registry.ensure(id);

    // Registering the same schema under the same subject again gives the same id.
    expect(
      await new RegistryClient({ url: registryUrl() }).register(
        `${topic}-value`,
        schemaJson('card_transaction'),
      ),
    ).toBe(id);

    const expected = new TransactionGenerator({ seed: 5, cards: 500, anomalyRate: 0.05 });
    const want = new Map<string, CardTransaction>();
    for (let i = 0; i < count; i++) {
      const r = expected.next().record;
      want.set(r.transaction_id, r);
    }
    for (const { message } of got) {
      const r = decoder.decode(message.value!);
      expect(message.key!.toString()).toBe(r.card_id);
      expect(r).toEqual(want.get(r.transaction_id));
    }

    // A newer reader (one more optional field, with a default) reads the same bytes through a resolver.
    const base = schemaJson('card_transaction') as { fields: object[] };
    const newer = parseSchema({
      ...base,
      fields: [...base.fields, { name: 'risk_tag', type: ['null', 'string'], default: null }],
    } as unknown as AvroSchema);
    const newerDecoder = new ConfluentDecoder<CardTransaction & { risk_tag: string | null }>(newer, cache);
    const first = newerDecoder.decode(got[0]!.message.value!);
    expect(first.risk_tag).toBeNull();
    expect(first.transaction_id).toBe(decoder.decode(got[0]!.message.value!).transaction_id);
  });
});
