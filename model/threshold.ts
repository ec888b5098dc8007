/**
 * Thresholds and severities from held-out normal scores. Pure: no tensors, no I/O.
 *
 * A score distribution is stored as quantile knots over its body (a piecewise-linear CDF, so it is continuous
 * and monotonic rather than the empirical CDF's steps) and a generalised Pareto tail fitted to the excesses
 * over the body's top: peaks over threshold, as SPOT (Siffer et al., KDD 2017) and the telemanom family set an
 * alarm level far beyond what a calibration set can show. The GPD is fitted by maximum likelihood (Grimshaw's
 * one-dimensional profile, as SPOT does), its shape ξ held in [−0.5, 1] where the estimator is regular, and
 * kept only where a likelihood-ratio test rejects the exponential tail (ξ = 0) at 5 %: the shape is the
 * noisiest parameter and the one that moves a far threshold most.
 *
 * The default operating point is a per-record false-alarm rate q (1e-4): the tail starts at the 0.98 quantile
 * (SPOT's initial level, or higher up where 50 excesses need more room) and the threshold is F⁻¹(1 − q), from
 * the fitted tail wherever q lies beyond the body. Fallback when the tail cannot be fitted (fewer than
 * MIN_GPD_EXCESSES excesses, or a likelihood with no finite maximum in the ξ range): an exponential tail with the
 * excesses' mean as its scale (the ξ = 0 maximum-likelihood fit); when the excesses have no spread at all, a
 * small exponential tail scaled from the body, so thresholds and severities stay finite and monotonic. The rule
 * that fired is stored in the tail (`fit`).
 *
 * Small calibration sets: the rate in force is never below 1/n, n the calibration scores the distribution was
 * fitted to (supportedRate). A rate q < 1/n asks for a score rarer than anything the calibration set holds;
 * the tail that would carry it rests on about 50 excesses, whose shape ξ has a standard error of 0.15–0.25,
 * and a far quantile moves with ξ exponentially: at NAB's 150 held-out scores 1e-4 is 67× beyond the data,
 * ξ sat at its bound 1 and the threshold lay above every test score (flagging nothing); the integration
 * tests' model (800 scores, ξ ≈ 0.8) put it 43× above the tail's start. At 1/n the threshold is the fitted
 * tail's estimate of the calibration set's own maximum: still smooth (not the raw maximum) and it flags about
 * one fresh normal record in n. A configured rate is honoured from n ≥ 1/q calibration scores (10,000 at the
 * default); below that the calibration records both (`falseAlarmRate` in force, `requestedFalseAlarmRate`).
 *
 * severity(s) is 0 at the threshold and rises with the tail probability p(s) = 1 − F(s) on a log scale:
 * log10(p(threshold) / p(s)) / SEVERITY_DECADES, clipped to [0, 1] (0.5 where a normal score is 1,000 times
 * rarer than at the threshold, with the default three decades): like OpenSearch's anomaly grade, it ranks
 * anomalies instead of reading 0.99 for all of them.
 */
import { VigilError } from '../core/errors.js';
import type { PostprocessSettings } from './postprocess.js';

export interface TailModel {
  /** Start of the tail (a score), the top of the body. */
  readonly u: number;
  /** Share of calibration scores above u. */
  readonly pU: number;
  /** GPD scale σ > 0 and shape ξ ∈ [−0.5, 1] (artifacts before the MLE fit hold ξ ∈ [0, 1]). */
  readonly sigma: number;
  readonly xi: number;
  /**
   * How the tail was fitted: `gpd` (maximum likelihood), `exponential` (the fallback: too few excesses or no
   * maximum), `constant` (the excesses have no spread). Absent in older artifacts (quantile-matched GPD).
   */
  readonly fit?: TailFit;
}

export type TailFit = 'gpd' | 'exponential' | 'constant';

/** Fewest excesses over the tail's start for a GPD fit; below it the exponential fallback is used. */
export const MIN_GPD_EXCESSES = 10;
/** Severity reaches 1 where a score is this many decades rarer than the threshold. */
export const SEVERITY_DECADES = 3;
/** The default per-record false-alarm rate. */
export const DEFAULT_FALSE_ALARM_RATE = 1e-4;
/** SPOT's initial level: the tail starts at this quantile (or higher up, see minTailSamples). */
export const DEFAULT_TAIL_START = 0.98;

