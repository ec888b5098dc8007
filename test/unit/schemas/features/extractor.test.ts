import { describe, expect, it } from 'vitest';
import type { FeaturesConfigInput } from '../../../../core/config/features-schema.js';
import { isVigilError } from '../../../../core/errors.js';
import {
  compileFeatures,
  EXTRACT_OK,
  type FeatureExtractor,
  type FeatureFailure,
} from '../../../../schemas/features/extractor.js';
import { murmur3Utf8, signedBucket } from '../../../../schemas/features/murmur3.js';

const fields = (...f: NonNullable<FeaturesConfigInput['fields']>): FeaturesConfigInput => ({ fields: f });

function row(x: FeatureExtractor, record: unknown): number[] {
  const r = x.extract(record);
  if (!(r instanceof Float32Array)) throw new Error(`expected a row, got ${r.reason}: ${r.message}`);
  return [...r];
}

function failureOf(x: FeatureExtractor, record: unknown): FeatureFailure {
  const r = x.extract(record);
  if (r instanceof Float32Array) throw new Error('expected a failure');
  return r;
}

describe('numeric features', () => {
  it('writes the value, log1p-transformed when asked, accepting bigint longs', () => {
    const x = compileFeatures(
      fields(
        { kind: 'numeric', path: 'a' },
        { kind: 'numeric', path: 'b', transform: 'log1p' },
        { kind: 'numeric', path: 'c' },
      ),
    );
    expect(x.featureNames).toEqual(['a', 'b', 'c']);
    const r = row(x, { a: 2.5, b: Math.E - 1, c: 7n });
    expect(r[0]).toBe(2.5);
    expect(r[1]).toBeCloseTo(1, 6);
    expect(r[2]).toBe(7);
  });

  it('refuses a value of the wrong type', () => {
    const f = failureOf(compileFeatures(fields({ kind: 'numeric', path: 'a' })), { a: '12' });
    expect(f).toMatchObject({ ok: false, reason: 'TYPE_MISMATCH', path: 'a', feature: 'a' });
    expect(f.message).toBe('a is "12", not a number');
  });

  it('rejects NaN, Infinity and a log1p that is not finite', () => {
    const x = compileFeatures(fields({ kind: 'numeric', path: 'a' }));
    for (const a of [Number.NaN, Number.POSITIVE_INFINITY, -Number.POSITIVE_INFINITY]) {
      expect(failureOf(x, { a }).reason).toBe('NON_FINITE');
    }
    const log = compileFeatures(fields({ kind: 'numeric', path: 'a', transform: 'log1p' }));
    expect(failureOf(log, { a: -2 })).toMatchObject({
      reason: 'NON_FINITE',
      message: 'a is log1p(-2) = NaN, not a finite number',
    });
    expect(failureOf(log, { a: -1 }).reason).toBe('NON_FINITE');
  });

  it('writes a finite value beyond float32 as ±float32 max instead of refusing it', () => {
    const x = compileFeatures(fields({ kind: 'numeric', path: 'a' }, { kind: 'numeric', path: 'b' }));
    const f32max = 3.4028234663852886e38;
    expect(row(x, { a: 1e39, b: -1e308 })).toEqual([f32max, -f32max]);
    expect(row(x, { a: Number.MAX_VALUE, b: 3.4e38 })).toEqual([f32max, Math.fround(3.4e38)]);
    const log = compileFeatures(fields({ kind: 'numeric', path: 'a', transform: 'log1p' }));
    expect(row(log, { a: 1e308 })).toEqual([Math.fround(Math.log1p(1e308))]);
  });

  it('treats non-finite values as missing when nonFinite is missing', () => {
    const x = compileFeatures(
      fields({ kind: 'numeric', path: 'a', nonFinite: 'missing', missing: 'flag', fill: -1 }),
    );
    expect(x.featureNames).toEqual(['a', 'a:missing']);
    expect(row(x, { a: Number.NaN })).toEqual([-1, 1]);
    expect(row(x, { a: 3 })).toEqual([3, 0]);
  });
});

