/**
 * Paces output to a target rate. Tokens accrue at `ratePerSec` up to `capacity`; `take(n)` spends n and says how
 * long to wait before the n records may go. A bucket may go into debt, so a caller that waits as told runs at
 * the target rate over the long run however its batches are sized. The bucket starts empty, so a short run is
 * not flattered by an initial burst; the cap stops a stalled producer from "saving up" for a burst later.
 */
export class TokenBucket {
  readonly ratePerSec: number;
  readonly capacity: number;
  private tokens = 0;
  private last: number;

  constructor(ratePerSec: number, capacity: number, now: number) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec))
      throw new RangeError(`rate must be > 0, got ${ratePerSec}`);
    if (!(capacity >= 1)) throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.ratePerSec = ratePerSec;
    this.capacity = capacity;
    this.last = now;
  }

  /** Spends `n` tokens at time `now` (ms); returns the wait in ms before they are covered (0 if they are). */
  take(n: number, now: number): number {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
      this.last = now;
    }
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.ratePerSec;
  }
}

/**
 * Records per batch when paced: about 50 batches a second, so pacing stays smooth at low rates and batches stay
 * large at high ones.
 */
export function pacedBatchSize(ratePerSec: number, maxBatch: number): number {
  return Math.max(1, Math.min(maxBatch, Math.round(ratePerSec / 50)));
}
