/**
 * The shape of an evaluation's results: what evaluate.ts produces and report.ts / the benchmark print. Plain
 * JSON-serialisable data (numbers in [0, 1] for rates; the report converts to %).
 */

import type { LatentMap } from './latent-map.js';
import { type BestF1, type CurvePoints, downsampleCurve, type PrCurve, type RocCurve } from './metrics.js';
import type { NabScore } from './nab.js';

export interface Histogram {
  /** Bin edges (length bins + 1), on the scale named by `log10` (log10 of the score when true). */
  readonly edges: readonly number[];
  readonly log10: boolean;
  /** Counts per bin. */
  readonly normal: readonly number[];
  readonly anomalous: readonly number[];
}

export interface CalibratedF1 {
  /** The threshold in force when scoring (chosen from training data only). */
  readonly threshold: number;
  /** How it was chosen, for the report (e.g. "model calibration: 0.995 quantile of validation scores"). */
  readonly rule: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Share of test rows flagged. */
  readonly flaggedRate: number;
  /** Share of the normal test rows flagged: the false-alarm rate observed, to compare with `targetRate`. */
  readonly normalFlaggedRate: number;
  /**
   * The per-record false-alarm rate the threshold was set for (absent for post-processed scores): the rate in
   * force, which the 1/n rule (model/threshold.ts) may have raised above the one asked for.
   */
  readonly targetRate?: number;
  /** The rate asked for, when the 1/n rule raised it (too few calibration rows to support it). */
  readonly requestedRate?: number;
}

export interface SplitResult {
  readonly split: string;
  readonly nTrain: number;
  readonly nTest: number;
  readonly positives: number;
  readonly aucRoc: number;
  readonly aucPr: number;
  readonly calibrated: CalibratedF1;
  /** Uses the test labels: reported beside the calibrated F1, never instead. */
  readonly bestF1: BestF1;
  readonly roc: { readonly fpr: readonly number[]; readonly tpr: readonly number[] };
  readonly pr: { readonly recall: readonly number[]; readonly precision: readonly number[] };
  readonly histogram: Histogram;
  readonly trainSeconds: number;
  readonly scoreSeconds: number;
  readonly epochs?: number;
  /** NAB files: the standard-profile NAB score of the detections at the model's own threshold. */
  readonly nab?: NabScore;
  /** The test rows' bottleneck codes on a plane (absent when the evaluation was asked not to draw it). */
  readonly latentMap?: LatentMap;
}

export interface DatasetResult {
  readonly dataset: string;
  readonly title: string;
  readonly protocol: string;
  readonly source: string;
  readonly d: number;
  readonly splits: readonly SplitResult[];
  /** Means over splits. */
  readonly mean: {
    readonly aucRoc: number;
    readonly aucPr: number;
    readonly f1: number;
    readonly bestF1: number;
    readonly normalFlaggedRate: number;
  };
}

export interface EvaluationRun {
  readonly createdAt: string;
  readonly model: string;
  /** The resolved model configuration, as recorded by the model (JSON). */
  readonly modelConfig: unknown;
  readonly seed: number;
  readonly backend: string;
  readonly datasets: readonly DatasetResult[];
}

export function meanOf(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export function meanOfSplits(splits: readonly SplitResult[]): DatasetResult['mean'] {
  return {
    aucRoc: meanOf(splits.map((s) => s.aucRoc)),
    aucPr: meanOf(splits.map((s) => s.aucPr)),
    f1: meanOf(splits.map((s) => s.calibrated.f1)),
    bestF1: meanOf(splits.map((s) => s.bestF1.f1)),
    normalFlaggedRate: meanOf(splits.map((s) => s.calibrated.normalFlaggedRate)),
  };
}

/** Plot-sized ROC and PR curves. */
export function plotCurves(
  roc: RocCurve,
  pr: PrCurve,
  maxPoints = 200,
): { roc: SplitResult['roc']; pr: SplitResult['pr'] } {
  const r: CurvePoints = downsampleCurve(roc.fpr, roc.tpr, maxPoints);
  const p: CurvePoints = downsampleCurve(pr.recall, pr.precision, maxPoints);
  return {
    roc: { fpr: Array.from(r.x), tpr: Array.from(r.y) },
    pr: { recall: Array.from(p.x), precision: Array.from(p.y) },
  };
}

/**
 * Histogram of normal and anomalous scores on a shared set of bins. Reconstruction errors span decades, so
 * the bins are on log10 of the score when every score is positive and the range covers more than two decades.
 * The threshold, when given, is kept inside the plotted range.
 */
export function scoreHistogram(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 40,
  threshold?: number,
): Histogram {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!Number.isFinite(s)) continue;
    if (s < min) min = s;
    if (s > max) max = s;
  }
  if (threshold !== undefined && Number.isFinite(threshold)) {
    min = Math.min(min, threshold);
    max = Math.max(max, threshold);
  }
  if (!(min <= max)) {
    min = 0;
    max = 1;
  }
  const log10 = min > 0 && max / min > 100;
  const t = (v: number) => (log10 ? Math.log10(v) : v);
  let lo = t(min);
  let hi = t(max);
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, k) => lo + k * width);
  const normal = new Array<number>(bins).fill(0);
  const anomalous = new Array<number>(bins).fill(0);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) continue;
    const v = Number.isFinite(s) ? t(s) : s > 0 ? hi : lo;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / width)));
    if (labels[i] === 1) anomalous[b]!++;
    else normal[b]!++;
  }
  return { edges, log10, normal, anomalous };
}