/**
 * The per-record false-alarm rate n calibration scores can support: the rate asked for, or 1/n where that is
 * larger (the threshold then sits at the fitted tail's estimate of the calibration maximum, not beyond it; see
 * the module comment for why).
 */
export function supportedRate(rate: number, n: number): number {
  return n >= 1 ? Math.max(rate, 1 / n) : rate;
}

/** The rate fields of a calibration set for `requested` on a distribution of n scores. */
function rateFields(
  requested: number,
  n: number,
): { falseAlarmRate: number; requestedFalseAlarmRate?: number } {
  const rate = supportedRate(requested, n);
  return rate === requested
    ? { falseAlarmRate: rate }
    : { falseAlarmRate: rate, requestedFalseAlarmRate: requested };
}

export interface ScoreDistribution {
  /** Calibration scores it was fitted to. */
  readonly n: number;
  /** CDF levels of the knots, increasing from 0 to 1 − tail.pU. */
  readonly levels: readonly number[];
  /** Scores at the knots, non-decreasing. */
  readonly values: readonly number[];
  readonly tail: TailModel;
}

export interface EntityThreshold {
  readonly threshold: number;
  readonly distribution: ScoreDistribution;
}

export interface ThresholdCalibration {
  /** CDF level the threshold sits at (1 − the per-record false-alarm rate). */
  readonly quantile: number;
  /**
   * The per-record false-alarm rate the threshold was set for (1 − quantile), when set as a rate; absent in
   * older artifacts and for quantile calibrations.
   */
  readonly falseAlarmRate?: number;
  /**
   * The rate asked for, when the calibration set was too small to support it and `falseAlarmRate` was raised
   * to 1/n (see supportedRate); absent otherwise.
   */
  readonly requestedFalseAlarmRate?: number;
  readonly threshold: number;
  readonly distribution: ScoreDistribution;
  /** Entities with enough calibration scores of their own; others use the global threshold. */
  readonly perEntity: Readonly<Record<string, EntityThreshold>>;
  readonly minEntitySamples: number;
  /**
   * Set when the threshold was calibrated on post-processed scores (model/postprocess.ts): those settings must
   * run between score and threshold wherever this calibration judges scores.
   */
  readonly postprocess?: PostprocessSettings;
}

export interface ThresholdOptions {
  /**
   * Per-record false-alarm rate q on normal data: the threshold is F⁻¹(1 − q), from the fitted tail wherever q
   * lies beyond the body. Default 1e-4 when no quantile is given.
   */
  falseAlarmRate?: number;
  /** The same as falseAlarmRate (its older name). */
  targetFpr?: number;
  /**
   * Threshold at this quantile of normal scores, with the body reaching up to it (an empirical quantile within
   * the data's resolution). Exclusive with falseAlarmRate.
   */
  quantile?: number;
  /** Rate mode: the quantile where the GPD tail starts (SPOT's initial threshold). Default 0.98. */
  tailStart?: number;
  /**
   * Fewest calibration scores left above the empirical body for the tail fit. Default 50. In quantile mode the
   * body always reaches at least halfway from the threshold's level to 1 where the data allows.
   */
  minTailSamples?: number;
  /** Quantile knots kept for the body. Default 128 (global), 32 (per entity). */
  knots?: number;
  /** Calibrate entities separately when given entity keys. Default false. */
  perEntity?: boolean;
  /** Fewest calibration scores an entity needs for its own threshold. Default 200. */
  minEntitySamples?: number;
  /** Most entities given their own threshold (those with the most scores). Default 10,000. */
  maxEntities?: number;
}

interface OperatingPoint {
  readonly quantile: number;
  /** Set when the point was given as a rate (or by default): the tail then starts at tailStart. */
  readonly falseAlarmRate?: number;
}

