/**
 * Per-entity score post-processing between score and threshold: causal smoothing and an anomaly likelihood,
 * with bounded state. Pure (no Kafka, no tensors, no clock): the same code serves `vigil evaluate`, `vigil
 * score` and the pipeline (through model/postprocess-stage.ts), so streamed scores equal offline ones record for record when an
 * entity's records arrive in the same order.
 *
 * - **EWMA** (`ewmaHalfLife`, in records of the entity): s ← s + α(x − s), α = 1 − 2^(−1/halfLife), seeded with
 *   the entity's first score. telemanom smooths its errors the same way; bench/RESULTS.md measured it as the
 *   lever on NAB.
 * - **Anomaly likelihood** (`likelihood`), in the spirit of Numenta's (Ahmad et al. 2017, HTM's NAB gain): the
 *   tail probability p of the entity's recent (smoothed) score under the entity's own long-run score
 *   distribution, a Gaussian whose mean and variance are exponentially weighted over `halfLife` records (so
 *   the state is O(1) per entity instead of Numenta's rolling window of thousands of scores). The record is
 *   judged against the distribution *before* it joins it. The output is −log10 p (0.30 while the entity has
 *   seen fewer than `warmup` records, as Numenta reports likelihood 0.5 while learning): monotonic in the
 *   likelihood (5 ↔ Numenta's 0.99999) and on a scale the tail fit in model/threshold.ts calibrates.
 * - **Bounded state**: at most `maxEntities` entities; the least recently seen is evicted (a Map kept in
 *   last-seen order), counted in `evictions`; `entitiesHeld` is the gauge. An evicted entity starts afresh.
 */
import { VigilError } from '../core/errors.js';

export interface LikelihoodSettings {
  /** Records after which an old score's weight in the entity's long-run distribution has halved. */
  readonly halfLife: number;
  /** Records an entity must have seen before its likelihood is computed. */
  readonly warmup: number;
}

export interface PostprocessSettings {
  /** Causal EWMA of each entity's scores, half-life in records. Absent or 0: no smoothing. */
  readonly ewmaHalfLife?: number;
  /** Anomaly likelihood of the (smoothed) score. Absent: the smoothed score is the output. */
  readonly likelihood?: LikelihoodSettings;
  /** Most entities with state. */
  readonly maxEntities: number;
}

export const DEFAULT_MAX_ENTITIES = 100_000;
/** The output during warm-up: −log10 0.5. */
export const WARMUP_SCORE = Math.log10(2);
/** The key for records without an entity (one series). */
const NO_ENTITY = '';

interface EntityState {
  smoothed: number;
  mean: number;
  variance: number;
  seen: number;
}

export function validatePostprocess(settings: PostprocessSettings): PostprocessSettings {
  const bad = (key: string, value: unknown, allowed: string): never => {
    throw new VigilError('CONFIG_INVALID', `postprocess.${key} must be ${allowed}, got ${String(value)}.`, {
      details: { key, value, allowed },
    });
  };
  const h = settings.ewmaHalfLife;
  if (h !== undefined && !(Number.isFinite(h) && h >= 0)) bad('ewmaHalfLife', h, 'a number ≥ 0');
  const l = settings.likelihood;
  if (l !== undefined) {
    if (!(Number.isFinite(l.halfLife) && l.halfLife >= 1))
      bad('likelihood.halfLife', l.halfLife, 'a number ≥ 1');
    if (!(Number.isInteger(l.warmup) && l.warmup >= 2)) bad('likelihood.warmup', l.warmup, 'an integer ≥ 2');
  }
  if (!(Number.isInteger(settings.maxEntities) && settings.maxEntities >= 1)) {
    bad('maxEntities', settings.maxEntities, 'an integer ≥ 1');
  }
  return settings;
}

/**
 * ln Q(z) for the standard normal's upper tail Q(z) = erfc(z/√2)/2, without underflow for large z: Numerical
 * Recipes' erfc Chebyshev fit (relative error < 1.2e-7 everywhere), taken in log space.
 */
