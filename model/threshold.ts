/**
 * Thresholds and severities from held-out normal scores. Pure: no tensors, no I/O.
 *
 * A score distribution is stored as quantile knots over its body (a piecewise-linear CDF, so it is continuous
 * and monotonic rather than the empirical CDF's steps) and a generalised Pareto tail fitted to the exceedances
 * over the body's top (peaks over threshold). The tail's shape ξ is held in [0, 1]: ξ < 0 would give the
 * tail a finite end beyond which every score has the same severity; ξ = 0 is the exponential tail.
 *
 * severity(s) = F(s), the probability that a normal score is at most s: 0 for the lowest normal scores, the
 * calibrated quantile at the threshold, → 1 far beyond it. tailProbability(s) = 1 − F(s) is the p-value.
 * The threshold is F⁻¹(quantile), so severity at the threshold equals the quantile by construction.
 */
import { VigilError } from '../core/errors.js';

export interface TailModel {
  /** Start of the tail (a score), the top of the body. */
  readonly u: number;
  /** Share of calibration scores above u. */
  readonly pU: number;
  /** GPD scale σ > 0 and shape ξ ∈ [0, 0.5]. */
  readonly sigma: number;
  readonly xi: number;
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
  /** CDF level the threshold sits at (1 − target false-positive rate). */
  readonly quantile: number;
  readonly threshold: number;
  readonly distribution: ScoreDistribution;
  /** Entities with enough calibration scores of their own; others use the global threshold. */
  readonly perEntity: Readonly<Record<string, EntityThreshold>>;
  readonly minEntitySamples: number;
}

