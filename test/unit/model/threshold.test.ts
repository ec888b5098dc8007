import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { Rng } from '../../../model/rng.js';
import {
  AdaptiveThreshold,
  atFixedThreshold,
  atQuantile,
  CompiledThresholds,
  calibrate,
  cdf,
  fitDistribution,
  fitTail,
  inverseCdf,
  severity,
} from '../../../model/threshold.js';

/** Scores shaped like reconstruction errors: log-normal (right-skewed, heavy-ish tail). */
function logNormalScores(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => scale * Math.exp(0.8 * rng.normal() - 3));
}

function fpr(scores: Float32Array, threshold: number): number {
  let k = 0;
  for (const s of scores) if (s > threshold) k++;
  return k / scores.length;
}

describe('calibrate', () => {
  it('meets its target false-positive rate on fresh normal scores', () => {
    const fresh = logNormalScores(200_000, 2);
    for (const targetFpr of [0.05, 0.01, 0.001]) {
      const cal = calibrate(logNormalScores(5_000, 1), { targetFpr });
      const observed = fpr(fresh, cal.threshold);
      // 5,000 calibration scores: the sampling error of the quantile dominates; ±35 % relative is ≈ 3σ at 0.1 %.
      expect(observed).toBeGreaterThan(targetFpr * 0.65);
      expect(observed).toBeLessThan(targetFpr * 1.35);
    }
  });

  it('extrapolates beyond the calibration data with the fitted tail', () => {
    // 1,000 scores hold one point above the 0.999 quantile: the threshold there comes from the GPD.
    const cal = calibrate(logNormalScores(1_000, 3), { quantile: 0.999 });
    const observed = fpr(logNormalScores(500_000, 4), cal.threshold);
    expect(observed).toBeGreaterThan(0.0002);
    expect(observed).toBeLessThan(0.003);
  });

  it('puts severity at the threshold equal to the quantile', () => {
    const cal = calibrate(logNormalScores(3_000, 5), { quantile: 0.98 });
    expect(severity(cal.distribution, cal.threshold)).toBeCloseTo(0.98, 6);
  });

  it('refuses contradictory or out-of-range settings', () => {
    const scores = logNormalScores(100, 1);
    for (const opts of [
      { quantile: 0.9, targetFpr: 0.1 },
      { quantile: 1 },
      { targetFpr: 0 },
      { minTailSamples: 0 },
    ]) {
      let err: unknown;
      try {
        calibrate(scores, opts);
      } catch (e) {
        err = e;
      }
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    }
  });

  it('gives entities with enough scores their own threshold and the rest the global one', () => {
    const quiet = logNormalScores(1_000, 6, 1);
    const noisy = logNormalScores(1_000, 7, 10);
    const rare = logNormalScores(50, 8, 100);
    const scores = Float32Array.from([...quiet, ...noisy, ...rare]);
    const entities = [
      ...Array.from(quiet, () => 'quiet'),
      ...Array.from(noisy, () => 'noisy'),
      ...Array.from(rare, () => 'rare'),
    ];
    const cal = calibrate(scores, { quantile: 0.99, perEntity: true, minEntitySamples: 200 }, entities);
    expect(Object.keys(cal.perEntity).sort()).toEqual(['noisy', 'quiet']);
    expect(cal.perEntity.noisy!.threshold / cal.perEntity.quiet!.threshold).toBeGreaterThan(5);

    const compiled = new CompiledThresholds(cal);
    const s = Float32Array.from([0.5, 0.5, 0.5]);
    const thr = new Float32Array(3);
    const sev = new Float32Array(3);
    const flag = new Uint8Array(3);
    compiled.apply(s, 3, ['quiet', 'noisy', 'rare'], 1, thr, sev, flag);
    expect(thr[0]).toBeCloseTo(cal.perEntity.quiet!.threshold, 5);
    expect(thr[1]).toBeCloseTo(cal.perEntity.noisy!.threshold, 5);
    expect(thr[2]).toBeCloseTo(cal.threshold, 5);
    expect(Array.from(flag)).toEqual([1, 0, s[2]! > cal.threshold ? 1 : 0]);
  });
});

describe('moving the operating point', () => {
  const scores = Float32Array.from([...logNormalScores(1_000, 20), ...logNormalScores(1_000, 21, 10)]);
  const entities = Array.from(scores, (_, i) => (i < 1_000 ? 'a' : 'b'));
  const cal = calibrate(scores, { quantile: 0.99, perEntity: true }, entities);

  it('atQuantile re-derives every threshold from the stored distributions', () => {
    const moved = atQuantile(cal, 0.9);
    expect(moved.threshold).toBeLessThan(cal.threshold);
    expect(severity(moved.distribution, moved.threshold)).toBeCloseTo(0.9, 6);
    expect(moved.perEntity.b!.threshold).toBeCloseTo(inverseCdf(cal.perEntity.b!.distribution, 0.9), 9);
    expect(fpr(scores.subarray(0, 1_000), moved.perEntity.a!.threshold)).toBeCloseTo(0.1, 1);
  });

  it('atFixedThreshold uses one value everywhere and refuses nonsense', () => {
    const fixed = atFixedThreshold(cal, 0.5);
    expect(fixed.threshold).toBe(0.5);
    expect(Object.values(fixed.perEntity).map((e) => e.threshold)).toEqual([0.5, 0.5]);
    expect(fixed.quantile).toBeCloseTo(cdf(cal.distribution, 0.5), 9);
    expect(() => atFixedThreshold(cal, -1)).toThrow(/fixed threshold/);
  });
});

