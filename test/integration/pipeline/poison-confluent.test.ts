// Poison through the Confluent path (registry-framed input, `input.format: confluent`, the real registry), into
// `vigil run` as a child process on both transports: every kind of bad record goes to the dead-letter topic with
// its own reason while the stream keeps flowing and the process stays up, and good records — including ones
// written with a compatibly evolved writer schema — are decoded and scored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { confluentDecoder } from '../../../connector/pipeline/decode-stage.js';
import { type AvroSchema, parseSchema } from '../../../schemas/avro.js';
import { loadSchema, schemaJson, schemaPath } from '../../../schemas/catalog.js';
import { ConfluentEncoder, SchemaCache } from '../../../schemas/codec.js';
import { RegistryClient } from '../../../schemas/registry-client.js';
import type { AnomalyEvent, DeadLetter } from '../../../schemas/types.js';
import { frame } from '../../../schemas/wire-format.js';
import { brokers, registryUrl, uniqueName } from '../../support/kafka.js';
import { type SensorArtifact, sensorArtifact, sensorStream } from '../../support/model-artifact.js';
import { freePort } from '../../support/prometheus.js';
import { sensorExtractor } from '../../support/sensor-fixture.js';
import {
  metricTotals,
  removeVigilConfigs,
  startVigil,
  type VigilProcess,
  writeVigilConfig,
} from '../../support/vigil-process.js';
import {
  client,
  coordinate,
  createTopics,
  deleteTopics,
  deliveryReport,
  expectedFromInput,
  readTopic,
  scoreCounts,
  scoreMismatches,
  waitForProgress,
} from './robustness.js';

const sensorType = loadSchema('sensor_reading');
const deadLetterType = loadSchema('dead_letter');
const anomalyType = loadSchema('anomaly_event');

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

type SensorSchema = { fields: { name: string }[] } & Record<string, unknown>;

function sensorSchemaWith(change: (fields: SensorSchema['fields']) => SensorSchema['fields']): AvroSchema {
  const base = schemaJson('sensor_reading') as unknown as SensorSchema;
  return { ...base, fields: change([...base.fields]) } as unknown as AvroSchema;
}

