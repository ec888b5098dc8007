import { describe, expect, it } from 'vitest';
import { checkDrift, DEFAULT_DRIFT_THRESHOLDS } from '../../../../model/drift/drift-check.js';
import { Rng } from '../../../../model/rng.js';
import { summarise } from '../../../../model/summary.js';
import { calibrate } from '../../../../model/threshold.js';

function normalRows(n: number, d: number, seed: number, shift: number[] = []): Float32Array {
  const rng = new Rng(seed);
  const rows = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) rows[i * d + j] = 10 * j + rng.normal() + (shift[j] ?? 0);
  return rows;
}

function scores(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => scale * rng.normal() ** 2);
}

describe('checkDrift', () => {
  const d = 4;
  const names = ['a', 'b', 'c', 'd'];
  const reference = {
    summary: summarise(normalRows(20_000, d, 1), 20_000, d, names),
    scores: calibrate(scores(5000, 2), { quantile: 0.99 }).distribution,
    threshold: calibrate(scores(5000, 2), { quantile: 0.99 }).threshold,
  };

  it('reports no drift for fresh data of the same distribution', () => {
    const r = checkDrift(reference, { rows: normalRows(5000, d, 3), n: 5000, d, scores: scores(5000, 4) });
    expect(r.insufficient).toBe(false);
    expect(r.drifted).toBe(false);
    expect(r.max.psi).toBeLessThan(0.05);
    expect(r.max.ks).toBeLessThan(0.05);
    expect(r.score.ks).toBeLessThan(0.05);
  });

  it('names the feature that moved, and says drift once PSI crosses 0.2', () => {
    const r = checkDrift(reference, {
      rows: normalRows(5000, d, 3, [0, 0, 1]),
      n: 5000,
      d,
      scores: scores(5000, 4),
    });
    expect(r.drifted).toBe(true);
    expect(r.worst).toEqual({ psi: 'c', ks: 'c', wasserstein: 'c' });
    expect(r.over.psi).toBe(1);
    // A 1 σ mean shift: KS D = Φ(0.5) − Φ(−0.5) ≈ 0.383, W₁ = 1 σ.
    expect(r.max.ks).toBeGreaterThan(0.33);
    expect(r.max.ks).toBeLessThan(0.43);
    expect(r.max.wasserstein).toBeGreaterThan(0.85);
    expect(r.max.wasserstein).toBeLessThan(1.15);
    expect(r.reasons[0]).toMatch(/1 feature\(s\) over psi 0.2 \(worst c/);
  });

  it('reports a score shift on its own', () => {
    const r = checkDrift(reference, { rows: normalRows(5000, d, 3), n: 5000, d, scores: scores(5000, 4, 3) });
    expect(r.drifted).toBe(true);
    expect(r.reasons).toEqual([expect.stringMatching(/score distribution KS/)]);
    expect(r.score.medianRatio).toBeGreaterThan(2);
    expect(r.score.overThreshold).toBeGreaterThan(0.1);
  });

  it('says insufficient below minRows', () => {
    const r = checkDrift(reference, {
      rows: normalRows(100, d, 3, [5, 5, 5, 5]),
      n: 100,
      d,
      scores: new Float32Array(0),
    });
    expect(r.insufficient).toBe(true);
    expect(r.drifted).toBe(false);
    expect(DEFAULT_DRIFT_THRESHOLDS.minRows).toBeGreaterThan(100);
  });
});