describe('missing values', () => {
  it('fail: a typed failure naming the path, for absent and null alike', () => {
    const x = compileFeatures(fields({ kind: 'numeric', path: 'a' }));
    expect(failureOf(x, {})).toEqual({
      ok: false,
      reason: 'MISSING_VALUE',
      path: 'a',
      feature: 'a',
      message: 'a is missing',
    });
    expect(failureOf(x, { a: null }).reason).toBe('MISSING_VALUE');
  });

  it('constant: the fill value', () => {
    const x = compileFeatures(fields({ kind: 'numeric', path: 'a', missing: 'constant', fill: 42 }));
    expect(row(x, { a: null })).toEqual([42]);
  });

  it('median: the supplied training median, or NaN for the scaler to centre', () => {
    const spec = fields({ kind: 'numeric', path: 'a', name: 'alpha', missing: 'median' });
    expect(row(compileFeatures(spec, { medians: { alpha: 3.5 } }), {})).toEqual([3.5]);
    expect(row(compileFeatures(spec), {})[0]).toBeNaN();
  });

  it('flag: an indicator column that is reset when the value is present (buffers are reused)', () => {
    const x = compileFeatures(
      fields({ kind: 'numeric', path: 'a', missing: 'flag' }, { kind: 'numeric', path: 'b' }),
    );
    expect(x.featureNames).toEqual(['a', 'a:missing', 'b']);
    const out = new Float32Array(3);
    expect(x.extractInto({ b: 1 }, out, 0)).toBe(EXTRACT_OK);
    expect([...out]).toEqual([0, 1, 1]);
    expect(x.extractInto({ a: 5, b: 2 }, out, 0)).toBe(EXTRACT_OK);
    expect([...out]).toEqual([5, 0, 2]);
  });

  it('follows nested paths, a null record on the way meaning missing', () => {
    const x = compileFeatures(
      fields({ kind: 'numeric', path: 'location.lat', name: 'lat', missing: 'flag' }),
    );
    expect(row(x, { location: { lat: 48.1 } })[0]).toBeCloseTo(48.1, 5);
    expect(row(x, { location: null })).toEqual([0, 1]);
    expect(row(x, {})).toEqual([0, 1]);
    expect(row(x, { location: 'not a record' })).toEqual([0, 1]);
  });
});

describe('deep paths', () => {
  it('reads three levels down and treats a break at any level as missing', () => {
    const x = compileFeatures(
      fields({ kind: 'numeric', path: 'a.b.c', name: 'abc', missing: 'flag', fill: -1 }),
    );
    expect(row(x, { a: { b: { c: 2 } } })).toEqual([2, 0]);
    for (const rec of [
      {},
      { a: null },
      { a: { b: null } },
      { a: { b: {} } },
      { a: { b: { c: null } } },
      { a: 5 },
    ]) {
      expect(row(x, rec), JSON.stringify(rec)).toEqual([-1, 1]);
    }
  });

  it('refuses a record that is not an object', () => {
    const x = compileFeatures(fields({ kind: 'numeric', path: 'a', missing: 'constant', fill: 0 }));
    expect(failureOf(x, null)).toMatchObject({
      reason: 'TYPE_MISMATCH',
      message: 'the record is null, not a record',
    });
    expect(failureOf(x, 'text').reason).toBe('TYPE_MISMATCH');
  });
});

describe('boolean features', () => {
  it('writes 0 or 1 and refuses other types', () => {
    const x = compileFeatures(fields({ kind: 'boolean', path: 'p', missing: 'constant', fill: true }));
    expect(row(x, { p: true })).toEqual([1]);
    expect(row(x, { p: false })).toEqual([0]);
    expect(row(x, { p: null })).toEqual([1]);
    expect(failureOf(x, { p: 1 }).reason).toBe('TYPE_MISMATCH');
  });
});

describe('enum features', () => {
  const spec = (extra: object = {}) =>
    fields({ kind: 'enum', path: 'c', categories: ['A', 'B', 'C'], ...extra });

  it('one-hot encodes, clearing the previous row in a reused buffer', () => {
    const x = compileFeatures(spec({ unknown: 'ignore' }));
    expect(x.featureNames).toEqual(['c=A', 'c=B', 'c=C']);
    const out = new Float32Array(3);
    x.extractInto({ c: 'A' }, out, 0);
    x.extractInto({ c: 'C' }, out, 0);
    expect([...out]).toEqual([0, 0, 1]);
  });

  it('puts unknown values in __other__, ignores them, or fails, as configured', () => {
    expect(compileFeatures(spec()).featureNames).toEqual(['c=A', 'c=B', 'c=C', 'c=__other__']);
    expect(row(compileFeatures(spec()), { c: 'Z' })).toEqual([0, 0, 0, 1]);
    expect(row(compileFeatures(spec({ unknown: 'ignore' })), { c: 'Z' })).toEqual([0, 0, 0]);
    const f = failureOf(compileFeatures(spec({ unknown: 'fail' })), { c: 'Z' });
    expect(f).toMatchObject({ reason: 'UNKNOWN_CATEGORY', message: 'c is "Z", not one of A, B, C' });
  });

  it('handles missing values: a fill category, zeros, or a flag', () => {
    expect(row(compileFeatures(spec({ unknown: 'ignore', missing: 'constant', fill: 'B' })), {})).toEqual([
      0, 1, 0,
    ]);
    expect(row(compileFeatures(spec({ unknown: 'ignore', missing: 'constant' })), {})).toEqual([0, 0, 0]);
    const flagged = compileFeatures(spec({ missing: 'flag' }));
    expect(flagged.featureNames.at(-1)).toBe('c:missing');
    expect(row(flagged, {})).toEqual([0, 0, 0, 0, 1]);
    expect(row(flagged, { c: 'B' })).toEqual([0, 1, 0, 0, 0]);
  });

  it('needs categories when there is no reader schema', () => {
    expect(() => compileFeatures(fields({ kind: 'enum', path: 'c' }))).toThrow(
      /list the categories, or compile with the reader schema/,
    );
  });
});