export interface ThresholdOptions {
  /** Threshold at this quantile of normal scores. Default 0.99. Exclusive with targetFpr. */
  quantile?: number;
  /** Threshold at this false-positive rate on normal data (quantile = 1 − targetFpr). */
  targetFpr?: number;
  /**
   * Fewest calibration scores left above the empirical body for the tail fit. Default 50. The body always
   * reaches at least halfway from the threshold's level to 1 where the data allows.
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

function resolveQuantile(options: ThresholdOptions): number {
  if (options.quantile !== undefined && options.targetFpr !== undefined) {
    throw new VigilError('CONFIG_INVALID', 'Give either threshold quantile or targetFpr, not both.');
  }
  const q = options.targetFpr !== undefined ? 1 - options.targetFpr : (options.quantile ?? 0.99);
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

/**
 * GPD fit to exceedances y ≥ 0 (ascending) by matching their median and 90th percentile. Quantile matching
 * rather than moments because normal scores routinely have a few huge values (rare normal modes the model
 * reconstructs badly) that wreck moment estimates; ξ is held in [0, 1].
 */
export function fitTail(exceedances: Float64Array): { sigma: number; xi: number } {
  const m = exceedances.length;
  if (m === 0) return { sigma: 0, xi: 0 };
  const y50 = quantileOfSorted(exceedances, 0.5);
  const y90 = quantileOfSorted(exceedances, 0.9);
  if (!(y50 > 0)) return { sigma: y90 > 0 ? y90 / Math.LN10 : 0, xi: 0 };
  // y_p = σ((1 − p)^−ξ − 1)/ξ, so y90/y50 = (10^ξ − 1)/(2^ξ − 1): ln 10 / ln 2 at ξ = 0, increasing in ξ.
  const ratio = y90 / y50;
  const r = (xi: number): number => (xi < 1e-9 ? Math.LN10 / Math.LN2 : (10 ** xi - 1) / (2 ** xi - 1));
  let xi = 0;
  if (m >= 10 && ratio > r(0)) {
    let lo = 0;
    let hi = 1;
    if (ratio >= r(1)) xi = 1;
    else {
      for (let k = 0; k < 50; k++) {
        const mid = (lo + hi) / 2;
        if (r(mid) < ratio) lo = mid;
        else hi = mid;
      }
      xi = (lo + hi) / 2;
    }
  }
  const sigma = xi < 1e-9 ? y50 / Math.LN2 : (y50 * xi) / (2 ** xi - 1);
  return { sigma, xi };
}

/**
 * Fit a distribution to calibration scores. The body (empirical, linearly interpolated) reaches up to the
 * level where `minTailSamples` scores remain above it, but at least up to `bodyTop`, so a threshold inside
 * the data's resolution comes from the data; the GPD tail extrapolates beyond. Knots are spaced
 * geometrically in tail probability, dense where thresholds live.
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
  let { sigma, xi } = fitTail(ex);
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    // No spread above u (discrete or constant scores): a small exponential tail keeps severity monotonic.
    const spread = values[values.length - 1]! - values[0]!;
    sigma = Math.max(spread / 10, Math.abs(u) * 0.1, 1e-12);
    xi = 0;
  }
  return { n, levels, values, tail: { u, pU, sigma, xi } };
}

/** Survival of the tail model at y = s − u ≥ 0, relative to the tail's own mass. */
function tailSurvival(t: TailModel, y: number): number {
  if (t.xi < 1e-9) return Math.exp(-y / t.sigma);
  return (1 + (t.xi * y) / t.sigma) ** (-1 / t.xi);
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

export function tailProbability(dist: ScoreDistribution, s: number): number {
  return 1 - cdf(dist, s);
}

/** Severity in [0, 1]: F(s). */
export function severity(dist: ScoreDistribution, s: number): number {
  const p = cdf(dist, s);
  return Math.min(1, Math.max(0, p));
}

/** F⁻¹(q): the score at CDF level q. */
export function inverseCdf(dist: ScoreDistribution, q: number): number {
  const { values, levels, tail } = dist;
  const top = 1 - tail.pU;
  if (q >= top) {
    const r = (1 - q) / tail.pU;
    if (r <= 0) return Number.POSITIVE_INFINITY;
    const y = tail.xi < 1e-9 ? -tail.sigma * Math.log(r) : (tail.sigma / tail.xi) * (r ** -tail.xi - 1);
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
  const quantile = resolveQuantile(options);
  const minTail = options.minTailSamples ?? 50;
  if (!(Number.isInteger(minTail) && minTail >= 1)) {
    throw new VigilError('CONFIG_INVALID', `minTailSamples must be a positive integer, got ${minTail}.`);
  }
  const bodyTop = 1 - (1 - quantile) / 2;
  const distribution = fitDistribution(scores, bodyTop, options.knots ?? 128, minTail);
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
      perEntity[key] = { threshold: inverseCdf(dist, quantile), distribution: dist };
    }
  }
  return {
    quantile,
    threshold: inverseCdf(distribution, quantile),
    distribution,
    perEntity,
    minEntitySamples,
  };
}

/**
 * The same calibration with every threshold moved to quantile q of its stored distribution (global and per
 * entity): a new operating point without retraining.
 */
export function atQuantile(cal: ThresholdCalibration, q: number): ThresholdCalibration {
  resolveQuantile({ quantile: q });
  const perEntity: Record<string, EntityThreshold> = {};
  for (const [k, e] of Object.entries(cal.perEntity)) {
    perEntity[k] = { threshold: inverseCdf(e.distribution, q), distribution: e.distribution };
  }
  return { ...cal, quantile: q, threshold: inverseCdf(cal.distribution, q), perEntity };
}

/** The same calibration with one fixed threshold for every row (severities still come from the distributions). */
export function atFixedThreshold(cal: ThresholdCalibration, value: number): ThresholdCalibration {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new VigilError('CONFIG_INVALID', `A fixed threshold must be a finite number > 0, got ${value}.`);
  }
  const perEntity: Record<string, EntityThreshold> = {};
  for (const [k, e] of Object.entries(cal.perEntity))
    perEntity[k] = { threshold: value, distribution: e.distribution };
  return { ...cal, quantile: cdf(cal.distribution, value), threshold: value, perEntity };
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
  private readonly entities: Map<string, EntityThreshold>;

  constructor(readonly calibration: ThresholdCalibration) {
    this.entities = new Map(Object.entries(calibration.perEntity));
  }

  get entityCount(): number {
    return this.entities.size;
  }

  /**
   * Fill threshold, severity and decision for n scores. `factor` (adaptive) scales thresholds up and scores
   * down before the severity lookup.
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
      const thr = (e ? e.threshold : global.threshold) * factor;
      const s = scores[i]!;
      threshold[i] = thr;
      sev[i] = severity(e ? e.distribution : global.distribution, s / factor);
      isAnomaly[i] = s > thr ? 1 : 0;
    }
  }
}
