import type { Batch, MicroBatcher } from './micro-batcher.js';

/** Time and timers, injected so linger behaviour is tested with a fake clock instead of real waiting. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending linger must not keep a process alive that is otherwise done.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Drives a MicroBatcher with one linger timer: batches that fill up are handed to `onBatch` synchronously from
 * `add`, and a partly filled batch is handed over when its oldest record's linger runs out. At most one timer
 * is armed, always for the batcher's current deadline.
 */
export class BatchScheduler<T> {
  private timer: unknown;
  private armedFor: number | undefined;
  private closed = false;

  constructor(
    readonly batcher: MicroBatcher<T>,
    private readonly clock: Clock,
    private readonly onBatch: (batch: Batch<T>) => void,
  ) {}

  add(partition: string, value: T, bytes: number): void {
    if (this.closed) throw new Error('BatchScheduler.add after close');
    this.batcher.add(partition, value, bytes, this.clock.now());
    this.drain();
  }

  /** Hands over everything queued now, full or not (shutdown, rebalance; `idle`: the pipeline has nothing to do). */
  flush(reason: 'flush' | 'idle' = 'flush'): void {
    this.disarm();
    for (const b of this.batcher.flush(reason)) this.onBatch(b);
  }

  /** Stops the timer; queued records stay in the batcher (flush first to keep them). */
  close(): void {
    this.closed = true;
    this.disarm();
  }

  /** Re-evaluates after something outside changed the queue (a revoke dropped records). */
  drain(): void {
    const now = this.clock.now();
    for (let b = this.batcher.poll(now); b !== undefined; b = this.batcher.poll(now)) this.onBatch(b);
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    const deadline = this.batcher.deadline();
    if (deadline === this.armedFor) return;
    this.disarm();
    if (deadline === undefined) return;
    this.armedFor = deadline;
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.armedFor = undefined;
        this.drain();
      },
      Math.max(0, deadline - this.clock.now()),
    );
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }
}