function resolveOperatingPoint(options: ThresholdOptions): OperatingPoint {
  if (
    options.falseAlarmRate !== undefined &&
    options.targetFpr !== undefined &&
    options.falseAlarmRate !== options.targetFpr
  ) {
    throw new VigilError(
      'CONFIG_INVALID',
      'Give either falseAlarmRate or targetFpr (its older name), not both.',
    );
  }
  const rate = options.falseAlarmRate ?? options.targetFpr;
  if (options.quantile !== undefined && rate !== undefined) {
    throw new VigilError(
      'CONFIG_INVALID',
      'Give either a threshold quantile or a false-alarm rate, not both.',
    );
  }
  if (options.quantile !== undefined) return { quantile: resolveQuantile(options.quantile) };
  const q = rate ?? DEFAULT_FALSE_ALARM_RATE;
  if (!(q > 0 && q < 0.5)) {
    throw new VigilError('CONFIG_INVALID', `The false-alarm rate must be in (0, 0.5), got ${q}.`, {
      details: { falseAlarmRate: q },
    });
  }
  return { quantile: 1 - q, falseAlarmRate: q };
}

function resolveQuantile(q: number): number {
  if (!(q > 0 && q < 1)) {
    throw new VigilError('CONFIG_INVALID', `Threshold quantile must be in (0, 1), got ${q}.`, {
      details: { q },
    });
  }
  return q;
}

function finiteSorted(scores: ArrayLike<number>): Float64Array {
  const out = new Float64Array(scores.length);
  let k = 0;
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return out.subarray(0, k).sort();
}

