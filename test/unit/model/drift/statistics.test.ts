// The drift statistics against values worked out by hand (and, for the two-sample forms, the examples of
// scipy.stats.ks_2samp / wasserstein_distance, whose definitions these follow).
import { describe, expect, it } from 'vitest';
import {
  knotCdf,
  knotQuantile,
  knotsFromSummary,
  ksAgainstKnots,
  ksPValue,
  ksTwoSample,
  PSI_EPSILON,
  psi,
  psiAgainstKnots,
  wassersteinAgainstKnots,
  wassersteinTwoSample,
} from '../../../../model/drift/statistics.js';
import { SUMMARY_QUANTILES } from '../../../../model/summary.js';

const sorted = (xs: number[]) => Float64Array.from(xs).sort();
// A uniform [0, 1] reference as the artifact stores it: every quantile equals its level.
const uniform = knotsFromSummary([...SUMMARY_QUANTILES], {
  min: 0,
  max: 1,
  quantiles: [...SUMMARY_QUANTILES],
});
const grid = (n: number, shift = 0) => Float64Array.from({ length: n }, (_, i) => (i + 0.5) / n + shift);

describe('psi', () => {
  it('is Σ (a − e) ln(a / e)', () => {
    // (0.25 − 0.5) ln 0.5 + (0.75 − 0.5) ln 1.5
    expect(psi([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.25 * Math.log(2) + 0.25 * Math.log(1.5), 12);
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });
  it('floors an empty bin at ε instead of going infinite', () => {
    const v = psi([0.5, 0.5], [0, 1]);
    expect(v).toBeCloseTo((PSI_EPSILON - 0.5) * Math.log(PSI_EPSILON / 0.5) + 0.5 * Math.log(2), 10);
  });
  it('over the reference quantile bins: ≈ 0 for the same distribution, the hand-counted value for a shift', () => {
    expect(psiAgainstKnots(uniform, grid(1000))).toBeLessThan(1e-3);
    // Shifted by 0.25: nothing in the four bins below 0.25, 26 % above 0.99, the middle bins as expected.
    const expected = [0.01, 0.04, 0.05, 0.15, 0.25, 0.25, 0.15, 0.05, 0.04, 0.01];
    const actual = [0, 0, 0, 0, 0.25, 0.25, 0.15, 0.05, 0.04, 0.26];
    expect(psiAgainstKnots(uniform, grid(1000, 0.25))).toBeCloseTo(psi(expected, actual), 6);
    expect(psi(expected, actual)).toBeGreaterThan(2.5);
  });
  it('merges coincident knots (a feature that is mostly one value) rather than leaving empty bins', () => {
    const k = knotsFromSummary([...SUMMARY_QUANTILES], {
      min: 0,
      max: 1,
      quantiles: [0, 0, 0, 0, 0, 0, 0, 0.5, 1],
    });
    // 90 % zeros, 5 % in (0, .5], 5 % in (.5, 1] (q99 = max = 1: nothing can lie above): exactly the reference.
    const sample = sorted([...Array(90).fill(0), 0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
    expect(psiAgainstKnots(k, sample)).toBeLessThan(1e-9);
  });
});

describe('Kolmogorov–Smirnov', () => {
  it('two-sample D as scipy.stats.ks_2samp defines it', () => {
    expect(ksTwoSample(sorted([1, 2, 3, 4]), sorted([3, 4, 5, 6]))).toBe(0.5);
    expect(ksTwoSample(sorted([1, 2, 3]), sorted([1, 2, 3]))).toBe(0);
    // At 0.3: F_a = 3/5, F_b = 0.
    expect(ksTwoSample(sorted([0.1, 0.2, 0.3, 0.4, 0.5]), sorted([0.35, 0.45, 0.55, 0.65]))).toBeCloseTo(
      0.6,
      12,
    );
  });
  it('against the reference knots: ≈ 1/(2n) for the same distribution, the shift for a shifted one', () => {
    expect(ksAgainstKnots(uniform, grid(1000))).toBeCloseTo(0.0005, 6);
    // Just below the first sample value 0.2505 the sample CDF is 0 and the reference's is 0.2505.
    expect(ksAgainstKnots(uniform, grid(1000, 0.25))).toBeCloseTo(0.2505, 9);
  });
  it('p-value: 1 for D = 0, small for a large D on large samples', () => {
    expect(ksPValue(0, 100, 100)).toBe(1);
    expect(ksPValue(0.5, 100, 100)).toBeLessThan(1e-9);
    // Kolmogorov's distribution at λ ≈ 1.36 is the 5 % point.
    expect(
      ksPValue(
        1.36 / Math.sqrt(5000) - (0.12 + 0.11 / Math.sqrt(5000)) / ((5000 * Math.sqrt(5000)) / 1.36),
        10_000,
        10_000,
      ),
    ).toBeCloseTo(0.05, 2);
  });
});

describe('Wasserstein-1', () => {
  it('two-sample, as scipy.stats.wasserstein_distance', () => {
    expect(wassersteinTwoSample(sorted([0, 1, 3]), sorted([5, 6, 8]))).toBeCloseTo(5, 12);
    expect(wassersteinTwoSample(sorted([0, 1]), sorted([0, 1]))).toBe(0);
    // b dominates a, so W is the difference of the means: 3 − 2.
    expect(wassersteinTwoSample(sorted([1, 2, 3]), sorted([1, 2, 3, 4, 5]))).toBeCloseTo(1, 12);
  });
  it('against the knots: 0 for the same distribution, the shift for a shifted one', () => {
    expect(wassersteinAgainstKnots(uniform, grid(1000))).toBeLessThan(1e-3);
    expect(wassersteinAgainstKnots(uniform, grid(1000, 0.25))).toBeCloseTo(0.25, 3);
  });
});

describe('knots', () => {
  it('CDF and quantile are inverse at and between the knots', () => {
    const k = knotsFromSummary([...SUMMARY_QUANTILES], {
      min: -10,
      max: 10,
      quantiles: [-5, -3, -2, -1, 0, 1, 2, 3, 5],
    });
    expect(knotCdf(k, 0)).toBe(0.5);
    expect(knotCdf(k, -20)).toBe(0);
    expect(knotCdf(k, 20)).toBe(1);
    expect(knotCdf(k, 0.5)).toBeCloseTo(0.625, 12);
    expect(knotQuantile(k, 0.625)).toBeCloseTo(0.5, 12);
    expect(knotQuantile(k, 0.995)).toBeCloseTo(7.5, 12);
  });
});
