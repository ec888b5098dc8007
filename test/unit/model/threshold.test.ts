import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { Rng } from '../../../model/rng.js';
import {
  AdaptiveThreshold,
  atFalseAlarmRate,
  atFixedThreshold,
  atQuantile,
  CompiledThresholds,
  calibrate,
  cdf,
  DEFAULT_FALSE_ALARM_RATE,
  falseAlarmRateOf,
  fitDistribution,
  fitTail,
  inverseCdf,
  MIN_GPD_EXCESSES,
  SEVERITY_DECADES,
  severity,
  tailProbability,
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

/** Squared reconstruction errors of a well-fitted model look like a scaled χ² with a few degrees of freedom. */
function chiSquareScores(n: number, seed: number, dof = 8): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => {
    let acc = 0;
    for (let k = 0; k < dof; k++) {
      const z = rng.normal();
      acc += z * z;
    }
    return acc / dof;
  });
}

function flaggedShare(scores: ArrayLike<number>, threshold: number): number {
  let k = 0;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > threshold) k++;
  return k / scores.length;
}

describe('the default operating point: a false-alarm rate from the fitted tail', () => {
  it('holds the configured rate within 2× on fresh normal data of the same process', () => {
    // 100,000 calibration scores put 2,000 excesses over the tail's start; 1e-4 is 200× beyond it, far past
    // what an empirical quantile of the calibration set could resolve (10 scores above it).
    for (const [name, gen] of [
      ['chi-square', chiSquareScores],
      ['log-normal', logNormalScores],
    ] as const) {
      for (const seed of [1, 2, 3]) {
        const cal = calibrate(gen(100_000, seed));
        expect(cal.falseAlarmRate).toBe(DEFAULT_FALSE_ALARM_RATE);
        expect(cal.quantile).toBeCloseTo(1 - 1e-4, 12);
        // χ² excesses are exponential (the shape test keeps ξ = 0); log-normal ones are heavier (ξ > 0).
        if (name === 'log-normal') expect(cal.distribution.tail.fit).toBe('gpd');
        const share = flaggedShare(gen(1_000_000, 100 + seed), cal.threshold);
        expect(share, `${name} seed ${seed}`).toBeGreaterThan(0.5e-4);
        expect(share, `${name} seed ${seed}`).toBeLessThan(2e-4);
      }
    }
  });

  it('starts the tail at the 0.98 quantile and reads the rate back', () => {
    const cal = calibrate(chiSquareScores(20_000, 4), { falseAlarmRate: 1e-3 });
    expect(cal.distribution.tail.pU).toBeCloseTo(0.02, 12);
    expect(falseAlarmRateOf(cal)).toBe(1e-3);
    expect(tailProbability(cal.distribution, cal.threshold)).toBeCloseTo(1e-3, 9);
    // targetFpr is the same setting under its older name.
    expect(calibrate(chiSquareScores(20_000, 4), { targetFpr: 1e-3 }).threshold).toBe(cal.threshold);
    // A quantile calibration carries no rate of its own: its rate is 1 − quantile.
    expect(falseAlarmRateOf(calibrate(chiSquareScores(2_000, 4), { quantile: 0.99 }))).toBeCloseTo(0.01, 12);
  });

  it('moves to another rate without refitting', () => {
    const cal = calibrate(chiSquareScores(20_000, 5));
    const looser = atFalseAlarmRate(cal, 1e-2);
    expect(looser.threshold).toBeLessThan(cal.threshold);
    expect(looser.falseAlarmRate).toBe(1e-2);
    expect(looser.distribution).toBe(cal.distribution);
    expect(() => atFalseAlarmRate(cal, 0)).toThrow(/false-alarm rate/);
  });

  it('falls back to an exponential tail when too few excesses remain for a GPD fit', () => {
    const few = chiSquareScores(MIN_GPD_EXCESSES * 2 - 2, 6);
    const cal = calibrate(few);
    expect(cal.distribution.tail.fit).toBe('exponential');
    expect(cal.distribution.tail.xi).toBe(0);
    expect(Number.isFinite(cal.threshold)).toBe(true);
    // 18 scores cannot support 1e-4: the rate in force is 1/18 (see the small-set tests below).
    expect(cal.threshold).toBeGreaterThan(cal.distribution.tail.u);
    expect(calibrate(few, { falseAlarmRate: 1 / few.length }).threshold).toBe(cal.threshold);
    // No spread at all above the tail's start: a small exponential tail keeps the threshold finite and above.
    const flat = calibrate(new Float64Array(500).fill(0.25));
    expect(flat.distribution.tail.fit).toBe('constant');
    expect(flat.threshold).toBeGreaterThan(0.25);
    expect(Number.isFinite(flat.threshold)).toBe(true);
  });
});