function quantileOfSorted(sorted: Float64Array, q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Profile log-likelihood of a GPD at θ = ξ/σ (Grimshaw 1993): ξ(θ) = mean log(1 + θy), σ = ξ/θ. */
function profile(y: Float64Array, theta: number): { xi: number; sigma: number; ll: number } {
  const m = y.length;
  if (Math.abs(theta) < 1e-12) {
    let mean = 0;
    for (const v of y) mean += v;
    mean /= m;
    return { xi: 0, sigma: mean, ll: -m * Math.log(mean) - m };
  }
  let acc = 0;
  for (const v of y) acc += Math.log1p(theta * v);
  const xi = acc / m;
  const sigma = xi / theta;
  return { xi, sigma, ll: -m * Math.log(sigma) - (1 + 1 / xi) * acc };
}

const XI_MIN = -0.5;
const XI_MAX = 1;
/** χ²₁ at 95 %: the likelihood-ratio test of the GPD's shape against the exponential tail (ξ = 0). */
const LR_CRITICAL = 3.841;

/**
 * Maximum-likelihood GPD fit to excesses y ≥ 0 over the tail's start, as SPOT fits its tail: the likelihood is
 * maximised over θ = ξ/σ alone (Grimshaw's reduction; ξ and σ follow from θ), on a grid across the whole
 * admissible range θ > −1/max(y), refined by golden-section search, with ξ kept in [−0.5, 1]. Falls back to
 * the exponential tail (ξ = 0, σ = mean excess: its own maximum-likelihood fit) below MIN_GPD_EXCESSES excesses
 * or when no finite maximum is found; `constant` when the excesses have no spread.
 */
export function fitTail(exceedances: ArrayLike<number>): { sigma: number; xi: number; fit: TailFit } {
  const y = Float64Array.from(exceedances);
  const m = y.length;
  let mean = 0;
  let max = 0;
  for (const v of y) {
    mean += v;
    if (v > max) max = v;
  }
  mean = m > 0 ? mean / m : 0;
  if (!(mean > 0) || !Number.isFinite(mean)) return { sigma: 0, xi: 0, fit: 'constant' };
  const exponential = { sigma: mean, xi: 0, fit: 'exponential' as const };
  if (m < MIN_GPD_EXCESSES) return exponential;
  // θ on a log grid each side of 0, in units of 1/mean (scale-free): negative down to just above −1/max.
  const candidates: number[] = [0];
  for (let k = 0; k <= 60; k++) {
    const t = 10 ** (-4 + (8 * k) / 60);
    candidates.push(t / mean);
    const neg = -(1 / max) * (1 - 10 ** (-6 + (6 * k) / 60));
    if (neg < 0) candidates.push(neg);
  }
  candidates.sort((p, q) => p - q);
  const admissible = (t: number): number => {
    const f = profile(y, t);
    return Number.isFinite(f.ll) && f.xi >= XI_MIN && f.xi <= XI_MAX && f.sigma > 0 ? f.ll : -Infinity;
  };
  const lls = candidates.map(admissible);
  let best = 0;
  for (let k = 1; k < lls.length; k++) if (lls[k]! > lls[best]!) best = k;
  if (!Number.isFinite(lls[best]!)) return exponential;
  // Golden-section search between the best grid point's neighbours (the profile is unimodal there in practice).
  let lo = candidates[Math.max(0, best - 1)]!;
  let hi = candidates[Math.min(candidates.length - 1, best + 1)]!;
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo);
  let x2 = lo + g * (hi - lo);
  let f1 = admissible(x1);
  let f2 = admissible(x2);
  for (let k = 0; k < 60; k++) {
    if (f1 >= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = admissible(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = admissible(x2);
    }
  }
  const refined = f1 >= f2 ? x1 : x2;
  const theta = Math.max(f1, f2) > lls[best]! ? refined : candidates[best]!;
  const fit = profile(y, theta);
  if (!(fit.sigma > 0) || !Number.isFinite(fit.sigma) || !Number.isFinite(fit.xi)) return exponential;
  // The shape is the noisiest parameter and the one that moves a far threshold most (with 50 excesses its
  // standard error is about 0.15): keep the exponential tail unless the data reject it, by a likelihood-ratio
  // test at 5 % (χ²₁).
  if (2 * (fit.ll - profile(y, 0).ll) < LR_CRITICAL) return exponential;
  return { sigma: fit.sigma, xi: fit.xi, fit: 'gpd' };
}

/**
 * Fit a distribution to calibration scores. The body (empirical, linearly interpolated) reaches up to the
 * level `bodyTop`, or lower where fewer than `minTailSamples` scores would remain above it; the GPD tail
 * extrapolates beyond. Knots are spaced geometrically in tail probability, dense where thresholds live.
 */
export function fitDistribution(
  scores: ArrayLike<number>,
  bodyTop = 0.995,
  knots = 128,
  minTailSamples = 50,
): ScoreDistribution {
  const sorted = finiteSorted(scores);
  const n = sorted.length;
  if (n < 2) {
    throw new VigilError('TRAINING_FAILED', `Need at least 2 finite calibration scores, got ${n}.`);
  }
  const pU = Math.min(0.5, Math.max(1 - bodyTop, minTailSamples / n, 1 / n));
  const levels: number[] = [];
  const values: number[] = [];
  const k = Math.max(2, knots);
  for (let i = 0; i < k; i++) {
    const level = i === 0 ? 0 : 1 - pU ** (i / (k - 1));
    levels.push(level);
    values.push(quantileOfSorted(sorted, level));
  }
  const u = values[values.length - 1]!;
  let first = n;
  for (let i = 0; i < n; i++) {
    if (sorted[i]! > u) {
      first = i;
      break;
    }
  }
  const ex = new Float64Array(n - first);
  for (let i = first; i < n; i++) ex[i - first] = sorted[i]! - u;
  let { sigma, xi, fit } = fitTail(ex);
  if (fit === 'constant') {
    // No spread above u (discrete or constant scores): a small exponential tail keeps severity monotonic.
    const spread = values[values.length - 1]! - values[0]!;
    sigma = Math.max(spread / 10, Math.abs(u) * 0.1, 1e-12);
    xi = 0;
  }
  return { n, levels, values, tail: { u, pU, sigma, xi, fit } };
}

/** Survival of the tail model at y = s − u ≥ 0, relative to the tail's own mass (0 past a bounded tail's end). */
function tailSurvival(t: TailModel, y: number): number {
  if (Math.abs(t.xi) < 1e-9) return Math.exp(-y / t.sigma);
  const z = 1 + (t.xi * y) / t.sigma;
  return z <= 0 ? 0 : z ** (-1 / t.xi);
}

/** F(s): the CDF of normal scores at s (continuous, non-decreasing, strictly increasing above the body). */
export function cdf(dist: ScoreDistribution, s: number): number {
  if (Number.isNaN(s)) return Number.NaN;
  const { values, levels, tail } = dist;
  if (s >= tail.u) return 1 - tail.pU * tailSurvival(tail, s - tail.u);
  if (s < values[0]!) return 0;
  let lo = 0;
  let hi = values.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! <= s) lo = mid;
    else hi = mid;
  }
  const v0 = values[lo]!;
  const v1 = values[hi]!;
  if (v1 <= v0) return levels[hi]!;
  return levels[lo]! + ((levels[hi]! - levels[lo]!) * (s - v0)) / (v1 - v0);
}

