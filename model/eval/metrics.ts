/**
 * Ranking and threshold metrics for anomaly scores (higher score = more anomalous, label 1 = anomaly).
 *
 * The ranking metrics follow scikit-learn exactly, because the peer figures in shared/data/README.md were
 * computed with it: every curve is built over *distinct* score values (a block of tied scores is one step), the
 * way `sklearn.metrics._ranking._binary_clf_curve` does. AUC-ROC is the trapezoid over those points, which
 * equals the Mann-Whitney U statistic with ties counted one half. AUC-PR is average precision,
 * AP = Σ_k (R_k − R_{k−1}) · P_k over distinct thresholds in decreasing order (no interpolation), as
 * `average_precision_score` computes it. A row-by-row sum over tied scores would credit the anomalies of a tie
 * block with the precision of a partial block and can differ by 10–20 points.
 *
 * Pure functions; no I/O.
 */
import { VigilError } from '../../core/errors.js';

export type Labels = ArrayLike<number>;
export type Scores = ArrayLike<number>;

/**
 * The confusion counts at every distinct threshold, highest threshold first. Row k counts the rows whose score
 * is ≥ thresholds[k] as predicted anomalies.
 */
export interface ThresholdCounts {
  readonly thresholds: Float64Array;
  /** True positives at each threshold (cumulative). */
  readonly tps: Float64Array;
  /** False positives at each threshold (cumulative). */
  readonly fps: Float64Array;
  readonly positives: number;
  readonly negatives: number;
}

function check(scores: Scores, labels: Labels): void {
  if (scores.length !== labels.length) {
    throw new VigilError(
      'INPUT_INVALID',
      `Scores (${scores.length}) and labels (${labels.length}) differ in length.`,
    );
  }
  if (scores.length === 0) throw new VigilError('INPUT_INVALID', 'No scores to evaluate.');
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (Number.isNaN(s)) {
      throw new VigilError(
        'INPUT_INVALID',
        `Score ${i} is NaN; ranking metrics are undefined for NaN scores.`,
        {
          details: { index: i },
        },
      );
    }
    const y = labels[i]!;
    if (y !== 0 && y !== 1) {
      throw new VigilError('INPUT_INVALID', `Label ${i} is ${y}; labels must be 0 or 1.`, {
        details: { index: i },
      });
    }
  }
}

/** Indices sorted by score, highest first. Ties keep no particular order: every consumer treats a tie as a block. */
function orderDescending(scores: Scores): Uint32Array {
  const n = scores.length;
  const s = Float64Array.from(scores as ArrayLike<number>);
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  // Comparisons, not subtraction: ±Infinity scores must sort too (Infinity − Infinity is NaN).
  idx.sort((a, b) => (s[b]! > s[a]! ? 1 : s[b]! < s[a]! ? -1 : 0));
  return idx;
}

/** scikit-learn's `_binary_clf_curve`: cumulative TP/FP counts at each distinct score, highest first. */
export function thresholdCounts(scores: Scores, labels: Labels): ThresholdCounts {
  check(scores, labels);
  const n = scores.length;
  const order = orderDescending(scores);
  const thresholds: number[] = [];
  const tps: number[] = [];
  const fps: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    if (labels[i] === 1) tp++;
    else fp++;
    const next = k + 1 < n ? scores[order[k + 1]!]! : Number.NaN;
    // Emit a point only at the end of a block of equal scores.
    if (next !== scores[i]) {
      thresholds.push(scores[i]!);
      tps.push(tp);
      fps.push(fp);
    }
  }
  return {
    thresholds: Float64Array.from(thresholds),
    tps: Float64Array.from(tps),
    fps: Float64Array.from(fps),
    positives: tp,
    negatives: fp,
  };
}

export interface RocCurve {
  /** False-positive rate, starting at 0 (threshold +∞) and ending at 1. */
  readonly fpr: Float64Array;
  readonly tpr: Float64Array;
  /** Threshold of each point (first is +∞: nothing predicted anomalous). */
  readonly thresholds: Float64Array;
}