describe('small calibration sets: the rate in force is never below 1/n', () => {
  it('flags a sensible share of fresh normal rows where 1e-4 would flag none', () => {
    // NAB's size: 150 held-out scores. 1e-4 is 67× beyond them; the rate in force is 1/150.
    for (const seed of [1, 2, 3]) {
      const few = logNormalScores(150, seed);
      const cal = calibrate(few);
      expect(cal.requestedFalseAlarmRate).toBe(DEFAULT_FALSE_ALARM_RATE);
      expect(cal.falseAlarmRate).toBeCloseTo(1 / 150, 12);
      expect(falseAlarmRateOf(cal)).toBeCloseTo(1 / 150, 12);
      expect(tailProbability(cal.distribution, cal.threshold)).toBeCloseTo(1 / 150, 9);
      const fresh = logNormalScores(200_000, 200 + seed);
      const share = flaggedShare(fresh, cal.threshold);
      // About one in 150, with the spread of a tail fitted to 50 excesses: within 3× either way.
      expect(share, `seed ${seed}`).toBeGreaterThan(1 / 450);
      expect(share, `seed ${seed}`).toBeLessThan(3 / 150);
      // What the unguarded extrapolation gives: the fitted tail's 1 − 1e-4 level, far beyond the data.
      const unguarded = inverseCdf(cal.distribution, 1 - 1e-4);
      expect(unguarded).toBeGreaterThan(cal.threshold);
      expect(flaggedShare(fresh, unguarded)).toBeLessThan(share);
    }
  });

  it('leaves a rate the calibration set supports as it is (n ≥ 1/q)', () => {
    const cal = calibrate(logNormalScores(20_000, 9));
    expect(cal.falseAlarmRate).toBe(DEFAULT_FALSE_ALARM_RATE);
    expect(cal.requestedFalseAlarmRate).toBeUndefined();
    const share = flaggedShare(logNormalScores(1_000_000, 19), cal.threshold);
    expect(share).toBeGreaterThan(0.5e-4);
    expect(share).toBeLessThan(2e-4);
  });

  it('applies the same rule when the rate is moved later, and per entity', () => {
    const cal = calibrate(logNormalScores(800, 4), { falseAlarmRate: 1e-2 });
    expect(cal.requestedFalseAlarmRate).toBeUndefined();
    const tight = atFalseAlarmRate(cal, 1e-4);
    expect(tight.falseAlarmRate).toBeCloseTo(1 / 800, 12);
    expect(tight.requestedFalseAlarmRate).toBe(1e-4);
    expect(tight.threshold).toBeCloseTo(inverseCdf(cal.distribution, 1 - 1 / 800), 9);
    // Moving to a supported rate drops the note.
    expect(atFalseAlarmRate(tight, 1e-2).requestedFalseAlarmRate).toBeUndefined();
    // Entity a has 300 scores of its own, b 5,000 (the global set 5,300): each gets the rule on its own n.
    const scores = [...logNormalScores(300, 5), ...logNormalScores(5_000, 6)];
    const entities = scores.map((_, i) => (i < 300 ? 'a' : 'b'));
    const perEntity = calibrate(scores, { perEntity: true, falseAlarmRate: 1e-3 }, entities);
    const a = perEntity.perEntity['a']!;
    const b = perEntity.perEntity['b']!;
    expect(tailProbability(a.distribution, a.threshold)).toBeCloseTo(1 / 300, 9);
    expect(tailProbability(b.distribution, b.threshold)).toBeCloseTo(1e-3, 9);
    expect(perEntity.falseAlarmRate).toBe(1e-3);
  });
});

describe('calibrations from older artifacts', () => {
  it('still judge and grade scores: a quantile, a quantile-matched tail, no fit or rate recorded', () => {
    // The shape older artifacts stored (threshold at the 0.99 quantile, ξ ∈ [0, 1], no `fit`, no rate).
    const old = {
      quantile: 0.99,
      threshold: 2,
      distribution: {
        n: 1_000,
        levels: [0, 0.5, 0.995],
        values: [0, 1, 2.5],
        tail: { u: 2.5, pU: 0.005, sigma: 0.5, xi: 0.2 },
      },
      perEntity: {},
      minEntitySamples: 200,
    };
    expect(falseAlarmRateOf(old)).toBeCloseTo(0.01, 12);
    const compiled = new CompiledThresholds(old);
    const s = Float32Array.of(1.5, 2, 2.5, 40);
    const thr = new Float32Array(4);
    const sev = new Float32Array(4);
    const flag = new Uint8Array(4);
    compiled.apply(s, 4, undefined, 1, thr, sev, flag);
    expect(Array.from(flag)).toEqual([0, 0, 1, 1]);
    expect(sev[1]).toBe(0);
    expect(sev[2]).toBeGreaterThan(0);
    expect(sev[3]).toBe(1);
    expect(atFalseAlarmRate(old, 1e-4).threshold).toBeGreaterThan(2.5);
  });
});