/** p(s) = 1 − F(s), computed from the tail directly above its start (no cancellation at tiny rates). */
export function tailProbability(dist: ScoreDistribution, s: number): number {
  if (Number.isNaN(s)) return Number.NaN;
  const { tail } = dist;
  if (s >= tail.u) return tail.pU * tailSurvival(tail, s - tail.u);
  return 1 - cdf(dist, s);
}

/**
 * Severity in [0, 1] of score s judged against `threshold` on the same distribution: 0 at or below the
 * threshold, log10(p(threshold) / p(s)) / SEVERITY_DECADES above it, clipped to 1. `pThreshold` may be passed
 * precomputed (the hot path).
 */
export function severity(
  dist: ScoreDistribution,
  s: number,
  threshold: number,
  pThreshold = tailProbability(dist, threshold),
): number {
  if (Number.isNaN(s)) return Number.NaN;
  if (!(s > threshold)) return 0;
  const p = tailProbability(dist, s);
  if (!(p > 0) || !(pThreshold > 0)) return 1;
  const v = Math.log10(pThreshold / p) / SEVERITY_DECADES;
  return Math.min(1, Math.max(0, v));
}

/** F⁻¹(q): the score at CDF level q. */
export function inverseCdf(dist: ScoreDistribution, q: number): number {
  const { values, levels, tail } = dist;
  const top = 1 - tail.pU;
  if (q >= top) {
    const r = (1 - q) / tail.pU;
    if (r <= 0) return Number.POSITIVE_INFINITY;
    const y =
      Math.abs(tail.xi) < 1e-9 ? -tail.sigma * Math.log(r) : (tail.sigma / tail.xi) * (r ** -tail.xi - 1);
    return tail.u + y;
  }
  let i = 1;
  while (i < levels.length - 1 && levels[i]! < q) i++;
  const l0 = levels[i - 1]!;
  const l1 = levels[i]!;
  return values[i - 1]! + ((values[i]! - values[i - 1]!) * (q - l0)) / (l1 - l0);
}

/**
 * Calibrate on held-out normal scores (never the rows the model was fitted to: those score lower and the
 * threshold would come out too tight). `entities` (same length as scores) enables per-entity thresholds.
 */
export function calibrate(
  scores: ArrayLike<number>,
  options: ThresholdOptions = {},
  entities?: readonly string[],
): ThresholdCalibration {
  const point = resolveOperatingPoint(options);
  const { quantile } = point;
  const minTail = options.minTailSamples ?? 50;
  if (!(Number.isInteger(minTail) && minTail >= 1)) {
    throw new VigilError('CONFIG_INVALID', `minTailSamples must be a positive integer, got ${minTail}.`);
  }
  const tailStart = options.tailStart ?? DEFAULT_TAIL_START;
  if (!(tailStart > 0.5 && tailStart < 1)) {
    throw new VigilError('CONFIG_INVALID', `tailStart must be in (0.5, 1), got ${tailStart}.`);
  }
  // Rate mode: the tail starts at SPOT's initial level and carries the threshold wherever the rate lies beyond
  // it. Quantile mode keeps the body up to (past) the quantile, so the threshold is an empirical quantile.
  const bodyTop = point.falseAlarmRate !== undefined ? tailStart : 1 - (1 - quantile) / 2;
  const distribution = fitDistribution(scores, bodyTop, options.knots ?? 128, minTail);
  const rates =
    point.falseAlarmRate !== undefined ? rateFields(point.falseAlarmRate, distribution.n) : undefined;
  const minEntitySamples = options.minEntitySamples ?? 200;
  const perEntity: Record<string, EntityThreshold> = {};
  if (options.perEntity && entities) {
    if (entities.length !== scores.length) {
      throw new VigilError(
        'INPUT_INVALID',
        `Got ${entities.length} entity keys for ${scores.length} scores.`,
      );
    }
    const groups = new Map<string, number[]>();
    for (let i = 0; i < entities.length; i++) {
      const key = entities[i]!;
      let g = groups.get(key);
      if (g === undefined) {
        g = [];
        groups.set(key, g);
      }
      g.push(scores[i]!);
    }
    const eligible = [...groups.entries()]
      .filter(([, g]) => g.length >= minEntitySamples)
      .sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1))
      .slice(0, options.maxEntities ?? 10_000);
    for (const [key, g] of eligible) {
      const dist = fitDistribution(g, bodyTop, Math.min(32, options.knots ?? 32), minTail);
      perEntity[key] = { threshold: inverseCdf(dist, entityQuantile(point, dist)), distribution: dist };
    }
  }
  const level = rates ? 1 - rates.falseAlarmRate : quantile;
  return {
    quantile: level,
    ...(rates ?? {}),
    threshold: inverseCdf(distribution, level),
    distribution,
    perEntity,
    minEntitySamples,
  };
}