describe('hashed features', () => {
  it('sets the MurmurHash3 bucket of the UTF-8 value', () => {
    const x = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 10 }));
    expect(x.featureNames).toEqual(Array.from({ length: 10 }, (_, i) => `m#${i}`));
    const r = row(x, { m: 'foo' });
    // mmh3.hash(b'foo', 0) = -156908512 → bucket 2 (as scikit-learn's FeatureHasher).
    expect(r).toEqual([0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('writes the sign bit when signed, and uses the seed', () => {
    const signed = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 10, signed: true }));
    expect(row(signed, { m: 'foo' })[2]).toBe(-1);
    const seeded = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 64, seed: 42 }));
    const b = Math.abs(signedBucket(murmur3Utf8('merchant_12345', 42), 64)) - 1;
    expect(row(seeded, { m: 'merchant_12345' }).indexOf(1)).toBe(b);
  });

  it('hashes longs by their decimal text and bytes as they are', () => {
    const x = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 16 }));
    expect(row(x, { m: 12345 })).toEqual(row(x, { m: '12345' }));
    expect(row(x, { m: 12345n })).toEqual(row(x, { m: '12345' }));
    expect(row(x, { m: Buffer.from('abc') })).toEqual(row(x, { m: 'abc' }));
    expect(failureOf(x, { m: { nested: 1 } }).reason).toBe('TYPE_MISMATCH');
  });

  it('clears the previous bucket in a reused buffer', () => {
    const x = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 4 }));
    const out = new Float32Array(4);
    for (const m of ['a', 'b', 'c', 'd', 'e']) {
      x.extractInto({ m }, out, 0);
      expect(out.reduce((s, v) => s + v, 0)).toBe(1);
    }
  });

  it('hashes the fill value for a constant, zeros otherwise, and flags', () => {
    const constant = compileFeatures(
      fields({ kind: 'hashed', path: 'm', buckets: 8, missing: 'constant', fill: 'none' }),
    );
    expect(row(constant, {})).toEqual(row(constant, { m: 'none' }));
    const flagged = compileFeatures(fields({ kind: 'hashed', path: 'm', buckets: 4, missing: 'flag' }));
    expect(row(flagged, { m: null })).toEqual([0, 0, 0, 0, 1]);
  });
});

