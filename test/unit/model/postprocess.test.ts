import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import {
  logNormalTail,
  postprocessSeries,
  ScorePostprocessor,
  WARMUP_SCORE,
} from '../../../model/postprocess.js';
import { Rng } from '../../../model/rng.js';

describe('logNormalTail', () => {
  it('matches ln Q(z) from Python math.erfc, far into the tail', () => {
    // Python: math.log(0.5 * math.erfc(z / math.sqrt(2))).
    const cases: [number, number][] = [
      [0, -Math.LN2],
      [1.6448536269514722, -2.9957322735539895],
      [5, -15.064998393988724],
      [10, -53.23128515051246],
      [-3, -0.0013508099647482027],
      [38, -726.5572160219617],
    ];
    for (const [z, expected] of cases) {
      expect(Math.abs(logNormalTail(z) - expected)).toBeLessThan(2e-7 * Math.max(1, Math.abs(expected)));
    }
  });
});

describe('ScorePostprocessor', () => {
  it('smooths each entity causally with its own EWMA (hand-worked, half-life 2)', () => {
    // α = 1 − 2^(−1/2) = 0.2928932188134524; seeded with the first score.
    const p = new ScorePostprocessor({ ewmaHalfLife: 2, maxEntities: 10 });
    const out = p.process([1, 10, 1, 10, 5, 10, 1, 10], 8, ['a', 'b', 'a', 'b', 'a', 'b', 'a', 'b']);
    expect(out[0]).toBe(1);
    expect(out[2]).toBe(1);
    expect(out[4]).toBeCloseTo(2.1715728752538097, 6);
    expect(out[6]).toBeCloseTo(1.82842712474619, 6);
    for (const i of [1, 3, 5, 7]) expect(out[i]).toBe(10);
  });

  it('gives the same output streamed in batches as in one piece', () => {
    const rng = new Rng(1);
    const n = 5_000;
    const scores = Float64Array.from({ length: n }, () => Math.exp(rng.normal()));
    const entities = Array.from({ length: n }, () => `e${Math.floor(rng.next() * 7)}`);
    const settings = { ewmaHalfLife: 5, likelihood: { halfLife: 500, warmup: 50 }, maxEntities: 100 };
    const whole = postprocessSeries(scores, settings, entities);
    const p = new ScorePostprocessor(settings);
    const parts: number[] = [];
    for (let s = 0; s < n; s += 333) {
      const k = Math.min(333, n - s);
      parts.push(...p.process(scores.subarray(s, s + k), k, entities.slice(s, s + k), new Float64Array(k)));
    }
    expect(parts).toEqual(Array.from(whole));
  });

  it('turns a sustained level shift into a high likelihood score, and stays low on stationary scores', () => {
    const rng = new Rng(2);
    const n = 3_000;
    const scores = Float64Array.from({ length: n }, (_, i) => 1 + 0.1 * rng.normal() + (i >= 2_500 ? 1 : 0));
    const out = postprocessSeries(scores, {
      ewmaHalfLife: 3,
      likelihood: { halfLife: 1_000, warmup: 100 },
      maxEntities: 1,
    });
    for (let i = 0; i < 100; i++) expect(out[i]).toBe(WARMUP_SCORE);
    const before = Array.from(out.subarray(500, 2_500));
    // −log10 p of a stationary Gaussian: p < 1e-4 about once in 10,000 smoothed records.
    expect(before.filter((v) => v > 4).length).toBeLessThan(5);
    expect(Math.max(...out.subarray(2_500, 2_520))).toBeGreaterThan(8);
  });

  it('holds at most maxEntities, evicting the least recently seen and counting it', () => {
    const p = new ScorePostprocessor({ ewmaHalfLife: 4, maxEntities: 3 });
    p.process([1, 2, 3], 3, ['a', 'b', 'c']);
    p.process([1], 1, ['a']); // a is now the most recent; b the least
    p.process([9], 1, ['d']);
    expect(p.entitiesHeld).toBe(3);
    expect(p.evictions).toBe(1);
    // b was evicted: it starts afresh (seeded with its new score); a kept its history.
    const out = p.process([100, 100], 2, ['b', 'a']);
    expect(out[0]).toBe(100);
    expect(out[1]).toBeLessThan(100);
    expect(p.evictions).toBe(2);
    // Many more entities than the limit: the state never grows past it.
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
    p.process(new Float64Array(10_000).fill(1), 10_000, keys);
    expect(p.entitiesHeld).toBe(3);
    expect(p.evictions).toBe(2 + 10_000);
  });

  it('passes NaN through without poisoning the entity', () => {
    const p = new ScorePostprocessor({ ewmaHalfLife: 2, maxEntities: 2 });
    const out = p.process([1, Number.NaN, 1], 3, ['a', 'a', 'a']);
    expect(Number.isNaN(out[1]!)).toBe(true);
    expect(out[2]).toBe(1);
  });

  it('refuses settings that mean nothing', () => {
    for (const s of [
      { ewmaHalfLife: -1, maxEntities: 1 },
      { maxEntities: 0 },
      { likelihood: { halfLife: 0, warmup: 10 }, maxEntities: 1 },
      { likelihood: { halfLife: 100, warmup: 1 }, maxEntities: 1 },
    ]) {
      let err: unknown;
      try {
        new ScorePostprocessor(s);
      } catch (e) {
        err = e;
      }
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    }
  });
});
