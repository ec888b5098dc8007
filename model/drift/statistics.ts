/**
 * Distribution distances for drift checks. Pure: typed arrays in, numbers out.
 *
 * The reference side is what the artifact keeps of its training data (model/summary.ts): per feature the
 * minimum, the maximum and the values at SUMMARY_QUANTILES. That is read as a piecewise-linear CDF through the
 * knots (0, min), (0.01, q01) … (0.99, q99), (1, max): continuous and monotonic, exact at the knots, linear in
 * between (the tails below 1 % and above 99 % are one straight segment each, so a distance there is coarse).
 * The live side is a sample (the reservoir), sorted.
 *
 * - PSI over the reference's own quantile bins: the expected share of each bin is the gap between its knot
 *   levels (1 %, 4 %, 5 %, 15 %, 25 %, …), the actual share is counted. Knots that coincide (a feature that is
 *   mostly one value) are merged, so no bin is empty by construction.
 * - Kolmogorov–Smirnov D: sup |F_ref − F_sample|, evaluated on both sides of every sample step (the sup of a
 *   continuous CDF against a step function is reached there).
 * - Wasserstein-1: ∫₀¹ |Q_ref(u) − Q_sample(u)| du (the 1-D identity W₁ = ∫|F⁻¹ − G⁻¹|), integrated on a fine
 *   grid; divided by the reference's spread so one threshold fits every feature's units.
 * Two-sample forms (both sides samples) are here too, exact, for the score distribution and for tests against
 * scipy's definitions (scipy.stats.ks_2samp, scipy.stats.wasserstein_distance).
 */

/** A monotonic piecewise-linear CDF: F(values[i]) = levels[i], levels from 0 to 1. */
export interface QuantileKnots {
  readonly levels: readonly number[];
  readonly values: readonly number[];
}

/** Floor on bin shares in PSI, so an empty bin adds a large but finite term (the usual ε convention). */
export const PSI_EPSILON = 1e-4;

/** The knots of a feature summary: min at level 0, the stored quantiles, max at level 1. */
export function knotsFromSummary(
  quantileLevels: readonly number[],
  feature: { readonly min: number; readonly max: number; readonly quantiles: readonly number[] },
): QuantileKnots {
  const levels = [0, ...quantileLevels, 1];
  const values = [feature.min, ...feature.quantiles, feature.max];
  // Monotone by construction of the summary; enforced here against float noise in an edited artifact.
  for (let i = 1; i < values.length; i++) if (values[i]! < values[i - 1]!) values[i] = values[i - 1]!;
  return { levels, values };
}

/** F(x) of the knots: 0 below the first value, 1 from the last; a flat run (equal values) jumps at once. */
export function knotCdf(k: QuantileKnots, x: number): number {
  const v = k.values;
  const n = v.length;
  if (!(x >= v[0]!)) return 0;
  if (x >= v[n - 1]!) return 1;
  // Last knot with value ≤ x (values ascend); then interpolate to the next knot.
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v[mid]! <= x) lo = mid;
    else hi = mid;
  }
  const span = v[hi]! - v[lo]!;
  const t = span > 0 ? (x - v[lo]!) / span : 1;
  return k.levels[lo]! + t * (k.levels[hi]! - k.levels[lo]!);
}

/** F(x−), the limit from the left: below an atom (a run of equal knot values) it is the level before the jump. */
export function knotCdfLeft(k: QuantileKnots, x: number): number {
  const v = k.values;
  for (let i = 0; i < v.length; i++) if (v[i] === x) return k.levels[i]!;
  return knotCdf(k, x);
}

/** Q(u) of the knots, linear between them. */
export function knotQuantile(k: QuantileKnots, u: number): number {
  const l = k.levels;
  const n = l.length;
  if (u <= l[0]!) return k.values[0]!;
  if (u >= l[n - 1]!) return k.values[n - 1]!;
  let i = 1;
  while (l[i]! < u) i++;
  const t = (u - l[i - 1]!) / (l[i]! - l[i - 1]!);
  return k.values[i - 1]! + t * (k.values[i]! - k.values[i - 1]!);
}

/** Empirical quantile of a sorted sample (the left-continuous inverse of its step CDF). */
function sampleQuantile(sorted: ArrayLike<number>, u: number): number {
  const n = sorted.length;
  const i = Math.min(n - 1, Math.max(0, Math.ceil(u * n) - 1));
  return sorted[i]!;
}