describe('cyclic features', () => {
  const at = (iso: string) => Date.parse(iso);

  it('encodes hour of day and day of week (Monday = 0, fractional) on circles', () => {
    const x = compileFeatures(fields({ kind: 'cyclic', path: 't' }));
    expect(x.featureNames).toEqual(['t:hour_sin', 't:hour_cos', 't:dow_sin', 't:dow_cos']);
    // 2024-01-01 was a Monday; 06:00 is a quarter of the day.
    const r = row(x, { t: at('2024-01-01T06:00:00Z') });
    expect(r[0]).toBeCloseTo(1, 6);
    expect(r[1]).toBeCloseTo(0, 6);
    expect(r[2]).toBeCloseTo(Math.sin((2 * Math.PI * 0.25) / 7), 6);
    expect(r[3]).toBeCloseTo(Math.cos((2 * Math.PI * 0.25) / 7), 6);
    // Sunday 18:00 is weekday 6.75.
    const s = row(x, { t: at('2024-01-07T18:00:00Z') });
    expect(s[2]).toBeCloseTo(Math.sin((2 * Math.PI * 6.75) / 7), 6);
    expect(s[0]).toBeCloseTo(-1, 6);
  });

  it('is continuous across midnight and across the week boundary', () => {
    const x = compileFeatures(fields({ kind: 'cyclic', path: 't' }));
    const before = row(x, { t: at('2024-01-07T23:59:59.999Z') });
    const after = row(x, { t: at('2024-01-08T00:00:00Z') });
    for (let i = 0; i < 4; i++) expect(after[i]! - before[i]!).toBeCloseTo(0, 4);
  });

  it('handles units, a UTC offset, dates before 1970 and Date values', () => {
    const hourOnly = (extra: object) =>
      compileFeatures(fields({ kind: 'cyclic', path: 't', cycles: ['hourOfDay'], ...extra }));
    const ms = at('2024-03-10T12:00:00Z');
    const noon = row(hourOnly({}), { t: ms });
    expect(row(hourOnly({ unit: 'micros' }), { t: ms * 1000 })).toEqual(noon);
    expect(row(hourOnly({ unit: 'seconds' }), { t: ms / 1000 })).toEqual(noon);
    expect(row(hourOnly({}), { t: new Date(ms) })).toEqual(noon);
    expect(row(hourOnly({ utcOffsetMinutes: 360 }), { t: ms })).toEqual(
      row(hourOnly({}), { t: at('2024-03-10T18:00:00Z') }),
    );
    const old = row(hourOnly({}), { t: at('1969-12-31T18:00:00Z') });
    expect(old[0]).toBeCloseTo(-1, 6);
  });

  it('refuses a non-timestamp, and writes zeros for a flagged missing time', () => {
    const x = compileFeatures(fields({ kind: 'cyclic', path: 't', cycles: ['hourOfDay'], missing: 'flag' }));
    expect(failureOf(x, { t: 'noon' }).reason).toBe('TYPE_MISMATCH');
    expect(failureOf(x, { t: Number.NaN }).reason).toBe('NON_FINITE');
    expect(row(x, {})).toEqual([0, 0, 1]);
  });
});

describe('the extractor', () => {
  const spec: FeaturesConfigInput = {
    entityKey: 'id',
    eventTime: { path: 'ts', unit: 'micros' },
    // The row alone; temporal columns have their own tests (temporal.test.ts).
    temporal: { enabled: false },
    fields: [
      { kind: 'numeric', path: 'a' },
      { kind: 'enum', path: 'c', categories: ['x', 'y'], unknown: 'ignore' },
    ],
  };

  it('writes a row at an offset and touches nothing else', () => {
    const x = compileFeatures(spec);
    const out = new Float32Array(9).fill(-7);
    expect(x.extractInto({ id: 'e', a: 1, c: 'y' }, out, 3)).toBe(EXTRACT_OK);
    expect([...out]).toEqual([-7, -7, -7, 1, 0, 1, -7, -7, -7]);
  });

  it('returns the shared success object (no allocation per valid record)', () => {
    const x = compileFeatures(spec);
    const out = new Float32Array(3);
    const a = x.extractInto({ id: 'e', a: 1, c: 'x' }, out, 0);
    const b = x.extractInto({ id: 'f', a: 2, c: 'y' }, out, 0);
    expect(a).toBe(EXTRACT_OK);
    expect(b).toBe(a);
    expect(Object.isFrozen(EXTRACT_OK)).toBe(true);
  });

  it('throws a RangeError for a slot outside the buffer (a programmer error, not bad data)', () => {
    const x = compileFeatures(spec);
    expect(() => x.extractInto({ id: 'e', a: 1, c: 'x' }, new Float32Array(5), 3)).toThrow(RangeError);
    expect(() => x.extractInto({ id: 'e', a: 1, c: 'x' }, new Float32Array(5), -1)).toThrow(RangeError);
  });

  it('requires the entity key to be present, and reads entity and event time', () => {
    const x = compileFeatures(spec);
    expect(failureOf(x, { a: 1, c: 'x' })).toMatchObject({ reason: 'MISSING_VALUE', path: 'id' });
    expect(failureOf(x, { id: { x: 1 }, a: 1, c: 'x' })).toMatchObject({
      reason: 'TYPE_MISMATCH',
      path: 'id',
    });
    expect(x.entityOf({ id: 'dev-1' })).toBe('dev-1');
    expect(x.entityOf({ id: 17 })).toBe('17');
    expect(x.entityOf({})).toBeUndefined();
    expect(x.eventTimeOf({ ts: 1_700_000_000_123_456 })).toBe(1_700_000_000_123);
    expect(x.eventTimeOf({})).toBeUndefined();
    // A Date is already milliseconds, whatever the unit says.
    expect(x.eventTimeOf({ ts: new Date(1_700_000_000_123) })).toBe(1_700_000_000_123);
    expect(x.eventTimeOf({ ts: Number.NaN })).toBeUndefined();
  });

  it('reports the first failing field and keeps going on the next record', () => {
    const x = compileFeatures(spec);
    const out = new Float32Array(3);
    expect(x.extractInto({ id: 'e', a: 'bad', c: 'x' }, out, 0)).toMatchObject({ ok: false, feature: 'a' });
    expect(x.extractInto({ id: 'e', a: 4, c: 'x' }, out, 0)).toBe(EXTRACT_OK);
    expect([...out]).toEqual([4, 1, 0]);
  });

  it('has a fingerprint that changes with the mapping, not with how it was written', () => {
    const a = compileFeatures(spec).fingerprint;
    const same = compileFeatures({
      ...spec,
      fields: [{ kind: 'numeric', path: 'a', transform: 'none' }, spec.fields![1]!],
    });
    expect(same.fingerprint).toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    const other = compileFeatures({
      ...spec,
      fields: [spec.fields![0]!, { kind: 'enum', path: 'c', categories: ['y', 'x'] }],
    });
    expect(other.fingerprint).not.toBe(a);
  });

  it('refuses a mapping whose columns collide', () => {
    try {
      compileFeatures(fields({ kind: 'enum', path: 'c', categories: ['x', '__other__'], unknown: 'other' }));
      expect.unreachable();
    } catch (err) {
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('duplicate columns: c=__other__');
    }
  });

  it('validates a mapping given as written', () => {
    expect(() => compileFeatures(fields({ kind: 'numeric', path: 'a', transform: 'sqrt' } as never))).toThrow(
      /invalid feature mapping/,
    );
  });
});