/** ROC points at every distinct threshold, with (0, 0) prepended, as `roc_curve(drop_intermediate=False)`. */
export function rocCurve(scores: Scores, labels: Labels, counts = thresholdCounts(scores, labels)): RocCurve {
  const { tps, fps, positives, negatives } = counts;
  const m = tps.length + 1;
  const fpr = new Float64Array(m);
  const tpr = new Float64Array(m);
  const thresholds = new Float64Array(m);
  thresholds[0] = Number.POSITIVE_INFINITY;
  for (let k = 1; k < m; k++) {
    fpr[k] = negatives > 0 ? fps[k - 1]! / negatives : Number.NaN;
    tpr[k] = positives > 0 ? tps[k - 1]! / positives : Number.NaN;
    thresholds[k] = counts.thresholds[k - 1]!;
  }
  return { fpr, tpr, thresholds };
}

/**
 * Area under the ROC curve (trapezoid over distinct thresholds = Mann-Whitney U / (P·N), ties counted ½).
 * NaN when the labels hold only one class (scikit-learn raises there).
 */
export function aucRoc(scores: Scores, labels: Labels, counts = thresholdCounts(scores, labels)): number {
  const { tps, fps, positives, negatives } = counts;
  if (positives === 0 || negatives === 0) return Number.NaN;
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  for (let k = 0; k < tps.length; k++) {
    // Integer counts until the single division at the end: no accumulated rounding from the rates.
    area += (fps[k]! - prevFp) * (tps[k]! + prevTp);
    prevTp = tps[k]!;
    prevFp = fps[k]!;
  }
  return area / (2 * positives * negatives);
}

export interface PrCurve {
  /** Precision, in order of increasing threshold, ending with the (recall 0, precision 1) point. */
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  /** Threshold of each point except the last (which has none), increasing. */
  readonly thresholds: Float64Array;
}

/** As `precision_recall_curve(drop_intermediate=False)`: increasing thresholds, then (precision 1, recall 0). */
export function prCurve(scores: Scores, labels: Labels, counts = thresholdCounts(scores, labels)): PrCurve {
  const { tps, fps, positives } = counts;
  const m = tps.length;
  const precision = new Float64Array(m + 1);
  const recall = new Float64Array(m + 1);
  const thresholds = new Float64Array(m);
  for (let k = 0; k < m; k++) {
    const r = m - 1 - k;
    const predicted = tps[r]! + fps[r]!;
    precision[k] = predicted > 0 ? tps[r]! / predicted : 0;
    recall[k] = positives > 0 ? tps[r]! / positives : Number.NaN;
    thresholds[k] = counts.thresholds[r]!;
  }
  precision[m] = 1;
  recall[m] = 0;
  return { precision, recall, thresholds };
}

/**
 * Average precision, exactly as scikit-learn's `average_precision_score`: Σ (R_k − R_{k−1}) · P_k over distinct
 * thresholds, highest first, R_0 = 0. NaN when there is no anomaly among the labels.
 */
export function averagePrecision(
  scores: Scores,
  labels: Labels,
  counts = thresholdCounts(scores, labels),
): number {
  const { tps, fps, positives } = counts;
  if (positives === 0) return Number.NaN;
  let ap = 0;
  let prevTp = 0;
  for (let k = 0; k < tps.length; k++) {
    const tp = tps[k]!;
    if (tp !== prevTp) ap += ((tp - prevTp) / positives) * (tp / (tp + fps[k]!));
    prevTp = tp;
  }
  return ap;
}

export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
  /** 0 when nothing is predicted anomalous (scikit-learn's zero_division=0). */
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
}

function confusionOf(tp: number, fp: number, tn: number, fn: number): Confusion {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = tp > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
  return { tp, fp, tn, fn, precision, recall, f1 };
}

