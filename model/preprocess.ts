/**
 * Preprocessing fitted on training rows only and stored with the model: robust scaling (median and IQR, so a
 * little contamination or a heavy tail does not set the scale) and clipping to ±k scaled units (so one absurd
 * value cannot dominate a gradient step or a score). Pure functions over row-major Float32Arrays.
 */
import { VigilError } from '../core/errors.js';

export interface ScalerParams {
  readonly kind: 'robust';
  /** Per-feature centre (the training median), in input units. */
  readonly center: readonly number[];
  /** Per-feature scale (IQR / 1.349, i.e. σ for a normal distribution), in input units; never 0. */
  readonly scale: readonly number[];
  /** Scaled values are clipped to [-clip, clip]; Infinity disables clipping. */
  readonly clip: number;
}

export interface ScalerOptions {
  /** Clip scaled values to ±clip. Default 10: far beyond normal data, still bounded for training. */
  clip?: number;
  /** Largest number of rows read per column when fitting (a strided sample beyond it). Default 200,000. */
  maxRows?: number;
}

export const DEFAULT_CLIP = 10;

/** IQR of a standard normal: dividing by it makes robust units comparable to standard deviations. */
const IQR_TO_SIGMA = 1.349;

/**
 * The sorted finite values of column `j` (a strided sample when n is large). Float64 so later arithmetic on
 * quantiles does not lose precision.
 */
export function sortedColumn(
  rows: Float32Array,
  n: number,
  d: number,
  j: number,
  maxRows = 200_000,
): Float64Array {
  const stride = n > maxRows ? n / maxRows : 1;
  const m = Math.min(n, maxRows);
  const out = new Float64Array(m);
  let k = 0;
  for (let s = 0; s < m; s++) {
    const i = Math.floor(s * stride);
    const v = rows[i * d + j]!;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return out.subarray(0, k).sort();
}

/** Linear-interpolated quantile of sorted values (type 7, as numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = (n - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * frac;
}

function checkMatrix(rows: Float32Array, n: number, d: number): void {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(d) || d < 1) {
    throw new VigilError(
      'INPUT_INVALID',
      `Expected at least one row of at least one feature, got n=${n}, d=${d}.`,
    );
  }
  if (rows.length < n * d) {
    throw new VigilError(
      'INPUT_INVALID',
      `Row buffer holds ${rows.length} values, fewer than n×d = ${n * d}.`,
    );
  }
}

export function fitRobustScaler(
  rows: Float32Array,
  n: number,
  d: number,
  options: ScalerOptions = {},
): ScalerParams {
  checkMatrix(rows, n, d);
  const clip = options.clip ?? DEFAULT_CLIP;
  if (!(clip > 0)) throw new VigilError('CONFIG_INVALID', `Scaler clip must be > 0, got ${clip}.`);
  const center: number[] = [];
  const scale: number[] = [];
  for (let j = 0; j < d; j++) {
    const col = sortedColumn(rows, n, d, j, options.maxRows);
    if (col.length === 0) {
      center.push(0);
      scale.push(1);
      continue;
    }
    const med = quantileSorted(col, 0.5);
    let s = (quantileSorted(col, 0.75) - quantileSorted(col, 0.25)) / IQR_TO_SIGMA;
    // A zero IQR is common (a flag that is mostly 0, an integer count that rarely moves). Fall back to the
    // standard deviation, then to 1, and never below a floor relative to the value's magnitude, so a
    // near-constant feature cannot turn float noise into a huge scaled error.
    const floor = 1e-6 * Math.max(1, Math.abs(med));
    // An indicator (a one-hot category, a flag) keeps unit scale: its standard deviation, √(p(1−p)), would turn
    // a category seen in 1 % of training rows into 10 scaled units, and the rarest categories of normal data
    // would then set the threshold.
    if (!(s > floor) && isIndicator(col)) s = 1;
    if (!(s > floor)) s = stdOf(col);
    if (!(s > floor)) s = 1;
    center.push(Math.fround(med));
    scale.push(Math.fround(s));
  }
  return { kind: 'robust', center, scale, clip };
}

/** Only 0 and 1 (sorted values: the ends say where to look). */
function isIndicator(sorted: Float64Array): boolean {
  if (sorted[0]! < 0 || sorted[sorted.length - 1]! > 1) return false;
  for (let i = 0; i < sorted.length; i++) if (sorted[i] !== 0 && sorted[i] !== 1) return false;
  return true;
}

function stdOf(sorted: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < sorted.length; i++) mean += sorted[i]!;
  mean /= sorted.length;
  let ss = 0;
  for (let i = 0; i < sorted.length; i++) ss += (sorted[i]! - mean) ** 2;
  return Math.sqrt(ss / Math.max(1, sorted.length - 1));
}

/**
 * The model-side view of a scaler, as typed arrays built once (the hot path reads these, never the JSON form).
 */
export class Scaler {
  readonly d: number;
  readonly center: Float32Array;
  readonly scale: Float32Array;
  readonly invScale: Float32Array;
  readonly clip: number;

  constructor(readonly params: ScalerParams) {
    this.d = params.center.length;
    if (params.scale.length !== this.d) {
      throw new VigilError(
        'MODEL_INVALID',
        `Scaler has ${this.d} centres but ${params.scale.length} scales.`,
      );
    }
    this.center = Float32Array.from(params.center);
    this.scale = Float32Array.from(params.scale);
    this.invScale = new Float32Array(this.d);
    for (let j = 0; j < this.d; j++) {
      const s = this.scale[j]!;
      if (!(s > 0) || !Number.isFinite(s)) {
        throw new VigilError(
          'MODEL_INVALID',
          `Scaler scale for feature ${j} is ${s}; it must be finite and > 0.`,
        );
      }
      this.invScale[j] = 1 / s;
    }
    this.clip = params.clip;
  }

  /**
   * Scale and clip `n` rows into `out` (length ≥ n×d). Non-finite inputs become 0, the training median: a
   * missing value then neither scores as an anomaly nor poisons the batch; the feature extractor is the place
   * that decides whether a record with missing values is valid at all.
   */
  transformInto(rows: Float32Array, n: number, out: Float32Array, rowOffset = 0): Float32Array {
    const d = this.d;
    const k = this.clip;
    const base = rowOffset * d;
    const center = this.center;
    const invScale = this.invScale;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const v = rows[base + o + j]!;
        let z = (v - center[j]!) * invScale[j]!;
        if (Number.isNaN(z))
          z = 0; // ±Infinity clips below
        else if (z > k) z = k;
        else if (z < -k) z = -k;
        out[o + j] = z;
      }
    }
    return out;
  }

  transform(rows: Float32Array, n: number): Float32Array {
    return this.transformInto(rows, n, new Float32Array(n * this.d));
  }

  /** Back to input units, in place. */
  inverseInPlace(scaled: Float32Array, n: number): Float32Array {
    const d = this.d;
    for (let i = 0; i < n; i++) {
      const o = i * d;
      for (let j = 0; j < d; j++) scaled[o + j] = scaled[o + j]! * this.scale[j]! + this.center[j]!;
    }
    return scaled;
  }
}
