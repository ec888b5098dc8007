import avro from 'avsc';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { type AvroSchema, parseSchema } from '../../../schemas/avro.js';
import { loadSchema, schemaJson } from '../../../schemas/catalog.js';
import { AvroCodec, ConfluentDecoder, ConfluentEncoder, SchemaCache } from '../../../schemas/codec.js';
import type { CardTransaction, SensorReading } from '../../../schemas/types.js';
import { frame } from '../../../schemas/wire-format.js';
import { SensorGenerator } from '../../../synth/sensor-generator.js';
import { TransactionGenerator } from '../../../synth/transaction-generator.js';

function vigilError(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (err) {
    if (isVigilError(err)) return err;
    throw err;
  }
  throw new Error('expected a VigilError');
}

// avsc freezes its types, so resolver builds are counted on the prototype, per reader instance.
function countResolverBuilds(reader: avro.Type): () => number {
  const spy = vi.spyOn(avro.Type.prototype, 'createResolver');
  return () => spy.mock.contexts.filter((ctx) => ctx === reader).length;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const sensors = (n: number) => {
  const g = new SensorGenerator({ seed: 3, devices: 5, anomalyRate: 0.2, episodeLength: [2, 4] });
  return Array.from({ length: n }, () => g.next().record);
};

// A v1 and a v2 of a small schema: v2 adds an optional field and a field with a default, and drops none.
const V1_FIELDS = [
  { name: 'id', type: 'string' },
  { name: 'value', type: 'double' },
];
const record = (fields: object[]) =>
  ({ type: 'record', name: 'Reading', namespace: 'io.vigil.test', fields }) as unknown as AvroSchema;
const V1 = record(V1_FIELDS);
const V2 = record([
  ...V1_FIELDS,
  { name: 'unit', type: ['null', 'string'], default: null },
  { name: 'scale', type: 'double', default: 1 },
]);

describe('AvroCodec (plain Avro body)', () => {
  it('round-trips generated sensor readings and card transactions', () => {
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    for (const r of sensors(200)) expect(codec.decode(codec.encode(r))).toEqual(r);
    const tx = new AvroCodec<CardTransaction>(loadSchema('card_transaction'));
    const g = new TransactionGenerator({ seed: 3, cards: 50, anomalyRate: 0.2 });
    for (let i = 0; i < 200; i++) {
      const r = g.next().record;
      expect(tx.decode(tx.encode(r))).toEqual(r);
    }
  });

  it('encodeInto writes the same bytes into a caller buffer and reports the shortfall when it does not fit', () => {
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    const [a, b] = sensors(2) as [SensorReading, SensorReading];
    const buf = Buffer.alloc(4096);
    const mid = codec.encodeInto(a, buf, 0);
    const end = codec.encodeInto(b, buf, mid);
    expect(buf.subarray(0, mid)).toEqual(codec.encode(a));
    expect(buf.subarray(mid, end)).toEqual(codec.encode(b));
    const size = codec.encode(a).length;
    expect(codec.encodeInto(a, Buffer.alloc(size - 10), 0)).toBe(-10);
  });

  it('decodes bytes written with an older schema into the newer reader (field added with a default)', () => {
    const writer = parseSchema(V1);
    const codec = new AvroCodec(parseSchema(V2), { writer });
    const bytes = writer.toBuffer({ id: 'a', value: 2.5 });
    expect(codec.decode(bytes)).toEqual({ id: 'a', value: 2.5, unit: null, scale: 1 });
  });

  it('a truncated body is DECODE_FAILED (truncated)', () => {
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    const bytes = codec.encode(sensors(1)[0]!);
    const err = vigilError(() => codec.decode(bytes.subarray(0, bytes.length - 3)));
    expect(err.code).toBe('DECODE_FAILED');
    expect(err.details.reason).toBe('truncated');
  });

  it('trailing bytes after a record are DECODE_FAILED (trailing_bytes)', () => {
    const codec = new AvroCodec<SensorReading>(loadSchema('sensor_reading'));
    const bytes = Buffer.concat([codec.encode(sensors(1)[0]!), Buffer.from([0, 0])]);
    expect(vigilError(() => codec.decode(bytes)).details.reason).toBe('trailing_bytes');
  });

  it('bytes of another schema fail as DECODE_FAILED, not as a stray TypeError', () => {
    const codec = new AvroCodec<CardTransaction>(loadSchema('card_transaction'));
    const err = vigilError(() => codec.decode(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])));
    expect(err.code).toBe('DECODE_FAILED');
  });
});

