import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { fitRobustScaler, quantileSorted, Scaler } from '../../../model/preprocess.js';
import { summarise } from '../../../model/summary.js';

describe('fitRobustScaler', () => {
  it('centres on the median and scales by IQR/1.349, unmoved by a few huge values', () => {
    // Column 0: 1..100 plus two absurd values. Column 1: constant 5 (zero IQR and zero std).
    const n = 102;
    const rows = new Float32Array(n * 2);
    for (let i = 0; i < 100; i++) {
      rows[i * 2] = i + 1;
      rows[i * 2 + 1] = 5;
    }
    rows[200] = 1e9;
    rows[201] = 5;
    rows[202] = -1e9;
    rows[203] = 5;
    const p = fitRobustScaler(rows, n, 2);
    expect(p.center[0]).toBeCloseTo(50.5, 4);
    expect(p.scale[0]).toBeCloseTo((76.25 - 25.75) / 1.349, 1);
    expect(p.center[1]).toBe(5);
    expect(p.scale[1]).toBe(1);
  });

  it('falls back to the standard deviation when the IQR is zero but the feature moves', () => {
    // 90 % zeros, 10 % twos: IQR 0, std ≈ 0.6.
    const rows = Float32Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 2 : 0));
    const p = fitRobustScaler(rows, 1000, 1);
    expect(p.center[0]).toBe(0);
    expect(p.scale[0]).toBeGreaterThan(0.59);
    expect(p.scale[0]).toBeLessThan(0.61);
  });

  it('keeps unit scale for an indicator (only 0 and 1) whose IQR is zero', () => {
    // A category in 1 % of rows: its std (≈ 0.1) would make a 1 ten scaled units.
    const rows = Float32Array.from({ length: 2000 }, (_, i) => {
      const j = Math.floor(i / 2);
      return i % 2 === 0 ? (j % 100 === 0 ? 1 : 0) : j % 100 === 0 ? 1 : 0.5;
    });
    const p = fitRobustScaler(rows, 1000, 2);
    expect(p.scale[0]).toBe(1);
    // Column 1 has 0.5s as well: not an indicator, so the standard deviation applies.
    expect(p.scale[1]).toBeLessThan(1);
    expect(p.scale[1]).not.toBe(1);
  });

  it('refuses a bad clip and short buffers', () => {
    expect(() => fitRobustScaler(new Float32Array(4), 2, 2, { clip: 0 })).toThrow(/clip/);
    let err: unknown;
    try {
      fitRobustScaler(new Float32Array(3), 2, 2);
    } catch (e) {
      err = e;
    }
    expect(isVigilError(err, 'INPUT_INVALID')).toBe(true);
  });
});

describe('Scaler', () => {
  const scaler = new Scaler({ kind: 'robust', center: [1000, 0], scale: [50, 2], clip: 10 });

  it('scales, clips to ±clip and maps non-finite values to the median', () => {
    const out = scaler.transform(
      Float32Array.from([1100, 1, 1e12, -1e12, Number.NaN, Number.POSITIVE_INFINITY]),
      3,
    );
    expect(Array.from(out)).toEqual([2, 0.5, 10, -10, 0, 10]);
  });

  it('inverts to input units', () => {
    const rows = Float32Array.from([975, -3, 1210.5, 7]);
    const back = scaler.inverseInPlace(scaler.transform(rows, 2), 2);
    for (let i = 0; i < rows.length; i++) expect(back[i]).toBeCloseTo(rows[i]!, 3);
  });

  it('reads rows at an offset', () => {
    const rows = Float32Array.from([0, 0, 1050, 4]);
    const out = new Float32Array(2);
    scaler.transformInto(rows, 1, out, 1);
    expect(Array.from(out)).toEqual([1, 2]);
  });

  it('refuses a zero scale', () => {
    expect(() => new Scaler({ kind: 'robust', center: [0], scale: [0], clip: 10 })).toThrow(/scale/);
  });
});

describe('summarise', () => {
  it('reports per-feature moments and quantiles in input units', () => {
    const n = 1001;
    const rows = Float32Array.from({ length: n }, (_, i) => i);
    const s = summarise(rows, n, 1, ['x']);
    const f = s.features[0]!;
    expect(s.n).toBe(n);
    expect(f.name).toBe('x');
    expect(f.mean).toBeCloseTo(500, 6);
    expect(f.min).toBe(0);
    expect(f.max).toBe(1000);
    expect(f.quantiles[s.quantileLevels.indexOf(0.5)]).toBe(500);
    expect(f.quantiles[s.quantileLevels.indexOf(0.99)]).toBeCloseTo(990, 6);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
  });
});