export function logNormalTail(z: number): number {
  const x = z / Math.SQRT2;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.5 * a);
  const poly =
    -a * a -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const logErfcAbs = Math.log(t) + poly;
  // erfc(−a) = 2 − erfc(a).
  const logErfc = x >= 0 ? logErfcAbs : Math.log(2 - Math.exp(logErfcAbs));
  return logErfc - Math.LN2;
}

export class ScorePostprocessor {
  readonly settings: PostprocessSettings;
  private readonly alpha: number;
  private readonly alphaLong: number;
  private readonly state = new Map<string, EntityState>();
  private evicted = 0;

  constructor(settings: PostprocessSettings) {
    this.settings = validatePostprocess(settings);
    const h = settings.ewmaHalfLife ?? 0;
    this.alpha = h > 0 ? 1 - 2 ** (-1 / h) : 1;
    this.alphaLong = settings.likelihood ? 1 - 2 ** (-1 / settings.likelihood.halfLife) : 0;
  }

  /** Entities with state now (the gauge). */
  get entitiesHeld(): number {
    return this.state.size;
  }

  /** Entities evicted as least recently seen since this processor was made (the counter). */
  get evictions(): number {
    return this.evicted;
  }

  /** Forget every entity (a new recording, or partitions this replica lost). */
  reset(): void {
    this.state.clear();
  }

  /** Forget the state of every key starting with `prefix` (one stream's entities); returns how many. */
  forgetPrefix(prefix: string): number {
    let k = 0;
    for (const key of this.state.keys()) {
      if (key.startsWith(prefix)) {
        this.state.delete(key);
        k++;
      }
    }
    return k;
  }

  /** Forget one entity's state. */
  forget(entity: string): boolean {
    return this.state.delete(entity);
  }

  /**
   * Process n scores in record order, in place into `out` (which may be `scores` itself). `entities[i]` keys
   * record i; without entities every record belongs to one series.
   */
  process(
    scores: ArrayLike<number>,
    n: number,
    entities?: readonly string[],
    out: Float32Array | Float64Array = new Float32Array(n),
  ): Float32Array | Float64Array {
    const lik = this.settings.likelihood;
    for (let i = 0; i < n; i++) {
      const x = scores[i]!;
      const key = entities ? entities[i]! : NO_ENTITY;
      let st = this.state.get(key);
      if (st === undefined) {
        if (this.state.size >= this.settings.maxEntities) {
          // Map iteration is insertion order and every touch re-inserts: the first key is the least recent.
          const oldest = this.state.keys().next().value as string;
          this.state.delete(oldest);
          this.evicted++;
        }
        st = { smoothed: x, mean: 0, variance: 0, seen: 0 };
      } else {
        this.state.delete(key);
      }
      this.state.set(key, st);
      // A NaN score (missing everything) must not poison the entity's state: pass it through untouched.
      if (!Number.isFinite(x)) {
        out[i] = x;
        continue;
      }
      st.smoothed = st.seen === 0 ? x : st.smoothed + this.alpha * (x - st.smoothed);
      const s = st.smoothed;
      if (lik === undefined) {
        st.seen++;
        out[i] = s;
        continue;
      }
      if (st.seen < lik.warmup) {
        out[i] = WARMUP_SCORE;
      } else {
        // The floor keeps a perfectly flat history from turning the first wiggle into an infinite z.
        const sd = Math.sqrt(st.variance + (1e-3 * Math.abs(st.mean)) ** 2 + 1e-24);
        out[i] = -logNormalTail((s - st.mean) / sd) / Math.LN10;
      }
      // Join the long-run distribution after being judged against it (West's exponentially weighted update).
      if (st.seen === 0) {
        st.mean = s;
        st.variance = 0;
      } else {
        const diff = s - st.mean;
        const incr = this.alphaLong * diff;
        st.mean += incr;
        st.variance = (1 - this.alphaLong) * (st.variance + diff * incr);
      }
      st.seen++;
    }
    return out;
  }
}

/** Post-process a whole series (or several entities' records, in order) with fresh state. */
export function postprocessSeries(
  scores: ArrayLike<number>,
  settings: PostprocessSettings,
  entities?: readonly string[],
): Float64Array {
  return new ScorePostprocessor(settings).process(
    scores,
    scores.length,
    entities,
    new Float64Array(scores.length),
  ) as Float64Array;
}