describe('severity', () => {
  it('is continuous, monotonic and stays in [0, 1] far beyond the data', () => {
    const dist = fitDistribution(logNormalScores(2_000, 9));
    const q = inverseCdf(dist, 0.9999);
    // Fine steps through body and tail: no jumps anywhere (the empirical CDF would jump 1/2000 per point,
    // a step function of the knots by up to 1/128).
    let prev = 0;
    let maxJump = 0;
    for (let i = 0; i <= 20_000; i++) {
      const v = severity(dist, (2 * q * i) / 20_000);
      expect(v).toBeGreaterThanOrEqual(prev);
      maxJump = Math.max(maxJump, v - prev);
      prev = v;
    }
    expect(maxJump).toBeLessThan(0.005);
    // Coarse steps far beyond: still monotonic, still ≤ 1.
    for (let i = 1; i <= 100; i++) {
      const v = severity(dist, q * i * 10);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeLessThanOrEqual(1);
      prev = v;
    }
    // Strictly increasing in the tail, where thresholds live.
    const u = dist.tail.u;
    expect(cdf(dist, u * 2)).toBeLessThan(cdf(dist, u * 3));
    expect(cdf(dist, u * 3)).toBeLessThan(1);
  });

  it('inverts: inverseCdf(cdf(s)) ≈ s across body and tail', () => {
    const dist = fitDistribution(logNormalScores(2_000, 10));
    for (const q of [0.1, 0.5, 0.9, 0.99, 0.999, 0.99999]) {
      expect(cdf(dist, inverseCdf(dist, q))).toBeCloseTo(q, 6);
    }
  });

  it('stays monotonic for degenerate calibration scores (all equal)', () => {
    const dist = fitDistribution(new Float32Array(500).fill(0.25));
    expect(severity(dist, 0.25)).toBeLessThan(severity(dist, 0.3));
    expect(severity(dist, 0.3)).toBeLessThan(severity(dist, 1));
  });
});

describe('fitTail', () => {
  it('recovers an exponential tail (ξ ≈ 0) and a heavy one (ξ ≈ 0.5)', () => {
    const rng = new Rng(11);
    const expo = Float64Array.from({ length: 20_000 }, () => -2 * Math.log(1 - rng.next())).sort();
    const e = fitTail(expo);
    expect(e.xi).toBeLessThan(0.05);
    expect(e.sigma).toBeCloseTo(2, 0);
    // GPD(σ = 1, ξ = 0.5) by inversion: y = σ((1 − u)^−ξ − 1)/ξ.
    const heavy = Float64Array.from({ length: 20_000 }, () => ((1 - rng.next()) ** -0.5 - 1) / 0.5).sort();
    const h = fitTail(heavy);
    expect(h.xi).toBeGreaterThan(0.4);
    expect(h.xi).toBeLessThan(0.6);
  });
});

describe('AdaptiveThreshold', () => {
  const cal = calibrate(logNormalScores(5_000, 12), { quantile: 0.99 });
  const flagsFor = (scores: Float32Array, factor: number): Uint8Array =>
    Uint8Array.from(scores, (s) => (s > cal.threshold * factor ? 1 : 0));

  it('stays near 1 on a stationary stream', () => {
    const a = new AdaptiveThreshold(cal, { halfLifeRows: 5_000 });
    for (let b = 0; b < 50; b++) {
      const s = logNormalScores(1_000, 100 + b);
      a.update(s, flagsFor(s, a.factor), s.length);
    }
    expect(a.factor).toBeGreaterThan(0.9);
    expect(a.factor).toBeLessThan(1.1);
  });

  it('follows a slow rise in the level of normal scores', () => {
    const a = new AdaptiveThreshold(cal, { halfLifeRows: 5_000 });
    for (let b = 0; b < 100; b++) {
      const level = 1 + b / 100; // drifts to 2× over 100k rows
      const s = logNormalScores(1_000, 200 + b, level);
      a.update(s, flagsFor(s, a.factor), s.length);
    }
    expect(a.factor).toBeGreaterThan(1.6);
    expect(a.factor).toBeLessThan(2.2);
  });

  it('never learns from flagged rows, however many arrive', () => {
    const a = new AdaptiveThreshold(cal, { halfLifeRows: 1_000 });
    for (let b = 0; b < 50; b++) {
      const s = new Float32Array(1_000).fill(cal.threshold * 50);
      a.update(s, new Uint8Array(1_000).fill(1), s.length);
    }
    expect(a.factor).toBe(1);
    expect(a.rows).toBe(0);
  });
});
