/**
 * One drift check: the model's training reference (the artifact's data summary and calibration score
 * distribution) against recent traffic (the reservoir's rows and a window of recent scores). Pure.
 *
 * Default thresholds, and why:
 * - PSI 0.2 per feature. The credit-scoring rule of thumb (Siddiqi, "Credit Risk Scorecards", 2006; Yurdakul
 *   2018 for its sampling distribution): < 0.1 no real change, 0.1–0.25 moderate, > 0.25 major; 0.2 is the
 *   common alarm level between the last two. PSI here is over the reference's 10 quantile bins.
 * - KS D 0.1 per feature. D is an effect size (the largest gap between the two CDFs, in probability): 0.1 means
 *   some value splits the two populations 10 points differently. With thousands of reservoir rows any D > 0.03
 *   is "significant" (p < 0.05), so significance alone would alarm on noise-free trivia.
 * - Wasserstein 0.25 of the reference's spread (its 5–95 % range / 3.29, a σ that ignores the tails): the
 *   mean absolute move of the distribution, a quarter of a σ.
 * - Score shift: KS D 0.25 between recent scores (all of them, flagged ones included) and the calibration
 *   distribution. Scores carry what the features miss (relations between features); the bar is higher because
 *   the calibration distribution was fitted on a few hundred to thousands of held-out rows from the training
 *   period, and fresh normal data scores a little higher than those (the generalisation gap): D = 0.15 on the
 *   next hours of the same sensor fleet in test/integration/lifecycle, 0.74 after a 1 σ temperature shift.
 * - Features whose reference is (nearly) constant — flags, one-hot columns, where the 1 % and 99 % quantiles
 *   coincide — are judged as two levels (body value or not) from the stored mean, not on quantile bins.
 * A check counts as drift when any feature's PSI crosses its threshold (PSI is the most stable of the three
 * on quantile bins) or the score shift crosses its own; KS and Wasserstein are reported and counted, and can
 * be made deciding (`decideOn`).
 */
import type { TrainingDataSummary } from '../summary.js';
import { cdf, inverseCdf, type ScoreDistribution } from '../threshold.js';
import {
  knotQuantile,
  knotsFromSummary,
  ksAgainstKnots,
  psi,
  psiAgainstKnots,
  sortedFiniteColumn,
  wassersteinAgainstKnots,
} from './statistics.js';

export type DriftStatistic = 'psi' | 'ks' | 'wasserstein';
export const DRIFT_STATISTICS: readonly DriftStatistic[] = ['psi', 'ks', 'wasserstein'];