describe('calibrate', () => {
  it('meets its target quantile on fresh normal scores', () => {
    const fresh = logNormalScores(200_000, 2);
    for (const targetFpr of [0.05, 0.01, 0.001]) {
      const cal = calibrate(logNormalScores(5_000, 1), { quantile: 1 - targetFpr });
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

  it('puts the threshold at the quantile of the stored distribution', () => {
    const cal = calibrate(logNormalScores(3_000, 5), { quantile: 0.98 });
    expect(cdf(cal.distribution, cal.threshold)).toBeCloseTo(0.98, 6);
  });

  it('refuses contradictory or out-of-range settings', () => {
    const scores = logNormalScores(100, 1);
    for (const opts of [
      { quantile: 0.9, targetFpr: 0.1 },
      { quantile: 0.9, falseAlarmRate: 0.1 },
      { falseAlarmRate: 0.1, targetFpr: 0.01 },
      { quantile: 1 },
      { targetFpr: 0 },
      { falseAlarmRate: 0.6 },
      { tailStart: 1 },
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
    expect(cdf(moved.distribution, moved.threshold)).toBeCloseTo(0.9, 6);
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

describe('the score distribution', () => {
  it('is continuous, monotonic and stays in [0, 1] far beyond the data', () => {
    const dist = fitDistribution(logNormalScores(2_000, 9));
    const q = inverseCdf(dist, 0.9999);
    // Fine steps through body and tail: no jumps anywhere (the empirical CDF would jump 1/2000 per point,
    // a step function of the knots by up to 1/128).
    let prev = 0;
    let maxJump = 0;
    for (let i = 0; i <= 20_000; i++) {
      const v = cdf(dist, (2 * q * i) / 20_000);
      expect(v).toBeGreaterThanOrEqual(prev);
      maxJump = Math.max(maxJump, v - prev);
      prev = v;
    }
    expect(maxJump).toBeLessThan(0.005);
    for (let i = 1; i <= 100; i++) {
      const v = cdf(dist, q * i * 10);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeLessThanOrEqual(1);
      prev = v;
    }
    const u = dist.tail.u;
    expect(cdf(dist, u * 2)).toBeLessThan(cdf(dist, u * 3));
  });

  it('inverts: inverseCdf(cdf(s)) ≈ s across body and tail', () => {
    const dist = fitDistribution(logNormalScores(2_000, 10));
    for (const q of [0.1, 0.5, 0.9, 0.99, 0.999, 0.99999]) {
      expect(cdf(dist, inverseCdf(dist, q))).toBeCloseTo(q, 6);
    }
  });

  it('computes tiny tail probabilities without cancellation', () => {
    const dist = fitDistribution(chiSquareScores(20_000, 11), 0.98);
    for (const p of [1e-4, 1e-8, 1e-12]) {
      expect(tailProbability(dist, inverseCdf(dist, 1 - p)) / p).toBeCloseTo(1, 3);
    }
  });
});

describe('severity', () => {
  const cal = calibrate(chiSquareScores(20_000, 12));
  const dist = cal.distribution;
  const at = (p: number): number => inverseCdf(dist, 1 - p);

  it('is 0 at and below the threshold and rises by 1/SEVERITY_DECADES per decade of tail probability', () => {
    const q = falseAlarmRateOf(cal);
    expect(severity(dist, cal.threshold * 0.5, cal.threshold)).toBe(0);
    expect(severity(dist, cal.threshold, cal.threshold)).toBe(0);
    for (let decades = 0.5; decades < SEVERITY_DECADES; decades += 0.5) {
      expect(severity(dist, at(q / 10 ** decades), cal.threshold)).toBeCloseTo(decades / SEVERITY_DECADES, 4);
    }
    expect(severity(dist, at(q / 10 ** (SEVERITY_DECADES + 2)), cal.threshold)).toBe(1);
  });

  it('spreads flagged scores over [0, 1] instead of reading about 0.99 for every one of them', () => {
    const rng = new Rng(13);
    const flagged = Array.from({ length: 2_000 }, () => cal.threshold * (1 + 0.5 * rng.next()));
    const sev = flagged.map((s) => severity(dist, s, cal.threshold));
    for (const v of sev) expect(v >= 0 && v <= 1).toBe(true);
    const sorted = [...sev].sort((a, b) => a - b);
    const p10 = sorted[Math.floor(0.1 * sorted.length)]!;
    const p90 = sorted[Math.floor(0.9 * sorted.length)]!;
    expect(p10).toBeLessThan(0.2);
    expect(p90 - p10).toBeGreaterThan(0.4);
    // Monotonic in the score.
    const byScore = flagged.map((s, i) => [s, sev[i]!] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < byScore.length; i++)
      expect(byScore[i]![1]).toBeGreaterThanOrEqual(byScore[i - 1]![1]);
  });

  it('is 0 at a moved threshold too (adaptive factor, per entity)', () => {
    const compiled = new CompiledThresholds(cal);
    const s = Float32Array.of(cal.threshold * 2 * 0.999, cal.threshold * 2 * 1.5, cal.threshold);
    const thr = new Float32Array(3);
    const sev = new Float32Array(3);
    const flag = new Uint8Array(3);
    compiled.apply(s, 3, undefined, 2, thr, sev, flag);
    expect(Array.from(flag)).toEqual([0, 1, 0]);
    expect(sev[0]).toBe(0);
    expect(sev[1]).toBeCloseTo(severity(dist, cal.threshold * 1.5, cal.threshold), 6);
    expect(sev[1]).toBeGreaterThan(0);
  });

  it('stays monotonic for degenerate calibration scores (all equal)', () => {
    const flat = calibrate(new Float32Array(500).fill(0.25), { quantile: 0.99 });
    const t = flat.threshold;
    expect(severity(flat.distribution, t * 1.01, t)).toBeLessThan(severity(flat.distribution, t * 1.2, t));
    expect(severity(flat.distribution, t * 1.2, t)).toBeLessThanOrEqual(
      severity(flat.distribution, t * 4, t),
    );
  });
});

describe('fitTail', () => {
  it('recovers an exponential tail (ξ ≈ 0), a heavy one (ξ ≈ 0.5) and a bounded one (ξ ≈ −0.25) by maximum likelihood', () => {
    const rng = new Rng(11);
    const expo = Float64Array.from({ length: 20_000 }, () => -2 * Math.log(1 - rng.next())).sort();
    const e = fitTail(expo);
    expect(e.xi).toBeLessThan(0.05);
    expect(e.sigma).toBeCloseTo(2, 0);
    // GPD(σ = 1, ξ = 0.5) by inversion: y = σ((1 − u)^−ξ − 1)/ξ.
    const heavy = Float64Array.from({ length: 20_000 }, () => ((1 - rng.next()) ** -0.5 - 1) / 0.5).sort();
    const h = fitTail(heavy);
    expect(h.xi).toBeGreaterThan(0.45);
    expect(h.xi).toBeLessThan(0.55);
    expect(h.sigma).toBeCloseTo(1, 1);
    expect(h.fit).toBe('gpd');
    // GPD(σ = 2, ξ = −0.25): a finite end at σ/|ξ| = 8.
    const bounded = Float64Array.from({ length: 20_000 }, () => (2 * ((1 - rng.next()) ** 0.25 - 1)) / -0.25);
    const b = fitTail(bounded);
    expect(b.xi).toBeGreaterThan(-0.3);
    expect(b.xi).toBeLessThan(-0.2);
    expect(b.sigma).toBeCloseTo(2, 1);
  });

  it('keeps the exponential tail unless the likelihood-ratio test rejects ξ = 0', () => {
    const rng = new Rng(14);
    const expo = Float64Array.from({ length: 2_000 }, () => -3 * Math.log(1 - rng.next()));
    const e = fitTail(expo);
    expect(e.fit).toBe('exponential');
    expect(e.xi).toBe(0);
    expect(e.sigma).toBeCloseTo(expo.reduce((a, b) => a + b, 0) / expo.length, 9);
    const heavy = Float64Array.from({ length: 2_000 }, () => ((1 - rng.next()) ** -0.5 - 1) / 0.5);
    expect(fitTail(heavy).fit).toBe('gpd');
  });

  it('falls back to the exponential fit below MIN_GPD_EXCESSES excesses, and reports no spread', () => {
    const y = Float64Array.from({ length: MIN_GPD_EXCESSES - 1 }, (_, i) => i + 1);
    expect(fitTail(y)).toEqual({ sigma: MIN_GPD_EXCESSES / 2, xi: 0, fit: 'exponential' });
    expect(fitTail(new Float64Array(50)).fit).toBe('constant');
    expect(fitTail(new Float64Array(0)).fit).toBe('constant');
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