describe.each(['kafkajs', 'rdkafka'] as const)(
  'poison input through the Confluent (registry) path (%s)',
  (transport) => {
    it('dead-letters each kind of bad record with its reason and scores the good ones, evolved writers included', async () => {
      const input = uniqueName('poison-in');
      const anomalies = uniqueName('poison-anom');
      const dlq = uniqueName('poison-dlq');
      const scores = uniqueName('poison-scores');
      const groupId = uniqueName('poison-group');
      topics.push(input, anomalies, dlq, scores);
      await createTopics(kafka, { [input]: 3, [anomalies]: 1, [dlq]: 1, [scores]: 3 });

      // Writers registered the way producers register them: the current schema and a compatible evolution of it
      // (a new optional field) under the topic's subject; a schema missing a required field under another subject.
      const registry = new RegistryClient({ url: registryUrl() });
      const subject = `${input}-value`;
      const baseId = await registry.register(subject, schemaJson('sensor_reading'));
      const evolvedSchema = sensorSchemaWith((f) => [
        ...f,
        { name: 'calibration_tag', type: ['null', 'string'], default: null } as never,
      ]);
      const evolvedId = await registry.register(subject, evolvedSchema);
      const brokenSchema = sensorSchemaWith((f) => f.filter((x) => x.name !== 'temp_ambient_c'));
      const brokenId = await registry.register(`${input}.legacy-value`, brokenSchema);
      expect(new Set([baseId, evolvedId, brokenId]).size).toBe(3);

      const base = new ConfluentEncoder(sensorType, baseId);
      const evolved = new ConfluentEncoder(parseSchema(evolvedSchema), evolvedId);
      const broken = new ConfluentEncoder(parseSchema(brokenSchema), brokenId);

      const labelled = sensorStream(3000, { streamSeed: 53, anomalyRate: 0.03 });
      const messages: { key: string; value: Buffer | null }[] = labelled.map(({ record }, i) =>
        i % 3 === 1
          ? { key: `evolved-${i}`, value: evolved.encode({ ...record, calibration_tag: `cal-${i % 7}` }) }
          : { key: `good-${i}`, value: base.encode(record) },
      );
      const sample = labelled[0]!.record;
      const good = base.encode(sample);
      const poison: { key: string; value: Buffer | null; reason: string }[] = [
        {
          key: 'unknown-schema-id',
          value: frame(0x7fff_fff0, sensorType.toBuffer(sample)),
          reason: 'SCHEMA_NOT_FOUND',
        },
        {
          key: 'unknown-schema-id-again',
          value: frame(0x7fff_fff0, Buffer.from([1, 2])),
          reason: 'SCHEMA_NOT_FOUND',
        },
        {
          key: 'random-bytes',
          value: Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03]),
          reason: 'DECODE_FAILED',
        },
        { key: 'shorter-than-header', value: Buffer.from([0, 0, 0]), reason: 'DECODE_FAILED' },
        { key: 'truncated', value: good.subarray(0, good.length - 7), reason: 'DECODE_FAILED' },
        { key: 'header-only', value: good.subarray(0, 5), reason: 'DECODE_FAILED' },
        { key: 'tombstone', value: null, reason: 'DECODE_FAILED' },
        { key: 'wrong-magic-byte', value: Buffer.from([1, ...good.subarray(1)]), reason: 'DECODE_FAILED' },
        {
          // The first field's length prefix says ~2 GiB: the decoder must refuse it, not allocate it.
          key: 'length-bomb',
          value: frame(baseId, Buffer.from([0xfe, 0xff, 0xff, 0xff, 0x0f, 0x41])),
          reason: 'DECODE_FAILED',
        },
        { key: 'missing-required-field', value: broken.encode(sample), reason: 'SCHEMA_INVALID' },
        {
          key: 'missing-required-field-2',
          value: broken.encode(labelled[1]!.record),
          reason: 'SCHEMA_INVALID',
        },
        {
          key: 'nan',
          value: base.encode({ ...sample, pressure_inlet_kpa: Number.NaN }),
          reason: 'NON_FINITE',
        },
        {
          key: 'infinity',
          value: base.encode({ ...sample, power_kw: Number.POSITIVE_INFINITY }),
          reason: 'NON_FINITE',
        },
        {
          key: 'nan-evolved-writer',
          value: evolved.encode({ ...sample, calibration_tag: null, torque_nm: Number.NEGATIVE_INFINITY }),
          reason: 'NON_FINITE',
        },
      ];
      // Spread through the stream, so good records follow every kind of poison.
      for (const [i, p] of poison.entries())
        messages.splice(100 + i * 230, 0, { key: p.key, value: p.value });

      const producer = kafka.producer();
      await producer.connect();
      for (let i = 0; i < messages.length; i += 500)
        await producer.send({ topic: input, messages: messages.slice(i, i + 500) });
      await producer.disconnect();

      const port = await freePort();
      const config = {
        kafka: {
          transport,
          brokers: brokers(),
          clientId: `vigil-poison-${transport}`,
          groupId,
          consumer: { autoOffsetReset: 'earliest' },
        },
        input: {
          topics: [input],
          format: 'confluent',
          schema: schemaPath('sensor_reading'),
          registry: { url: registryUrl() },
        },
        features: { preset: 'sensor-reading', temporal: { enabled: false } },
        model: { artifact: artifact.dir },
        output: { anomaliesTopic: anomalies, deadLetterTopic: dlq, scoresTopic: scores },
        batching: { maxRecords: 250, lingerMs: 20 },
        metrics: { enabled: true, host: '127.0.0.1', port },
      };
      vigil = await startVigil(await writeVigilConfig(config));
      await vigil.whileRunning(
        waitForProgress(
          kafka,
          groupId,
          input,
          'vigil to commit the whole topic',
          (p) => p.high === messages.length && p.caughtUp,
        ),
      );
      const stats = await metricTotals(port, [
        'vigil_records_consumed_total',
        'vigil_records_scored_total',
        'vigil_records_dead_lettered_total',
      ]);
      const exit = await vigil.stop();
      vigil = undefined;
      expect(exit.code).toBe(0);

      const goodCount = messages.length - poison.length;
      expect(stats.vigil_records_consumed_total).toBe(messages.length);
      expect(stats.vigil_records_scored_total).toBe(goodCount);
      expect(stats.vigil_records_dead_lettered_total).toBe(poison.length);

      const inputRecords = await readTopic(kafka, input);
      const byKey = new Map(inputRecords.map((r) => [r.key!.toString(), r]));
      const letters = await readTopic(kafka, dlq);
      expect(letters).toHaveLength(poison.length);
      const letterAt = new Map(
        letters.map((l) => [
          coordinate(Number(l.headers['vigil.source.partition']), Number(l.headers['vigil.source.offset'])),
          l,
        ]),
      );
      for (const p of poison) {
        const source = byKey.get(p.key)!;
        const letter = letterAt.get(coordinate(source.partition, source.offset));
        expect(letter, p.key).toBeDefined();
        expect(letter!.headers['vigil.reason'], p.key).toBe(p.reason);
        // Dead letters are themselves registry-framed (subject <dlq>-value), like every output of a registry input.
        expect(letter!.value![0]).toBe(0);
        const body = deadLetterType.fromBuffer(letter!.value!.subarray(5)) as DeadLetter;
        expect(body.reason_code).toBe(p.reason);
        expect(body.source_topic).toBe(input);
        expect(body.source_offset).toBe(source.offset);
        expect(body.original_key?.toString()).toBe(p.key);
        if (p.value === null) expect(body.original_value).toBeNull();
        else expect(Buffer.compare(body.original_value!, p.value)).toBe(0);
      }
      const invalid = letters.find((l) => l.key?.toString() === 'missing-required-field')!;
      expect((deadLetterType.fromBuffer(invalid.value!.subarray(5)) as DeadLetter).reason_message).toMatch(
        /temp_ambient_c/,
      );

      // Every good record scored exactly once, evolved writers included.
      const scored = scoreCounts(await readTopic(kafka, scores));
      for (const r of inputRecords) {
        const key = r.key!.toString();
        if (!key.startsWith('good-') && !key.startsWith('evolved-')) continue;
        expect(scored.get(coordinate(r.partition, r.offset)), key).toBe(1);
      }
      expect(scored.size).toBe(goodCount);
      expect([...inputRecords].filter((r) => r.key!.toString().startsWith('evolved-')).length).toBe(1000);

      // The anomaly events are what the model says about the decoded records, evolved ones included.
      const cache = new SchemaCache();
      const reader = new RegistryClient({ url: registryUrl(), cache });
      const decoder = confluentDecoder(sensorType, cache, reader);
      await decoder.prepare(inputRecords.map((r) => r.value));
      const expected = expectedFromInput(inputRecords, input, decoder, sensorExtractor(), artifact.detector);
      expect(expected.dead.size).toBe(poison.length);
      const events = await readTopic(kafka, anomalies);
      const report = deliveryReport(
        expected,
        events.map((e) => e.headers['vigil.event_id']!),
      );
      const online = events.map((e) => anomalyType.fromBuffer(e.value!.subarray(5)) as AnomalyEvent);
      expect(scoreMismatches(expected, online), 'online and offline scores differ').toEqual([]);
      expect(report.missing).toEqual([]);
      expect(report.unexpected).toEqual([]);
      expect(report.duplicates).toBe(0);
      const evolvedFlagged = [...expected.sure].filter((at) =>
        inputRecords.some(
          (r) => coordinate(r.partition, r.offset) === at && r.key!.toString().startsWith('evolved-'),
        ),
      );
      console.info(
        `[poison confluent ${transport}] ${messages.length} records: ${goodCount} scored, ${poison.length} dead-lettered; ` +
          `${report.unique} anomaly events (${evolvedFlagged.length} from the evolved writer)`,
      );
    }, 120_000);
  },
);
