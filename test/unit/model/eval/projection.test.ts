import { describe, expect, it } from 'vitest';
import { evenSample, latentMap } from '../../../../model/eval/latent-map.js';
import { fitPca, projectPca, symmetricEigen } from '../../../../model/eval/projection.js';
import { Rng } from '../../../../model/rng.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

describe('symmetricEigen (Jacobi)', () => {
  it('diagonalises a known matrix: [[2,1],[1,2]] has eigenvalues 3 and 1 on (1,1)/√2 and (1,−1)/√2', () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
    const order = values[0]! > values[1]! ? [0, 1] : [1, 0];
    expect(values[order[0]!]).toBeCloseTo(3, 12);
    expect(values[order[1]!]).toBeCloseTo(1, 12);
    const v0 = [vectors[order[0]!]!, vectors[2 + order[0]!]!];
    expect(Math.abs(dot(v0, [Math.SQRT1_2, Math.SQRT1_2]))).toBeCloseTo(1, 12);
  });

  it('reproduces A = V Λ Vᵀ on a random symmetric 6 × 6 matrix', () => {
    const k = 6;
    const rng = new Rng(3);
    const a = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i; j < k; j++) a[i * k + j] = a[j * k + i] = rng.normal();
    const { values, vectors: v } = symmetricEigen(a, k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += v[i * k + c]! * values[c]! * v[j * k + c]!;
        expect(s).toBeCloseTo(a[i * k + j]!, 9);
      }
    }
  });
});

describe('fitPca / projectPca', () => {
  // Rows x = m + a·u + b·w in 4-D, with u ⟂ w unit vectors, a of spread 3 and b of spread 1: the first
  // principal direction is u, the second w, the coordinates are (a − ā, b − b̄), and nothing lies off the plane.
  const u = [0.5, 0.5, 0.5, 0.5];
  const w = [0.5, -0.5, 0.5, -0.5];
  const m = [10, -2, 3, 7];
  const rng = new Rng(11);
  const n = 400;
  const a = Array.from({ length: n }, () => 3 * rng.normal());
  const b0 = Array.from({ length: n }, () => rng.normal());
  // Exactly uncorrelated in the sample (b made orthogonal to centred a), so the sample's axes are u and w.
  const aMean = a.reduce((s, x) => s + x, 0) / n;
  const ab = a.reduce((s, x, i) => s + (x - aMean) * b0[i]!, 0);
  const aa = a.reduce((s, x) => s + (x - aMean) ** 2, 0);
  const b = b0.map((x, i) => x - (ab / aa) * (a[i]! - aMean));
  const rows = new Float64Array(n * 4);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < 4; j++) rows[i * 4 + j] = m[j]! + a[i]! * u[j]! + b[i]! * w[j]!;
  const pca = fitPca(rows, n, 4, 2);

  it('finds the known directions, largest variance first, with a fixed sign', () => {
    expect(dot(pca.components[0]!, u)).toBeCloseTo(1, 9);
    expect(Math.abs(dot(pca.components[1]!, w))).toBeCloseTo(1, 9);
    // Sign rule: the largest-magnitude entry is positive (u's entries tie at 0.5; its sum is positive).
    const c1 = pca.components[1]!;
    const big = [...c1].reduce((k, x, i) => (Math.abs(x) > Math.abs(c1[k]!) ? i : k), 0);
    expect(c1[big]!).toBeGreaterThan(0);
  });

  it('reports the variances and shares of the known case (all variance on the plane)', () => {
    const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
    const variance = (v: number[]) => v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1);
    expect(pca.variances[0]).toBeCloseTo(variance(a), 8);
    expect(pca.variances[1]).toBeCloseTo(variance(b), 8);
    expect(pca.explained[0]! + pca.explained[1]!).toBeCloseTo(1, 9);
    expect(pca.explained[0]).toBeGreaterThan(0.85);
  });

  it('projects each row to its own coordinates on the plane', () => {
    const xy = projectPca(pca, rows, n);
    const s1 = Math.sign(dot(pca.components[1]!, w));
    const aBar = a.reduce((s, x) => s + x, 0) / n;
    const bBar = b.reduce((s, x) => s + x, 0) / n;
    for (const i of [0, 17, 399]) {
      expect(xy[2 * i]!).toBeCloseTo(a[i]! - aBar, 8);
      expect(xy[2 * i + 1]!).toBeCloseTo(s1 * (b[i]! - bBar), 8);
    }
  });

  it('leaves rows with a non-finite value out of the fit', () => {
    const holed = Float64Array.from(rows);
    holed[5] = Number.NaN;
    const p = fitPca(holed, n, 4, 2);
    expect(Number.isFinite(p.mean[1]!)).toBe(true);
    expect(dot(p.components[0]!, u)).toBeCloseTo(1, 3);
  });
});

describe('latentMap', () => {
  it('fits on the training codes, draws both classes apart, and samples evenly over the rows', () => {
    expect(evenSample([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5)).toEqual([0, 2, 4, 6, 8]);
    const k = 3;
    const rng = new Rng(2);
    const train = new Float32Array(300 * k);
    for (let i = 0; i < train.length; i++) train[i] = rng.normal();
    const test = new Float32Array(100 * k);
    const labels = new Uint8Array(100);
    for (let i = 0; i < 100; i++) {
      labels[i] = i % 10 === 0 ? 1 : 0;
      for (let j = 0; j < k; j++) test[i * k + j] = rng.normal() + (labels[i] === 1 ? 8 : 0);
    }
    const map = latentMap({ codes: train, n: 300 }, { codes: test, n: 100 }, k, labels, 'codes');
    expect([map.normalRows, map.anomalousRows, map.normalDrawn, map.anomalousDrawn]).toEqual([
      90, 10, 90, 10,
    ]);
    expect(map.x).toHaveLength(100);
    expect(map.method).toMatch(/^PCA .*fitted on the codes of 300 training rows/);
    // Shifted by 8 along (1,1,1): far from the origin of the plane the normal training codes span.
    const r = (i: number) => Math.hypot(map.x[i]!, map.y[i]!);
    const normalR = map.anomalous.flatMap((l, i) => (l === 0 ? [r(i)] : []));
    const anomalousR = map.anomalous.flatMap((l, i) => (l === 1 ? [r(i)] : []));
    expect(Math.min(...anomalousR)).toBeGreaterThan(normalR.reduce((s, x) => s + x, 0) / normalR.length);
  });
});