describe('Confluent framing', () => {
  const sensorType = loadSchema('sensor_reading');

  it('ConfluentEncoder output is frame(id, plain body), both from encode and encodeInto', () => {
    const enc = new ConfluentEncoder<SensorReading>(sensorType, 42);
    const plain = new AvroCodec<SensorReading>(sensorType);
    const r = sensors(1)[0]!;
    expect(enc.encode(r)).toEqual(frame(42, plain.encode(r)));
    const buf = Buffer.alloc(2048);
    const end = enc.encodeInto(r, buf, 7);
    expect(buf.subarray(7, end)).toEqual(enc.encode(r));
    expect(enc.encodeInto(r, Buffer.alloc(3), 0)).toBe(-(enc.encode(r).length - 3));
    expect(enc.encodeInto(r, Buffer.alloc(20), 0)).toBe(-(enc.encode(r).length - 20));
  });

  it('decodes synchronously once the id is cached; before that names the missing id', () => {
    const cache = new SchemaCache();
    const dec = new ConfluentDecoder<SensorReading>(sensorType, cache);
    const r = sensors(1)[0]!;
    const framed = new ConfluentEncoder<SensorReading>(sensorType, 9).encode(r);
    expect(dec.missingSchemaId(framed)).toBe(9);
    const err = vigilError(() => dec.decode(framed));
    expect(err.code).toBe('SCHEMA_NOT_FOUND');
    expect(err.details).toMatchObject({ schemaId: 9, cached: false });
    cache.set(9, parseSchema(schemaJson('sensor_reading')));
    expect(dec.missingSchemaId(framed)).toBeUndefined();
    expect(dec.decode(framed)).toEqual(r);
  });

  it('resolves an older writer id into the reader, building the resolver once per id', () => {
    const cache = new SchemaCache();
    const writer = parseSchema(V1);
    cache.set(1, writer);
    cache.set(2, parseSchema(V2));
    const reader = parseSchema(V2);
    const builds = countResolverBuilds(reader);
    const dec = new ConfluentDecoder(reader, cache);
    const old = frame(1, writer.toBuffer({ id: 'x', value: 1 }));
    for (let i = 0; i < 5; i++) expect(dec.decode(old)).toEqual({ id: 'x', value: 1, unit: null, scale: 1 });
    expect(builds()).toBe(1);
    // Same canonical schema: decoded directly, no resolver at all.
    const current = frame(2, reader.toBuffer({ id: 'y', value: 2, unit: 'kPa', scale: 3 }));
    expect(dec.decode(current)).toEqual({ id: 'y', value: 2, unit: 'kPa', scale: 3 });
    expect(builds()).toBe(1);
  });

  it('a writer the reader cannot resolve is SCHEMA_INVALID, remembered for the id', () => {
    const cache = new SchemaCache();
    cache.set(3, parseSchema(V1));
    // The reader needs a field the writer lacks and gives it no default.
    const reader = avro.Type.forSchema(record([...V1_FIELDS, { name: 'must', type: 'int' }]));
    const builds = countResolverBuilds(reader);
    const dec = new ConfluentDecoder(reader, cache);
    const framed = frame(3, parseSchema(V1).toBuffer({ id: 'a', value: 1 }));
    expect(vigilError(() => dec.decode(framed)).code).toBe('SCHEMA_INVALID');
    expect(vigilError(() => dec.decode(framed)).code).toBe('SCHEMA_INVALID');
    expect(builds()).toBe(1);
  });

  it('framing errors surface as DECODE_FAILED from the decoder too', () => {
    const dec = new ConfluentDecoder(sensorType, new SchemaCache());
    expect(vigilError(() => dec.decode(Buffer.from([0, 0, 1]))).code).toBe('DECODE_FAILED');
    expect(vigilError(() => dec.decode(Buffer.from([2, 0, 0, 0, 1, 0]))).code).toBe('DECODE_FAILED');
    expect(vigilError(() => dec.missingSchemaId(Buffer.from([2, 0, 0, 0, 1]))).code).toBe('DECODE_FAILED');
  });
});

describe('SchemaCache', () => {
  it('keeps at most maxEntries types, dropping the oldest', () => {
    const cache = new SchemaCache(2);
    const t = parseSchema(V1);
    cache.set(1, t);
    cache.set(2, t);
    cache.set(3, t);
    expect([cache.has(1), cache.has(2), cache.has(3), cache.size]).toEqual([false, true, true, 2]);
  });

  it('never replaces the type of an id already cached (registry ids are immutable)', () => {
    const cache = new SchemaCache();
    const a = parseSchema(V1);
    cache.set(1, a);
    cache.set(1, parseSchema(V2));
    expect(cache.get(1)).toBe(a);
  });
});