describe('checking the mapping against a reader schema', () => {
  const schema = {
    type: 'record',
    name: 'R',
    namespace: 'test',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'amount', type: 'double' },
      { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['P', 'Q'] } },
      { name: 'other_kind', type: ['null', 'Kind'], default: null },
      { name: 'ts', type: { type: 'long', logicalType: 'timestamp-millis' } },
      { name: 'choice', type: ['null', 'string', 'double'], default: null },
      {
        name: 'loc',
        type: ['null', { type: 'record', name: 'Loc', fields: [{ name: 'lat', type: 'double' }] }],
        default: null,
      },
    ],
  };

  it('takes enum categories from the schema, following named references', () => {
    const x = compileFeatures(fields({ kind: 'enum', path: 'kind' }, { kind: 'enum', path: 'other_kind' }), {
      readerSchema: schema,
    });
    expect(x.featureNames).toEqual([
      'kind=P',
      'kind=Q',
      'kind=__other__',
      'other_kind=P',
      'other_kind=Q',
      'other_kind=__other__',
    ]);
    expect(x.spec.fields[0]).toMatchObject({ categories: ['P', 'Q'] });
  });

  it('accepts a valid mapping through nullable records', () => {
    expect(() =>
      compileFeatures(
        {
          entityKey: 'id',
          eventTime: { path: 'ts', unit: 'millis' },
          fields: [{ kind: 'numeric', path: 'loc.lat' }],
        },
        { readerSchema: schema },
      ),
    ).not.toThrow();
  });

  it('lists every mismatch at once', () => {
    let message = '';
    try {
      compileFeatures(
        {
          entityKey: 'amount_typo',
          fields: [
            { kind: 'numeric', path: 'id' },
            { kind: 'numeric', path: 'loc.lon' },
            { kind: 'numeric', path: 'choice' },
            { kind: 'cyclic', path: 'ts', unit: 'micros' },
            { kind: 'enum', path: 'kind', categories: ['P'], unknown: 'fail' },
            { kind: 'enum', path: 'id', name: 'id_enum' },
          ],
        },
        { readerSchema: schema },
      );
    } catch (err) {
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      message = (err as Error).message;
    }
    expect(message).toContain('entityKey (amount_typo): the record has no field "amount_typo"');
    expect(message).toContain(
      'fields[0] (id): a numeric feature needs int or long or float or double, but the schema says string',
    );
    expect(message).toContain('fields[1] (loc.lon): loc has no field "lon" (fields: lat)');
    expect(message).toContain('fields[2] (choice): choice is a union of several types');
    expect(message).toContain('fields[3] (ts): the schema says timestamp-millis, but unit is micros');
    expect(message).toContain(
      'fields[4] (kind): symbols Q are not among the categories, and unknown is fail',
    );
    expect(message).toContain('fields[5] (id): a string field needs its categories listed');
  });

  it('accepts an avsc Type as the schema', async () => {
    const avro = (await import('avsc')).default;
    const type = avro.Type.forSchema(schema as never);
    expect(compileFeatures(fields({ kind: 'enum', path: 'kind' }), { readerSchema: type }).width).toBe(3);
  });
});
