/**
 * Small synthetic data for model tests (the project's generator lives in synth/; these tests stay independent
 * of it). Normal rows lie near a 3-dimensional linear subspace of R^d, so an autoencoder with a small
 * bottleneck can learn them; anomalies leave the subspace.
 */
import { Rng } from '../../../model/rng.js';

export interface Synthetic {
  readonly rows: Float32Array;
  readonly n: number;
  readonly d: number;
}

export interface Mixing {
  readonly d: number;
  readonly a: Float32Array; // d × 3
  readonly offset: Float32Array;
  readonly scale: Float32Array;
}

export function mixing(d: number, seed = 7, offset?: number[], scale?: number[]): Mixing {
  const rng = new Rng(seed);
  const a = new Float32Array(d * 3);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return {
    d,
    a,
    offset: Float32Array.from(offset ?? Array.from({ length: d }, () => 0)),
    scale: Float32Array.from(scale ?? Array.from({ length: d }, () => 1)),
  };
}

/** n normal rows: x = offset + scale · (A z + 0.05 ε), z ~ N(0, I₃). */
export function normalRows(m: Mixing, n: number, seed: number): Synthetic {
  const rng = new Rng(seed);
  const { d, a, offset, scale } = m;
  const rows = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z0 = rng.normal();
    const z1 = rng.normal();
    const z2 = rng.normal();
    for (let j = 0; j < d; j++) {
      const v = a[j * 3]! * z0 + a[j * 3 + 1]! * z1 + a[j * 3 + 2]! * z2 + 0.05 * rng.normal();
      rows[i * d + j] = offset[j]! + scale[j]! * v;
    }
  }
  return { rows, n, d };
}

/** n anomalous rows: normal rows with one or two distinct features pushed 4–6 units off the subspace. */
export function anomalousRows(m: Mixing, n: number, seed: number): Synthetic {
  const base = normalRows(m, n, seed);
  const rng = new Rng(seed ^ 0xabcdef);
  const { d } = m;
  for (let i = 0; i < n; i++) {
    const first = rng.int(d);
    const picks = rng.next() < 0.5 ? [first] : [first, (first + 1 + rng.int(d - 1)) % d];
    for (const j of picks) {
      const push = (4 + 2 * rng.next()) * (rng.next() < 0.5 ? -1 : 1);
      base.rows[i * d + j] = base.rows[i * d + j]! + push * m.scale[j]!;
    }
  }
  return base;
}

export function mean(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]!;
  return s / a.length;
}

/** Share of (anomaly, normal) pairs ranked correctly: AUC-ROC without ties handling beyond ½. */
export function auc(normal: ArrayLike<number>, anomalous: ArrayLike<number>): number {
  const all = [
    ...Array.from(normal, (s) => ({ s, y: 0 })),
    ...Array.from(anomalous, (s) => ({ s, y: 1 })),
  ].sort((p, q) => p.s - q.s);
  let rankSum = 0;
  for (let i = 0; i < all.length; i++) if (all[i]!.y === 1) rankSum += i + 1;
  const nA = anomalous.length;
  const nN = normal.length;
  return (rankSum - (nA * (nA + 1)) / 2) / (nA * nN);
}

/**
 * A multichannel time series per entity: smooth periodic signals with noise; `anomalyAt` marks a segment
 * where channel 0 jumps by `jump`.
 */
export function series(
  n: number,
  d: number,
  seed: number,
  anomaly?: { start: number; length: number; jump: number },
): Synthetic {
  const rng = new Rng(seed);
  const rows = new Float32Array(n * d);
  const phase = rng.next() * 2 * Math.PI;
  for (let i = 0; i < n; i++) {
    const base = Math.sin((2 * Math.PI * i) / 24 + phase);
    for (let j = 0; j < d; j++) {
      rows[i * d + j] =
        (j + 1) * base + (j % 2 === 0 ? 0.5 * Math.cos((2 * Math.PI * i) / 12) : 0) + 0.05 * rng.normal();
    }
    if (anomaly && i >= anomaly.start && i < anomaly.start + anomaly.length)
      rows[i * d] = rows[i * d]! + anomaly.jump;
  }
  return { rows, n, d };
}