/** Index of the first element > x in a sorted array. */
function upperBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** PSI = Σ (a − e) · ln(a / e) over bins, both shares floored at PSI_EPSILON. */
export function psi(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(PSI_EPSILON, expected[i]!);
    const a = Math.max(PSI_EPSILON, actual[i]!);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/**
 * PSI of a sorted sample against the knots' quantile bins. Bin i is (v[i], v[i+1]] for the interior knots, the
 * first bin takes everything up to the first interior edge and the last everything above the last one, so
 * values outside the reference's [min, max] count in the outer bins (that is where a shift shows first).
 */
export function psiAgainstKnots(k: QuantileKnots, sorted: ArrayLike<number>): number {
  if (sorted.length === 0) return Number.NaN;
  // Interior edges with their levels, merging coincident values (the CDF jumps there).
  const edges: number[] = [];
  const edgeLevels: number[] = [];
  const last = k.values.length - 1;
  for (let i = 1; i <= last; i++) {
    const v = k.values[i]!;
    // The maximum only extends an edge it equals (then nothing lies above that edge), never adds one.
    if (edges.length > 0 && v === edges[edges.length - 1]) edgeLevels[edgeLevels.length - 1] = k.levels[i]!;
    else if (i < last) {
      edges.push(v);
      edgeLevels.push(k.levels[i]!);
    }
  }
  const expected: number[] = [];
  const actual: number[] = [];
  let prevLevel = 0;
  let prevCount = 0;
  for (let i = 0; i < edges.length; i++) {
    const count = upperBound(sorted, edges[i]!);
    expected.push(edgeLevels[i]! - prevLevel);
    actual.push((count - prevCount) / sorted.length);
    prevLevel = edgeLevels[i]!;
    prevCount = count;
  }
  expected.push(1 - prevLevel);
  actual.push((sorted.length - prevCount) / sorted.length);
  return psi(expected, actual);
}

/** KS D of a sorted sample against the knots' CDF. */
export function ksAgainstKnots(k: QuantileKnots, sorted: ArrayLike<number>): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  let d = 0;
  let i = 0;
  while (i < n) {
    const x = sorted[i]!;
    let j = i;
    while (j < n && sorted[j] === x) j++;
    // Just below x the sample CDF is i/n, at x it is j/n; the reference's may jump at x too (an atom: a run of
    // equal knots), so each side is compared with the reference on the same side.
    d = Math.max(d, Math.abs(knotCdfLeft(k, x) - i / n), Math.abs(knotCdf(k, x) - j / n));
    i = j;
  }
  return d;
}

const W_GRID = 1000;

/** W₁ of a sorted sample against the knots, by the midpoint rule on W_GRID levels. */
export function wassersteinAgainstKnots(k: QuantileKnots, sorted: ArrayLike<number>): number {
  if (sorted.length === 0) return Number.NaN;
  let sum = 0;
  for (let g = 0; g < W_GRID; g++) {
    const u = (g + 0.5) / W_GRID;
    sum += Math.abs(knotQuantile(k, u) - sampleQuantile(sorted, u));
  }
  return sum / W_GRID;
}

/** Two-sample KS D = sup |F_a − F_b| (scipy.stats.ks_2samp's statistic), both sorted. */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return Number.NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i]!, b[j]!);
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}

/**
 * Asymptotic p-value of a two-sample KS D (Kolmogorov's distribution at √(nm/(n+m))·D, with Stephens'
 * small-sample correction). Reported beside D: with reservoirs of thousands, a tiny D is already
 * "significant", so drift is judged on D itself (an effect size), and p only says whether D could be noise.
 */
export function ksPValue(d: number, n: number, m: number): number {
  const en = Math.sqrt((n * m) / (n + m));
  const lambda = (en + 0.12 + 0.11 / en) * d;
  if (lambda < 1e-3) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda);
    sum += term;
    if (Math.abs(term) < 1e-12) break;
  }
  return Math.min(1, Math.max(0, sum));
}

/** W₁ between two empirical distributions (scipy.stats.wasserstein_distance, unweighted), both sorted. */
export function wassersteinTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return Number.NaN;
  // ∫ |F_a(x) − F_b(x)| dx over the merged support.
  let i = 0;
  let j = 0;
  let prev = Math.min(a[0]!, b[0]!);
  let sum = 0;
  while (i < n || j < m) {
    const x = j >= m || (i < n && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    sum += Math.abs(i / n - j / m) * (x - prev);
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
    prev = x;
  }
  return sum;
}

/** Sorted finite values of column j of a row-major n × d matrix. */
export function sortedFiniteColumn(rows: Float32Array, n: number, d: number, j: number): Float64Array {
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = rows[i * d + j]!;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return out.subarray(0, k).sort();
}