/** Precision, recall and F1 of per-row decisions (1 = flagged as anomaly), e.g. a Detector's `isAnomaly`. */
export function confusionOfDecisions(decisions: ArrayLike<number>, labels: Labels): Confusion {
  if (decisions.length !== labels.length) {
    throw new VigilError(
      'INPUT_INVALID',
      `Decisions (${decisions.length}) and labels (${labels.length}) differ.`,
    );
  }
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = decisions[i]! !== 0;
    const y = labels[i] === 1;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
    else tn++;
  }
  return confusionOf(tp, fp, tn, fn);
}

/** Precision, recall and F1 when every row scoring strictly above `threshold` is flagged. */
export function confusionAt(scores: Scores, labels: Labels, threshold: number): Confusion {
  check(scores, labels);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = scores[i]! > threshold;
    const y = labels[i] === 1;
    if (p && y) tp++;
    else if (p) fp++;
    else if (y) fn++;
    else tn++;
  }
  return confusionOf(tp, fp, tn, fn);
}

export interface BestF1 extends Confusion {
  /** Rows scoring ≥ this are flagged. Chosen with the test labels: report beside, never instead of, honest F1. */
  readonly threshold: number;
}

/**
 * The highest F1 over all distinct thresholds. It looks at the labels, so it is an upper bound for any threshold
 * rule, reported beside the calibrated F1 and marked as such.
 */
export function bestF1(scores: Scores, labels: Labels, counts = thresholdCounts(scores, labels)): BestF1 {
  const { tps, fps, positives, negatives } = counts;
  let best = -1;
  let bestK = 0;
  for (let k = 0; k < tps.length; k++) {
    const f1 = tps[k]! > 0 ? (2 * tps[k]!) / (tps[k]! + fps[k]! + positives) : 0;
    if (f1 > best) {
      best = f1;
      bestK = k;
    }
  }
  const tp = tps[bestK]!;
  const fp = fps[bestK]!;
  return { ...confusionOf(tp, fp, negatives - fp, positives - tp), threshold: counts.thresholds[bestK]! };
}

export interface CurvePoints {
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/**
 * At most `maxPoints` points of a curve for plotting, spread evenly along its length (so steep and flat parts
 * keep their shape); the first and last points are always kept.
 */
export function downsampleCurve(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints = 200): CurvePoints {
  const n = x.length;
  if (n <= maxPoints || maxPoints < 2) return { x: Float64Array.from(x), y: Float64Array.from(y) };
  const cum = new Float64Array(n);
  for (let i = 1; i < n; i++) cum[i] = cum[i - 1]! + Math.hypot(x[i]! - x[i - 1]!, y[i]! - y[i - 1]!);
  const total = cum[n - 1]!;
  const keepX: number[] = [x[0]!];
  const keepY: number[] = [y[0]!];
  let next = total / (maxPoints - 1);
  for (let i = 1; i < n - 1; i++) {
    if (cum[i]! >= next) {
      keepX.push(x[i]!);
      keepY.push(y[i]!);
      while (next <= cum[i]!) next += total / (maxPoints - 1);
    }
  }
  keepX.push(x[n - 1]!);
  keepY.push(y[n - 1]!);
  return { x: Float64Array.from(keepX), y: Float64Array.from(keepY) };
}

/** Linear-interpolated quantile (numpy's default, type 7) of unsorted values. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const s = Float64Array.from(values as ArrayLike<number>).sort();
  const n = s.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export interface ScoreReport {
  readonly aucRoc: number;
  readonly aucPr: number;
  readonly positives: number;
  readonly negatives: number;
  /** Best F1 over all thresholds: uses the test labels, reported beside the calibrated F1 only. */
  readonly bestF1: BestF1;
}

/** AUC-ROC, AUC-PR (average precision) and best-F1 from one pass over the sorted scores. */
export function rankingReport(scores: Scores, labels: Labels): ScoreReport {
  const counts = thresholdCounts(scores, labels);
  return {
    aucRoc: aucRoc(scores, labels, counts),
    aucPr: averagePrecision(scores, labels, counts),
    positives: counts.positives,
    negatives: counts.negatives,
    bestF1: bestF1(scores, labels, counts),
  };
}
