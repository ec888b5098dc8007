import { describe, expect, it } from 'vitest';
import { FeaturesSchema, type TemporalDerivation } from '../../../../core/config/features-schema.js';
import { compileFeatures } from '../../../../schemas/features/extractor.js';
import { TemporalState } from '../../../../schemas/features/temporal.js';

/** One numeric column followed, base row [x], derived columns after it. */
function state(derive: TemporalDerivation[], window = 3, maxEntities = 10) {
  const s = new TemporalState({ sources: [0], derive, window, maxEntities });
  const row = new Float32Array(1 + s.width);
  return {
    s,
    push(entity: string, x: number, stream = 'p0'): number[] {
      row[0] = x;
      s.update(entity, stream, row, 0, 1);
      return [...row.subarray(1)];
    },
  };
}

const mapping = (temporal: Record<string, unknown> = {}, withTime = true) => ({
  entityKey: 'id',
  ...(withTime ? { eventTime: { path: 't', unit: 'millis' as const } } : {}),
  temporal,
  fields: [
    { kind: 'numeric' as const, path: 'a' },
    { kind: 'enum' as const, path: 's', categories: ['X', 'Y'] },
    { kind: 'numeric' as const, path: 'b', missing: 'median' as const },
  ],
});

describe('TemporalState values', () => {
  it('delta is the change since the entity’s previous reading; the first reading has none (NaN)', () => {
    const t = state(['delta']);
    expect(t.push('e', 5)).toEqual([Number.NaN]);
    expect(t.push('e', 7)).toEqual([2]);
    expect(t.push('e', 6)).toEqual([-1]);
    // Another entity has its own history.
    expect(t.push('f', 100)).toEqual([Number.NaN]);
    expect(t.push('e', 6)).toEqual([0]);
  });

  it('spread is ln(population std of the last window readings + floor), NaN until the window is full', () => {
    const t = state(['spread'], 3);
    expect(t.push('e', 1)).toEqual([Number.NaN]);
    expect(t.push('e', 2)).toEqual([Number.NaN]);
    const std123 = Math.sqrt(2 / 3);
    expect(t.push('e', 3)[0]).toBeCloseTo(Math.log(std123 + 1e-6 * 3), 6);
    // The window slides: 2, 3, 10.
    const m = 5;
    const std = Math.sqrt(((2 - m) ** 2 + (3 - m) ** 2 + (10 - m) ** 2) / 3);
    expect(t.push('e', 10)[0]).toBeCloseTo(Math.log(std + 1e-6 * (1 + m)), 6);
  });

  it('a value that stops changing drops the spread by orders of magnitude', () => {
    const t = state(['spread'], 4);
    const noisy = [20.1, 19.7, 20.4, 19.9, 20.2];
    let normal = 0;
    for (const x of noisy) normal = t.push('e', x)[0]!;
    let stuck = 0;
    for (let i = 0; i < 4; i++) stuck = t.push('e', 20.2)[0]!;
    expect(Math.log(1e-6 * 21.2)).toBeCloseTo(stuck, 5);
    expect(normal - stuck).toBeGreaterThan(9);
  });

  it('meanDev is the value minus the mean of the previous window readings', () => {
    const t = state(['meanDev'], 2);
    expect(t.push('e', 1)).toEqual([Number.NaN]);
    expect(t.push('e', 3)).toEqual([Number.NaN]);
    expect(t.push('e', 8)).toEqual([6]);
    expect(t.push('e', 0)).toEqual([-5.5]);
  });

  it('gap: ln(1 + seconds) since the entity’s previous record and spanned by its last window records', () => {
    const s = new TemporalState({ sources: [0], derive: ['delta', 'gap'], window: 3, maxEntities: 10 });
    expect(s.width).toBe(3);
    const row = new Float32Array(4);
    const push = (entity: string, x: number, time: number) => {
      row[0] = x;
      s.update(entity, 'p0', row, 0, 1, time);
      return [...row.subarray(2)];
    };
    expect(push('e', 1, 1_000_000)).toEqual([Number.NaN, Number.NaN]);
    expect(push('e', 2, 1_060_000)[0]).toBeCloseTo(Math.log1p(60), 5);
    expect(push('f', 2, 1_061_000)).toEqual([Number.NaN, Number.NaN]);
    // Third record of e (its value missing, its time not): the window of 3 spans it and the two before, 62 s.
    expect(push('e', Number.NaN, 1_062_000)).toEqual([
      expect.closeTo(Math.log1p(2), 5),
      expect.closeTo(Math.log1p(62), 5),
    ]);
    // The window slides: 1 060 000 → 1 062 500 over three records.
    expect(push('e', 3, 1_062_500)).toEqual([
      expect.closeTo(Math.log1p(0.5), 5),
      expect.closeTo(Math.log1p(2.5), 5),
    ]);
    expect(push('e', 3, 1_064_500)[1]).toBeCloseTo(Math.log1p(2.5), 5);
  });

  it('a missing (NaN) value gives NaN columns and leaves the history as it was', () => {
    const t = state(['delta', 'spread'], 2);
    t.push('e', 1);
    expect(t.push('e', Number.NaN)).toEqual([Number.NaN, Number.NaN]);
    const [d, s] = t.push('e', 3);
    expect(d).toBe(2);
    expect(s).toBeCloseTo(Math.log(1 + 1e-6 * 3), 6);
  });

  it('is deterministic: the same sequence gives the same columns, whatever other entities do in between', () => {
    const xs = [3, 1, 4, 1, 5, 9, 2, 6];
    const a = state(['delta', 'spread', 'meanDev']);
    const b = state(['delta', 'spread', 'meanDev']);
    const ra = xs.map((x) => a.push('e', x));
    const rb = xs.map((x, i) => {
      b.push(`other-${i}`, x * 7);
      return b.push('e', x);
    });
    expect(rb).toEqual(ra);
  });
});

