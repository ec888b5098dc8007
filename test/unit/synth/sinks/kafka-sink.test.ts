import type { Producer, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../../core/errors.js';
import { parseSchema } from '../../../../schemas/avro.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import { AvroCodec, ConfluentDecoder, ConfluentEncoder, SchemaCache } from '../../../../schemas/codec.js';
import type { SensorReading } from '../../../../schemas/types.js';
import { SensorGenerator } from '../../../../synth/sensor-generator.js';
import { KafkaSink } from '../../../../synth/sinks/kafka-sink.js';

interface Sent {
  topic: string;
  acks: number | undefined;
  keys: string[];
  /** Copies, as kafkajs copies values into its request. */
  values: Buffer[];
  /** The buffers the sink handed over (to see arena reuse). */
  backing: ArrayBufferLike[];
}

/** A producer whose sends settle when the test says so. */
function fakeProducer() {
  const sent: Sent[] = [];
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const producer = {
    send: (record: ProducerRecord) => {
      sent.push({
        topic: record.topic,
        acks: record.acks,
        keys: record.messages.map((m) => String(m.key)),
        values: record.messages.map((m) => Buffer.from(m.value as Buffer)),
        backing: record.messages.map((m) => (m.value as Buffer).buffer),
      });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise((resolve, reject) => {
        pending.push({
          resolve: () => {
            inFlight--;
            resolve([]);
          },
          reject: (e) => {
            inFlight--;
            reject(e);
          },
        });
      });
    },
  } as unknown as Producer;
  const settleAll = async () => {
    while (pending.length > 0) pending.shift()!.resolve();
    await new Promise((r) => setImmediate(r));
  };
  return { producer, sent, pending, settleAll, maxInFlight: () => maxInFlight };
}

const readings = (n: number, seed = 1) => {
  const g = new SensorGenerator({ seed, devices: 7 });
  return Array.from({ length: n }, () => g.next().record);
};

describe('KafkaSink', () => {
  it('sends each batch as one send: key = entity, value = the encoder’s bytes, acks as configured', async () => {
    const fake = fakeProducer();
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    const sink = new KafkaSink({ producer: fake.producer, topic: 'sensors', encoder: codec, acks: 1 });
    const batch = readings(300);
    await sink.write(
      batch,
      batch.map((r) => r.device_id),
    );
    expect(fake.sent).toHaveLength(1);
    const [send] = fake.sent;
    expect(send).toMatchObject({ topic: 'sensors', acks: 1 });
    expect(send!.keys).toEqual(batch.map((r) => r.device_id));
    expect(send!.values.map((v) => codec.decode(v))).toEqual(batch);
    expect(sink.bytesWritten).toBe(send!.values.reduce((s, v) => s + v.length, 0));
    const closing = sink.close();
    await fake.settleAll();
    await closing;
  });

  it('Confluent-framed values decode through the registry cache', async () => {
    const fake = fakeProducer();
    const type = loadSchema('sensor_reading');
    const sink = new KafkaSink({
      producer: fake.producer,
      topic: 't',
      encoder: new ConfluentEncoder<SensorReading>(type, 17),
    });
    const batch = readings(50);
    await sink.write(
      batch,
      batch.map((r) => r.device_id),
    );
    const cache = new SchemaCache();
    cache.set(17, type);
    const dec = new ConfluentDecoder<SensorReading>(type, cache);
    expect(fake.sent[0]!.values.map((v) => dec.decode(v))).toEqual(batch);
    await fake.settleAll();
    await sink.flush();
  });

  it('keeps at most maxInFlight sends outstanding, waiting for one to settle before the next', async () => {
    const fake = fakeProducer();
    const sink = new KafkaSink({
      producer: fake.producer,
      topic: 't',
      encoder: new AvroCodec(loadSchema('sensor_reading')),
      maxInFlight: 2,
    });
    const batch = readings(10);
    const keys = batch.map((r) => r.device_id);
    await sink.write(batch, keys);
    await sink.write(batch, keys);
    let third = false;
    const writing = sink.write(batch, keys).then(() => {
      third = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(third).toBe(false);
    expect(fake.sent).toHaveLength(2);
    fake.pending.shift()!.resolve();
    await writing;
    expect(fake.sent).toHaveLength(3);
    expect(fake.maxInFlight()).toBe(2);
    await fake.settleAll();
    await sink.close();
  });

  it('reuses an arena once its send settled, and never while it is in flight', async () => {
    const fake = fakeProducer();
    const sink = new KafkaSink({
      producer: fake.producer,
      topic: 't',
      encoder: new AvroCodec(loadSchema('sensor_reading')),
      maxInFlight: 1,
    });
    const [a, b] = [readings(100, 1), readings(100, 2)];
    await sink.write(
      a,
      a.map((r) => r.device_id),
    );
    const second = sink.write(
      b,
      b.map((r) => r.device_id),
    );
    await new Promise((r) => setImmediate(r));
    expect(fake.sent).toHaveLength(1); // b waits: a's arena is still in flight
    await fake.settleAll();
    await second;
    expect(fake.sent[1]!.backing[0]).toBe(fake.sent[0]!.backing[0]);
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    expect(fake.sent[1]!.values.map((v) => codec.decode(v))).toEqual(b);
    await fake.settleAll();
    await sink.close();
  });

  it('records larger than the arena estimate spill into a bigger arena, values intact', async () => {
    const fake = fakeProducer();
    const type = parseSchema({ type: 'record', name: 'Blob', fields: [{ name: 'text', type: 'string' }] });
    const codec = new AvroCodec<{ text: string }>(type);
    const sink = new KafkaSink({ producer: fake.producer, topic: 't', encoder: codec });
    const batch = Array.from({ length: 40 }, (_, i) => ({ text: String(i).repeat(5000 + i) }));
    await sink.write(
      batch,
      batch.map((_, i) => `k${i}`),
    );
    expect(fake.sent[0]!.values.map((v) => codec.decode(v))).toEqual(batch);
    await fake.settleAll();
    await sink.close();
  });

  it('a failed send surfaces on the next write or flush as a retriable PRODUCE_FAILED', async () => {
    const fake = fakeProducer();
    const sink = new KafkaSink({
      producer: fake.producer,
      topic: 'sensors',
      encoder: new AvroCodec(loadSchema('sensor_reading')),
    });
    const batch = readings(5);
    await sink.write(
      batch,
      batch.map((r) => r.device_id),
    );
    fake.pending.shift()!.reject(new Error('leader not available'));
    const err = await sink.flush().catch((e: unknown) => e);
    expect(isVigilError(err, 'PRODUCE_FAILED')).toBe(true);
    expect((err as { retriable: boolean; details: object }).retriable).toBe(true);
    expect((err as { details: object }).details).toMatchObject({ topic: 'sensors', records: 5 });
    await expect(
      sink.write(
        batch,
        batch.map((r) => r.device_id),
      ),
    ).rejects.toMatchObject({ code: 'PRODUCE_FAILED' });
  });
});
