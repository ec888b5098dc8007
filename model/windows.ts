/**
 * Sliding windows for the convolutional autoencoder. A record's model input is the window of its own entity's
 * last `window` records ending at (and including) it; an entity with less history is padded at the front with
 * its earliest record, so every record gets a score from its first appearance.
 *
 * Two forms with one rule: `windowIndices` (training, evaluation: row indices into a matrix already in
 * memory, gathered on the backend) and `WindowHistory` (serving: keeps each entity's last window − 1 scaled
 * rows between batches). A unit test holds them to the same output.
 */
import { VigilError } from '../core/errors.js';

/** Row indices of the window ending at each record, row-major n × window. */
export function windowIndices(n: number, window: number, entities?: readonly string[]): Int32Array {
  const out = new Int32Array(n * window);
  const history = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = entities?.[i] ?? '';
    let h = history.get(key);
    if (h === undefined) {
      h = [];
      history.set(key, h);
    }
    h.push(i);
    if (h.length > window) h.shift();
    const pad = window - h.length;
    for (let t = 0; t < window; t++) out[i * window + t] = t < pad ? h[0]! : h[t - pad]!;
  }
  return out;
}

interface EntityRing {
  /** Last window − 1 rows, oldest at `head`. */
  readonly values: Float32Array;
  count: number;
  head: number;
}

export class WindowHistory {
  private readonly entities = new Map<string, EntityRing>();
  private readonly keep: number;

  /**
   * @param maxEntities bound on entities remembered; the least recently seen is forgotten first (its next
   *   record starts a fresh, padded window).
   */
  constructor(
    readonly d: number,
    readonly window: number,
    readonly maxEntities = 100_000,
  ) {
    if (!(window >= 1)) throw new VigilError('CONFIG_INVALID', `window must be ≥ 1, got ${window}.`);
    this.keep = window - 1;
  }

  get size(): number {
    return this.entities.size;
  }

  clear(): void {
    this.entities.clear();
  }

  /**
   * Write the window ending at each of `n` scaled rows into `out` (n × window × d, time-major) and append the
   * rows to their entities' history. Rows of one entity must arrive in time order.
   */
  windowsInto(
    scaled: Float32Array,
    n: number,
    entities: readonly string[] | undefined,
    out: Float32Array,
  ): Float32Array {
    const { d, window, keep } = this;
    for (let i = 0; i < n; i++) {
      const key = entities?.[i] ?? '';
      let ring = this.entities.get(key);
      if (ring === undefined) {
        ring = { values: new Float32Array(Math.max(1, keep) * d), count: 0, head: 0 };
        if (this.entities.size >= this.maxEntities) {
          const oldest = this.entities.keys().next().value as string;
          this.entities.delete(oldest);
        }
      } else {
        this.entities.delete(key); // re-inserted below: Map order is the recency order
      }
      this.entities.set(key, ring);

      const base = i * window * d;
      const row = i * d;
      const pad = keep - ring.count;
      for (let t = 0; t < keep; t++) {
        const dst = base + t * d;
        if (t < pad) {
          if (ring.count === 0) out.set(scaled.subarray(row, row + d), dst);
          else out.set(ring.values.subarray(ring.head * d, ring.head * d + d), dst);
        } else {
          const slot = (ring.head + t - pad) % keep;
          out.set(ring.values.subarray(slot * d, slot * d + d), dst);
        }
      }
      out.set(scaled.subarray(row, row + d), base + keep * d);

      if (keep > 0) {
        if (ring.count < keep) {
          const slot = (ring.head + ring.count) % keep;
          ring.values.set(scaled.subarray(row, row + d), slot * d);
          ring.count++;
        } else {
          ring.values.set(scaled.subarray(row, row + d), ring.head * d);
          ring.head = (ring.head + 1) % keep;
        }
      }
    }
    return out;
  }
}