describe('TemporalState bounds', () => {
  it('holds at most maxEntities, evicting the least recently seen, which then starts cold', () => {
    const t = state(['delta'], 3, 3);
    t.push('a', 1);
    t.push('b', 1);
    t.push('c', 1);
    t.push('a', 2); // a is now the most recently seen; b is the oldest
    t.push('d', 1);
    expect(t.s.size).toBe(3);
    expect(t.s.evicted).toBe(1);
    expect(t.push('a', 5)).toEqual([3]); // kept
    expect(t.push('c', 4)).toEqual([3]); // kept
    expect(t.push('b', 9)).toEqual([Number.NaN]); // evicted: cold again (and d goes to make room)
    expect(t.s.evicted).toBe(2);
    expect(t.s.size).toBe(3);
  });

  it('streams more entities than the limit without growing past it', () => {
    const t = state(['delta', 'spread'], 4, 100);
    for (let i = 0; i < 10_000; i++) t.push(`e${i % 1000}`, i);
    expect(t.s.size).toBe(100);
    expect(t.s.evicted).toBe(10_000 - 100);
  });

  it('forgets the entities last read from a lost stream, and only those', () => {
    const t = state(['delta']);
    t.push('a', 1, 'topic:0');
    t.push('b', 1, 'topic:1');
    t.push('c', 1, 'topic:0');
    expect(t.s.forgetStream('topic:0')).toBe(2);
    expect(t.s.size).toBe(1);
    expect(t.s.evicted).toBe(0);
    expect(t.push('a', 4, 'topic:0')).toEqual([Number.NaN]);
    expect(t.push('b', 4, 'topic:1')).toEqual([3]);
  });
});

