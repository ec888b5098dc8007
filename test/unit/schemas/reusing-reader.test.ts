import { describe, expect, it } from 'vitest';
import { peerSchema } from '../../../bench/lib/peer-workload.js';
import { isVigilError } from '../../../core/errors.js';
import { type AvroType, parseSchema } from '../../../schemas/avro.js';
import { loadSchema, SCHEMA_NAMES } from '../../../schemas/catalog.js';
import { AvroCodec, ConfluentDecoder, ConfluentEncoder, SchemaCache } from '../../../schemas/codec.js';
import { compileReusingReader } from '../../../schemas/reusing-reader.js';

/** Every type the reader covers, nested and in unions, beside the shipped schemas. */
const EVERYTHING = parseSchema({
  type: 'record',
  name: 'Everything',
  namespace: 'test',
  fields: [
    { name: 'flag', type: 'boolean' },
    { name: 'small', type: 'int' },
    { name: 'big', type: 'long' },
    { name: 'single', type: 'float' },
    { name: 'real', type: 'double' },
    { name: 'text', type: 'string' },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B', 'C'] } },
    { name: 'maybe', type: ['null', 'double'] },
    { name: 'nothing', type: 'null' },
    {
      name: 'place',
      type: [
        'null',
        {
          type: 'record',
          name: 'Place',
          fields: [
            { name: 'lat', type: 'double' },
            { name: 'label', type: ['null', 'string'] },
            { name: 'inner', type: { type: 'record', name: 'Inner', fields: [{ name: 'n', type: 'long' }] } },
          ],
        },
      ],
    },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
});

const PEER = peerSchema();

const SCHEMAS: [string, AvroType][] = [
  ...SCHEMA_NAMES.map((n): [string, AvroType] => [n, loadSchema(n)]),
  ['everything', EVERYTHING],
  ['peer', PEER],
];

/** A small deterministic PRNG, so a failure names a case that can be run again. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = { ok: true; value: unknown } | { ok: false; reason: unknown; message: string };

function outcome(decode: () => unknown): Outcome {
  try {
    // A copy: the reusing codec's value is overwritten by its next decode.
    return { ok: true, value: structuredClone(decode()) };
  } catch (err) {
    if (!isVigilError(err)) throw err;
    return { ok: false, reason: (err.details as { reason?: unknown }).reason, message: err.message };
  }
}

/** Valid bodies (avsc's random values) and mutations of them: truncated, bytes changed, bytes appended. */
function bodies(type: AvroType, seed: number): Buffer[] {
  const rnd = prng(seed);
  const out: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const body = type.toBuffer(type.random());
    out.push(body);
    for (let cut = 0; cut < body.length; cut += Math.max(1, Math.floor(body.length / 12)))
      out.push(body.subarray(0, cut));
    for (let m = 0; m < 12; m++) {
      const b = Buffer.from(body);
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      out.push(b);
    }
    out.push(Buffer.concat([body, Buffer.from([Math.floor(rnd() * 256)])]));
  }
  return out;
}

describe('compileReusingReader', () => {
  it('covers the shipped input schemas and the peer benchmark schema', () => {
    for (const type of [loadSchema('sensor_reading'), loadSchema('card_transaction'), PEER, EVERYTHING])
      expect(compileReusingReader(type)).toBeDefined();
  });

  it.each(SCHEMAS)(
    '%s: the same values and the same failures as avsc, valid and mutated bodies alike',
    (_, type) => {
      const avsc = new AvroCodec(type);
      const reusing = new AvroCodec(type, { reuse: true });
      let failures = 0;
      const all = bodies(type, 7);
      for (const body of all) {
        const expected = outcome(() => avsc.decode(body));
        expect(outcome(() => reusing.decode(body))).toEqual(expected);
        if (!expected.ok) failures++;
      }
      // The mutations reach the failure paths, and most bodies still decode.
      expect(failures).toBeGreaterThan(0);
      expect(failures).toBeLessThan(all.length);
    },
  );

  it('decodes every record into the same object', () => {
    const codec = new AvroCodec(PEER, { reuse: true });
    const one = PEER.random() as unknown as Record<string, unknown>;
    const two = PEER.random() as unknown as Record<string, unknown>;
    const a = codec.decode(PEER.toBuffer(one)) as Record<string, unknown>;
    expect(a.c0).toBe(one.c0);
    const b = codec.decode(PEER.toBuffer(two)) as Record<string, unknown>;
    expect(b).toBe(a);
    expect(a.c0).toBe(two.c0);
    // Without reuse each decode is a value of its own.
    const plain = new AvroCodec(PEER);
    expect(plain.decode(PEER.toBuffer(one))).not.toBe(plain.decode(PEER.toBuffer(one)));
  });

  it('has no reader for types it does not cover, and the codec then decodes with avsc', () => {
    for (const t of [
      { type: 'array', items: 'double' },
      { type: 'map', values: 'long' },
      'bytes',
      { type: 'fixed', name: 'F', size: 4 },
    ]) {
      const type = parseSchema({ type: 'record', name: 'R', fields: [{ name: 'x', type: t as never }] });
      expect(compileReusingReader(type)).toBeUndefined();
      const value = type.random();
      expect(new AvroCodec(type, { reuse: true }).decode(type.toBuffer(value))).toEqual(value);
    }
    expect(compileReusingReader(parseSchema({ type: 'double' } as never))).toBeUndefined();
  });

  it('reads Confluent bodies after the header, and resolves as before when the writer schema differs', () => {
    const cache = new SchemaCache();
    cache.set(1, EVERYTHING);
    const older = parseSchema({
      type: 'record',
      name: 'Everything',
      namespace: 'test',
      fields: [{ name: 'real', type: 'double' }],
    });
    const reader = parseSchema({
      type: 'record',
      name: 'Everything',
      namespace: 'test',
      fields: [
        { name: 'real', type: 'double' },
        { name: 'extra', type: 'string', default: 'none' },
      ],
    });
    cache.set(2, older);
    const same = new ConfluentDecoder(EVERYTHING, cache, { reuse: true });
    const value = EVERYTHING.random();
    expect(structuredClone(same.decode(new ConfluentEncoder(EVERYTHING, 1).encode(value)))).toEqual(
      structuredClone(
        new ConfluentDecoder(EVERYTHING, cache).decode(new ConfluentEncoder(EVERYTHING, 1).encode(value)),
      ),
    );
    const resolving = new ConfluentDecoder(reader, cache, { reuse: true });
    expect(resolving.decode(new ConfluentEncoder(older, 2).encode({ real: 1.5 }))).toEqual({
      real: 1.5,
      extra: 'none',
    });
  });
});