export interface DriftThresholds {
  readonly psi: number;
  readonly ks: number;
  readonly wasserstein: number;
  readonly scoreKs: number;
  /** Statistics whose crossing counts as drift. Default ['psi']. */
  readonly decideOn: readonly DriftStatistic[];
  /** Fewest reservoir rows for a check; below it the check reports `insufficient`. */
  readonly minRows: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = {
  psi: 0.2,
  ks: 0.1,
  wasserstein: 0.25,
  scoreKs: 0.25,
  decideOn: ['psi'],
  minRows: 500,
};

export interface FeatureDrift {
  readonly name: string;
  readonly psi: number;
  readonly ks: number;
  /** W₁ over the reference's robust σ. */
  readonly wasserstein: number;
}

export interface DriftReport {
  readonly rows: number;
  readonly scores: number;
  /** Too few rows to judge; nothing else is meaningful then. */
  readonly insufficient: boolean;
  readonly features: readonly FeatureDrift[];
  readonly max: Readonly<Record<DriftStatistic, number>>;
  /** Features over each statistic's threshold. */
  readonly over: Readonly<Record<DriftStatistic, number>>;
  /** The worst feature per statistic. */
  readonly worst: Readonly<Record<DriftStatistic, string | null>>;
  readonly score: {
    readonly ks: number;
    /** Median of recent scores over the calibration median. */
    readonly medianRatio: number;
    /** Share of recent scores over the calibration's own threshold. */
    readonly overThreshold: number;
  };
  readonly drifted: boolean;
  /** Human-readable reasons, one per crossing that decided. */
  readonly reasons: readonly string[];
}

/** σ of a summary feature from its 5–95 % range (1.645 σ each side for a normal), floored. */
function robustSpread(levels: readonly number[], f: TrainingDataSummary['features'][number]): number {
  const k = knotsFromSummary(levels, f);
  const s = (knotQuantile(k, 0.95) - knotQuantile(k, 0.05)) / 3.29;
  const floor = 1e-9 * Math.max(1, Math.abs(f.mean));
  if (s > floor) return s;
  return f.std > floor ? f.std : Math.max(floor, 1e-9);
}

/** The reference's 1 % and 99 % quantiles coincide: a constant, a flag, a one-hot column. */
function isDegenerate(k: { readonly values: readonly number[] }): boolean {
  return k.values[1] === k.values[k.values.length - 2];
}

/**
 * Drift of a (nearly) constant reference feature, as two levels: the body value and everything else. The
 * quantiles cannot say how much mass lies off the body (only that it is under 1 %), the mean can: for a
 * 0/1 flag at body 0 it is exactly the share of ones. PSI over the two bins, KS the difference of the shares,
 * Wasserstein the difference of the means over the reference σ (floored at the flag's own σ at 1 %).
 */
function twoLevelDrift(f: TrainingDataSummary['features'][number], col: Float64Array): FeatureDrift {
  const body = f.quantiles[Math.floor(f.quantiles.length / 2)]!;
  const span = f.max - body;
  const refOff = span > 0 ? Math.min(1, Math.max(0, (f.mean - body) / span)) : 0;
  let off = 0;
  let sum = 0;
  for (let i = 0; i < col.length; i++) {
    if (col[i] !== body) off++;
    sum += col[i]!;
  }
  const liveOff = off / col.length;
  const sigma = Math.max(f.std, Math.sqrt(0.01 * 0.99) * Math.max(Math.abs(span), 1e-9));
  return {
    name: f.name,
    psi: psi([1 - refOff, refOff], [1 - liveOff, liveOff]),
    ks: Math.abs(liveOff - refOff),
    wasserstein: Math.abs(sum / col.length - f.mean) / sigma,
  };
}

export function checkDrift(
  reference: {
    readonly summary: TrainingDataSummary;
    readonly scores: ScoreDistribution;
    readonly threshold: number;
  },
  live: {
    readonly rows: Float32Array;
    readonly n: number;
    readonly d: number;
    readonly scores: ArrayLike<number>;
  },
  thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS,
): DriftReport {
  const { summary } = reference;
  const { rows, n, d } = live;
  const features: FeatureDrift[] = [];
  const max = { psi: 0, ks: 0, wasserstein: 0 };
  const over = { psi: 0, ks: 0, wasserstein: 0 };
  const worst: Record<DriftStatistic, string | null> = { psi: null, ks: null, wasserstein: null };
  const insufficient = n < thresholds.minRows;
  if (!insufficient) {
    const m = Math.min(d, summary.features.length);
    for (let j = 0; j < m; j++) {
      const f = summary.features[j]!;
      const col = sortedFiniteColumn(rows, n, d, j);
      if (col.length === 0 || !Number.isFinite(f.min)) continue;
      const k = knotsFromSummary(summary.quantileLevels, f);
      const fd: FeatureDrift = isDegenerate(k)
        ? twoLevelDrift(f, col)
        : {
            name: f.name,
            psi: psiAgainstKnots(k, col),
            ks: ksAgainstKnots(k, col),
            wasserstein: wassersteinAgainstKnots(k, col) / robustSpread(summary.quantileLevels, f),
          };
      features.push(fd);
      for (const s of ['psi', 'ks', 'wasserstein'] as const) {
        if (fd[s] > max[s]) {
          max[s] = fd[s];
          worst[s] = fd.name;
        }
        if (fd[s] > thresholds[s]) over[s]++;
      }
    }
  }
  const score = scoreShift(reference.scores, reference.threshold, live.scores);
  const reasons: string[] = [];
  if (!insufficient) {
    for (const s of thresholds.decideOn) {
      if (over[s] > 0) {
        reasons.push(
          `${over[s]} feature(s) over ${s} ${thresholds[s]} (worst ${worst[s]}: ${max[s].toFixed(3)})`,
        );
      }
    }
  }
  if (live.scores.length >= thresholds.minRows && score.ks > thresholds.scoreKs) {
    reasons.push(`score distribution KS ${score.ks.toFixed(3)} > ${thresholds.scoreKs}`);
  }
  return {
    rows: n,
    scores: live.scores.length,
    insufficient,
    features,
    max,
    over,
    worst,
    score,
    drifted: reasons.length > 0,
    reasons,
  };
}

function scoreShift(
  dist: ScoreDistribution,
  threshold: number,
  scores: ArrayLike<number>,
): DriftReport['score'] {
  const sorted = Float64Array.from(scores)
    .filter((s) => Number.isFinite(s))
    .sort();
  const n = sorted.length;
  if (n === 0) return { ks: Number.NaN, medianRatio: Number.NaN, overThreshold: Number.NaN };
  let ks = 0;
  let over = 0;
  for (let i = 0; i < n; ) {
    const x = sorted[i]!;
    let j = i;
    while (j < n && sorted[j] === x) j++;
    const f = cdf(dist, x);
    ks = Math.max(ks, Math.abs(f - i / n), Math.abs(f - j / n));
    if (x > threshold) over += j - i;
    i = j;
  }
  const refMedian = inverseCdf(dist, 0.5);
  const median = sorted[Math.floor((n - 1) / 2)]!;
  return { ks, medianRatio: refMedian > 0 ? median / refMedian : Number.NaN, overThreshold: over / n };
}