/** An entity's threshold level: in rate mode the rule of supportedRate applies to the entity's own scores. */
function entityQuantile(point: OperatingPoint, dist: ScoreDistribution): number {
  return point.falseAlarmRate === undefined
    ? point.quantile
    : 1 - supportedRate(point.falseAlarmRate, dist.n);
}

/** The per-record false-alarm rate a calibration's threshold stands for (older artifacts: 1 − quantile). */
export function falseAlarmRateOf(cal: ThresholdCalibration): number {
  return cal.falseAlarmRate ?? 1 - cal.quantile;
}

/**
 * The same calibration with every threshold moved to quantile q of its stored distribution (global and per
 * entity): a new operating point without retraining.
 */
export function atQuantile(cal: ThresholdCalibration, q: number): ThresholdCalibration {
  resolveQuantile(q);
  const perEntity: Record<string, EntityThreshold> = {};
  for (const [k, e] of Object.entries(cal.perEntity)) {
    perEntity[k] = { threshold: inverseCdf(e.distribution, q), distribution: e.distribution };
  }
  const { falseAlarmRate: _rate, requestedFalseAlarmRate: _requested, ...rest } = cal;
  return { ...rest, quantile: q, threshold: inverseCdf(cal.distribution, q), perEntity };
}

/**
 * The same calibration at per-record false-alarm rate `rate`, from the stored (tail-fitted) distributions; the
 * small-set rule of supportedRate applies to each distribution's own n.
 */
export function atFalseAlarmRate(cal: ThresholdCalibration, rate: number): ThresholdCalibration {
  const point = resolveOperatingPoint({ falseAlarmRate: rate });
  const rates = rateFields(rate, cal.distribution.n);
  const level = 1 - rates.falseAlarmRate;
  const perEntity: Record<string, EntityThreshold> = {};
  for (const [k, e] of Object.entries(cal.perEntity)) {
    perEntity[k] = {
      threshold: inverseCdf(e.distribution, entityQuantile(point, e.distribution)),
      distribution: e.distribution,
    };
  }
  return { ...atQuantile(cal, level), ...rates, perEntity };
}

/** The same calibration with one fixed threshold for every row (severities still come from the distributions). */
export function atFixedThreshold(cal: ThresholdCalibration, value: number): ThresholdCalibration {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new VigilError('CONFIG_INVALID', `A fixed threshold must be a finite number > 0, got ${value}.`);
  }
  const perEntity: Record<string, EntityThreshold> = {};
  for (const [k, e] of Object.entries(cal.perEntity))
    perEntity[k] = { threshold: value, distribution: e.distribution };
  const { falseAlarmRate: _rate, requestedFalseAlarmRate: _requested, ...rest } = cal;
  return { ...rest, quantile: cdf(cal.distribution, value), threshold: value, perEntity };
}

export interface AdaptiveOptions {
  /** Quantile of non-flagged scores tracked as the reference level. Default 0.9. */
  referenceQuantile?: number;
  /** Rows after which an old batch's weight in the average has halved. Default 100,000. */
  halfLifeRows?: number;
  /** Batches with fewer non-flagged rows are skipped. Default 32. */
  minBatch?: number;
  /** The factor stays in [1/maxFactor, maxFactor] of the calibrated level. Default 4. */
  maxFactor?: number;
}

