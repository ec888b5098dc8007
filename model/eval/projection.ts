/**
 * Principal component analysis for the latent map of the evaluation report: the bottleneck codes (k ≤ a few
 * dozen values per row) projected onto the two directions of largest variance. PCA is linear and keeps
 * distances along those directions as they are, so what the map shows is in the codes, not made by the
 * projection (a t-SNE or UMAP map can draw clusters that are not there); what it cannot show is structure
 * off the plane, hence the share of variance each axis carries, printed beside the map.
 *
 * Pure functions, no tensors: k is small, and a k × k eigenproblem is solved exactly by cyclic Jacobi
 * rotations (Golub & Van Loan, Matrix Computations, §8.5).
 */

export interface Pca {
  /** Feature count of the rows it was fitted on. */
  readonly k: number;
  /** Mean of the fitted rows, subtracted before projecting. */
  readonly mean: Float64Array;
  /** Unit principal directions, largest variance first; each with its largest-magnitude entry positive. */
  readonly components: readonly Float64Array[];
  /** Variance along each component (eigenvalues of the covariance, divisor n − 1). */
  readonly variances: readonly number[];
  /** Share of the total variance along each component, in [0, 1]. */
  readonly explained: readonly number[];
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major k × k) of a symmetric matrix. */
export function symmetricEigen(a: Float64Array, k: number): { values: number[]; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  const offNorm = () => {
    let s = 0;
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) s += m[i * k + j]! ** 2;
    return s;
  };
  let scale = 0;
  for (let i = 0; i < k * k; i++) scale += m[i]! ** 2;
  for (let sweep = 0; sweep < 100 && offNorm() > 1e-24 * Math.max(scale, 1e-300); sweep++) {
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = m[p * k + q]!;
        if (apq === 0) continue;
        const app = m[p * k + p]!;
        const aqq = m[q * k + q]!;
        // The rotation that zeroes m[p][q]: t = tan θ, the smaller root of t² + 2τt − 1 = 0.
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const mrp = m[r * k + p]!;
          const mrq = m[r * k + q]!;
          m[r * k + p] = c * mrp - s * mrq;
          m[r * k + q] = s * mrp + c * mrq;
        }
        for (let r = 0; r < k; r++) {
          const mpr = m[p * k + r]!;
          const mqr = m[q * k + r]!;
          m[p * k + r] = c * mpr - s * mqr;
          m[q * k + r] = s * mpr + c * mqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r * k + p]!;
          const vrq = v[r * k + q]!;
          v[r * k + p] = c * vrp - s * vrq;
          v[r * k + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  return { values: Array.from({ length: k }, (_, i) => m[i * k + i]!), vectors: v };
}

/**
 * Fit PCA on n rows of k values (row-major), keeping `components` directions (default 2, at most k). Rows
 * with a non-finite value are left out of the fit.
 */
export function fitPca(rows: Float32Array | Float64Array, n: number, k: number, components = 2): Pca {
  if (!(k >= 1) || rows.length < n * k) throw new RangeError(`fitPca: ${rows.length} values for ${n} × ${k}`);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    let ok = true;
    for (let j = 0; j < k; j++) if (!Number.isFinite(rows[i * k + j]!)) ok = false;
    if (ok) keep.push(i);
  }
  const mean = new Float64Array(k);
  for (const i of keep) for (let j = 0; j < k; j++) mean[j] = mean[j]! + rows[i * k + j]!;
  for (let j = 0; j < k; j++) mean[j] = keep.length > 0 ? mean[j]! / keep.length : 0;
  const cov = new Float64Array(k * k);
  for (const i of keep) {
    for (let a = 0; a < k; a++) {
      const da = rows[i * k + a]! - mean[a]!;
      for (let b = a; b < k; b++) cov[a * k + b] = cov[a * k + b]! + da * (rows[i * k + b]! - mean[b]!);
    }
  }
  const div = Math.max(1, keep.length - 1);
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      cov[a * k + b] = cov[a * k + b]! / div;
      cov[b * k + a] = cov[a * k + b]!;
    }
  }
  const { values, vectors } = symmetricEigen(cov, k);
  const order = values.map((_, i) => i).sort((x, y) => values[y]! - values[x]!);
  const total = values.reduce((s, x) => s + Math.max(0, x), 0);
  const take = order.slice(0, Math.min(components, k));
  const comps = take.map((c) => {
    const u = Float64Array.from({ length: k }, (_, r) => vectors[r * k + c]!);
    let big = 0;
    for (let r = 0; r < k; r++) if (Math.abs(u[r]!) > Math.abs(u[big]!)) big = r;
    if (u[big]! < 0) for (let r = 0; r < k; r++) u[r] = -u[r]!;
    return u;
  });
  const variances = take.map((c) => Math.max(0, values[c]!));
  return {
    k,
    mean,
    components: comps,
    variances,
    explained: variances.map((x) => (total > 0 ? x / total : 0)),
  };
}

/** Coordinates of n rows on the fitted components: n × components values, row-major. */
export function projectPca(pca: Pca, rows: Float32Array | Float64Array, n: number): Float64Array {
  const { k, mean, components } = pca;
  const c = components.length;
  const out = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < c; p++) {
      const u = components[p]!;
      let acc = 0;
      for (let j = 0; j < k; j++) acc += (rows[i * k + j]! - mean[j]!) * u[j]!;
      out[i * c + p] = acc;
    }
  }
  return out;
}
