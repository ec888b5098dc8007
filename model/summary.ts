/**
 * A per-feature summary of the training data, stored in the artifact. Drift checks compare live traffic with
 * it later, so it is in input units and holds the quantiles a PSI/KS-style check needs.
 */
import { quantileSorted, sortedColumn } from './preprocess.js';

export const SUMMARY_QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] as const;

export interface FeatureSummary {
  readonly name: string;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** Share of rows whose value was not finite (NaN, ±Infinity). */
  readonly nonFinite: number;
  /** Values at SUMMARY_QUANTILES, in the same order. */
  readonly quantiles: readonly number[];
}

export interface TrainingDataSummary {
  readonly n: number;
  readonly quantileLevels: readonly number[];
  readonly features: readonly FeatureSummary[];
}

export function summarise(
  rows: Float32Array,
  n: number,
  d: number,
  featureNames: readonly string[],
  maxRows = 200_000,
): TrainingDataSummary {
  const features: FeatureSummary[] = [];
  for (let j = 0; j < d; j++) {
    const col = sortedColumn(rows, n, d, j, maxRows);
    const sampled = Math.min(n, maxRows);
    let mean = 0;
    for (let i = 0; i < col.length; i++) mean += col[i]!;
    mean = col.length ? mean / col.length : Number.NaN;
    let ss = 0;
    for (let i = 0; i < col.length; i++) ss += (col[i]! - mean) ** 2;
    features.push({
      name: featureNames[j] ?? `f${j}`,
      mean,
      std: col.length > 1 ? Math.sqrt(ss / (col.length - 1)) : 0,
      min: col.length ? col[0]! : Number.NaN,
      max: col.length ? col[col.length - 1]! : Number.NaN,
      nonFinite: (sampled - col.length) / sampled,
      quantiles: SUMMARY_QUANTILES.map((q) => quantileSorted(col, q)),
    });
  }
  return { n, quantileLevels: [...SUMMARY_QUANTILES], features };
}