/**
 * Tracks slow change in the level of normal scores: an EWMA (in rows, not batches) of a quantile of the
 * scores that were NOT flagged, and a factor = tracked / calibrated that scales every threshold. Flagged rows
 * never enter the average, so a run of anomalies cannot teach the detector to accept them; what it can follow
 * is the whole distribution drifting while most rows stay below the threshold.
 *
 * Because flagged rows are left out, the tracked distribution is cut at the threshold; the level tracked is
 * corrected for that (q / F(threshold)), so a stationary stream keeps the factor at 1.
 */
export class AdaptiveThreshold {
  private readonly reference: number;
  private readonly level: number;
  private readonly halfLife: number;
  private readonly minBatch: number;
  private readonly maxFactor: number;
  private tracked: number;
  private buf = new Float32Array(1024);
  private rowsSeen = 0;

  constructor(calibration: ThresholdCalibration, options: AdaptiveOptions = {}) {
    const q = options.referenceQuantile ?? 0.9;
    if (!(q > 0 && q < calibration.quantile)) {
      throw new VigilError(
        'CONFIG_INVALID',
        `Adaptive referenceQuantile must be in (0, ${calibration.quantile}), got ${q}.`,
      );
    }
    this.reference = Math.max(inverseCdf(calibration.distribution, q), Number.MIN_VALUE);
    this.level = q / calibration.quantile;
    this.tracked = this.reference;
    this.halfLife = options.halfLifeRows ?? 100_000;
    this.minBatch = options.minBatch ?? 32;
    this.maxFactor = options.maxFactor ?? 4;
  }

  /** Current multiplier for thresholds (and divisor for scores before severity). */
  get factor(): number {
    const f = this.tracked / this.reference;
    return Math.min(this.maxFactor, Math.max(1 / this.maxFactor, f));
  }

  get rows(): number {
    return this.rowsSeen;
  }

  /** Feed a scored batch with its decisions (made before this update). Returns the new factor. */
  update(scores: Float32Array, flagged: Uint8Array, n: number): number {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const s = scores[i]!;
      if (flagged[i] === 0 && Number.isFinite(s)) this.buf[k++] = s;
    }
    if (k < this.minBatch) return this.factor;
    const sorted = this.buf.subarray(0, k).sort();
    const pos = (k - 1) * this.level;
    const lo = Math.floor(pos);
    const hi = Math.min(k - 1, lo + 1);
    const q = sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
    const weight = 1 - 2 ** (-k / this.halfLife);
    this.tracked += weight * (q - this.tracked);
    this.rowsSeen += k;
    return this.factor;
  }
}

/**
 * A calibration compiled for the hot path: entity lookups in a Map, distributions ready for cdf().
 */
export class CompiledThresholds {
  private readonly entities: Map<string, EntityThreshold & { readonly pThreshold: number }>;
  private readonly pGlobal: number;

  constructor(readonly calibration: ThresholdCalibration) {
    this.entities = new Map(
      Object.entries(calibration.perEntity).map(([k, e]) => [
        k,
        { ...e, pThreshold: tailProbability(e.distribution, e.threshold) },
      ]),
    );
    this.pGlobal = tailProbability(calibration.distribution, calibration.threshold);
  }

  get entityCount(): number {
    return this.entities.size;
  }

  /**
   * Fill threshold, severity and decision for n scores. `factor` (adaptive) scales thresholds up and scores
   * down before the severity lookup, so severity stays 0 at the moved threshold.
   */
  apply(
    scores: Float32Array,
    n: number,
    entities: readonly string[] | undefined,
    factor: number,
    threshold: Float32Array,
    sev: Float32Array,
    isAnomaly: Uint8Array,
  ): void {
    const global = this.calibration;
    const useEntities = entities !== undefined && this.entities.size > 0;
    for (let i = 0; i < n; i++) {
      const e = useEntities ? this.entities.get(entities[i]!) : undefined;
      const base = e ? e.threshold : global.threshold;
      const thr = base * factor;
      const s = scores[i]!;
      threshold[i] = thr;
      isAnomaly[i] = s > thr ? 1 : 0;
      sev[i] =
        isAnomaly[i] === 1
          ? severity(
              e ? e.distribution : global.distribution,
              s / factor,
              base,
              e ? e.pThreshold : this.pGlobal,
            )
          : 0;
    }
  }
}