describe('temporal features in the feature mapping', () => {
  it('auto: on with an entity key and an event time, appending columns per numeric feature', () => {
    const x = compileFeatures(mapping());
    expect(x.featureNames).toEqual([
      'a',
      's=X',
      's=Y',
      's=__other__',
      'b',
      'a:delta',
      'a:log_spread',
      'b:delta',
      'b:log_spread',
    ]);
    expect(x.spec.temporal).toEqual({ window: 8, derive: ['delta', 'spread'] });
    expect(x.temporal?.maxEntities).toBe(50_000);
  });

  it('auto: off without an event time, or when disabled; then the columns and fingerprint are the row alone', () => {
    const noTime = compileFeatures(mapping({}, false));
    expect(noTime.width).toBe(5);
    expect(noTime.temporal).toBeUndefined();
    const off = compileFeatures(mapping({ enabled: false }));
    expect(off.width).toBe(5);
    expect(off.fingerprint).not.toBe(compileFeatures(mapping()).fingerprint);
    expect(compileFeatures(mapping({}, false)).forgetStream('t:0')).toBe(0);
  });

  it('the fingerprint covers window and derivations, not the memory bound', () => {
    const fp = (t: Record<string, unknown>) => compileFeatures(mapping(t)).fingerprint;
    expect(fp({ window: 12 })).not.toBe(fp({}));
    expect(fp({ derive: ['delta'] })).not.toBe(fp({}));
    expect(fp({ maxEntities: 7 })).toBe(fp({}));
  });

  it('gap adds one column named after the event time, from the records’ own times', () => {
    const x = compileFeatures(mapping({ derive: ['delta', 'gap'] }));
    expect(x.featureNames.slice(5)).toEqual(['a:delta', 'b:delta', 't:log_gap', 't:log_span']);
    const row = new Float32Array(x.width);
    x.extractInto({ id: 'd1', t: 5_000, a: 1, s: 'X', b: 1 }, row, 0);
    expect(row[7]).toBeNaN();
    x.extractInto({ id: 'd1', t: 35_000, a: 1, s: 'X', b: 1 }, row, 0);
    expect(row[7]).toBeCloseTo(Math.log1p(30), 5);
  });

  it('novel is 1 for a categorical value the entity has not had in its last window records, 0 for one it has', () => {
    const x = compileFeatures(mapping({ derive: ['novel'], window: 2 }));
    expect(x.featureNames.slice(5)).toEqual(['s:novel']);
    const row = new Float32Array(x.width);
    const novel = (id: string, s: string | null) => {
      x.extractInto({ id, t: 0, a: 1, s, b: 1 }, row, 0);
      return row[5];
    };
    expect(novel('d1', 'X')).toBeNaN(); // nothing to compare with yet
    expect(novel('d1', 'X')).toBe(0);
    expect(novel('d1', 'Y')).toBe(1);
    expect(novel('d2', 'Y')).toBeNaN(); // another entity's history
    expect(novel('d1', 'X')).toBe(0); // X is still among d1's last two (X, Y)
    expect(novel('d1', 'Z')).toBe(1); // an unknown category is still a value of its own
    expect(novel('d1', 'Y')).toBe(1); // the window (X, Z) has forgotten Y
    // A record that fails (s is required) does not join the history: Z is still the latest.
    expect(x.extractInto({ id: 'd1', t: 0, a: 1, s: null, b: 1 }, row, 0).ok).toBe(false);
    expect(novel('d1', 'Z')).toBe(0);
  });

  it('novel is missing (NaN) for a record without the value, which does not join the history', () => {
    const x = compileFeatures({
      entityKey: 'id',
      eventTime: { path: 't', unit: 'millis' },
      temporal: { derive: ['novel'] },
      fields: [
        { kind: 'numeric', path: 'a' },
        { kind: 'hashed', path: 'c', buckets: 4, missing: 'flag' },
      ],
    });
    const row = new Float32Array(x.width);
    const novel = (c: string | null) => {
      expect(x.extractInto({ id: 'd', t: 0, a: 1, c }, row, 0).ok).toBe(true);
      return row[x.featureNames.indexOf('c:novel')];
    };
    novel('FR');
    expect(novel(null)).toBeNaN();
    expect(novel('FR')).toBe(0);
    expect(novel('JP')).toBe(1);
  });

  it('gap without an event time is refused at validation', () => {
    const r = FeaturesSchema.safeParse({ ...mapping({ derive: ['gap'] }, false) });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['temporal', 'derive']);
  });

  it('enabled: true without an entity key is refused at validation, naming the key', () => {
    const r = FeaturesSchema.safeParse({
      temporal: { enabled: true },
      fields: [{ kind: 'numeric', path: 'a' }],
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['temporal', 'enabled']);
  });

  it('extractInto follows each entity through the record stream; a failed record does not join the history', () => {
    const x = compileFeatures(mapping({ window: 2 }));
    const row = new Float32Array(x.width);
    const col = (n: string) => row[x.featureNames.indexOf(n)]!;
    expect(x.extractInto({ id: 'd1', t: 0, a: 10, s: 'X', b: 1 }, row, 0, 'p:0').ok).toBe(true);
    expect(Number.isNaN(col('a:delta'))).toBe(true);
    // Missing a (fail policy): dead-lettered, and the history of d1 is unchanged.
    expect(x.extractInto({ id: 'd1', t: 1, a: null, s: 'X', b: 1 }, row, 0, 'p:0').ok).toBe(false);
    expect(x.extractInto({ id: 'd1', t: 2, a: 13, s: 'Y', b: null }, row, 0, 'p:0').ok).toBe(true);
    expect(col('a:delta')).toBe(3);
    expect(col('a:log_spread')).toBeCloseTo(Math.log(1.5 + 1e-6 * 12.5), 5);
    // b was missing: NaN (the scaler's median), not a delta from a made-up value.
    expect(Number.isNaN(col('b:delta'))).toBe(true);
    expect(x.temporal?.size).toBe(1);
    expect(x.forgetStream('p:0')).toBe(1);
    expect(x.temporal?.size).toBe(0);
  });
});
