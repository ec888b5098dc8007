import { isRetriable, VigilError } from '../../core/errors.js';
import type { Clock } from '../batch/scheduler.js';
import { type OffsetTracker, type PendingCommit, partitionKey } from '../offsets/offset-tracker.js';
import type { CommitOffset, Consumer } from '../transport/types.js';

/**
 * Commit scheduling for at-least-once delivery: one commit request at a time, at most one per interval, acks
 * that arrive meanwhile folded into the next one. What is committed is always the tracker's acknowledged
 * prefix, read when the commit starts.
 */

export interface CommitSchedulerOptions {
  readonly clock: Clock;
  /** Least time between two commits, ms. */
  readonly intervalMs: number;
  /**
   * Commits what is pending; resolves false when it failed in a way worth retrying (see commitPending), and
   * the scheduler then tries again after a backoff even if no further ack arrives (the end of a stream).
   */
  readonly commit: () => Promise<boolean>;
  /** Longest wait before retrying a failed commit, ms. Default 5 000. */
  readonly maxRetryDelayMs?: number;
}

export class CommitScheduler {
  private inFlight: Promise<void> | undefined;
  private again = false;
  private timer: unknown;
  private lastAt = Number.NEGATIVE_INFINITY;
  private closed = false;
  private failures = 0;

  constructor(private readonly o: CommitSchedulerOptions) {}

  /** Asks for a commit soon: now if the interval has passed and none is running, else as soon as allowed. */
  request(): void {
    if (this.closed) return;
    if (this.inFlight !== undefined) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) return;
    const wait = this.lastAt + this.o.intervalMs - this.o.clock.now();
    if (wait > 0) {
      this.timer = this.o.clock.setTimeout(() => {
        this.timer = undefined;
        this.request();
      }, wait);
      return;
    }
    this.start();
  }

  /** Commits now (rebalance, shutdown): waits for a running commit, then makes one more, whatever the interval. */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.inFlight !== undefined) await this.inFlight;
    this.again = false;
    this.start();
    await this.inFlight;
  }

  /** No further commits start; a running one is not interrupted. */
  close(): void {
    this.closed = true;
    this.cancelTimer();
  }

  get running(): boolean {
    return this.inFlight !== undefined;
  }

  private start(): void {
    this.lastAt = this.o.clock.now();
    const p = this.o.commit().then((ok) => {
      if (this.inFlight === p) this.inFlight = undefined;
      if (ok) this.failures = 0;
      else this.retryLater();
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
    this.inFlight = p;
  }

  private retryLater(): void {
    this.failures++;
    if (this.closed || this.timer !== undefined) return;
    const delay = Math.min(
      this.o.maxRetryDelayMs ?? 5_000,
      Math.max(this.o.intervalMs, 100) * 2 ** (this.failures - 1),
    );
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.request();
    }, delay);
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export type CommitOutcome =
  /** Nothing was pending. */
  | { readonly kind: 'none' }
  | { readonly kind: 'committed'; readonly committed: number; readonly refused: number }
  /** Failed, but the offsets stay pending and go with the next commit (a crash meanwhile only replays). */
  | { readonly kind: 'failed'; readonly error: unknown }
  /** Failed for a reason no retry fixes (authorization, an invalid request): the pipeline must stop. */
  | { readonly kind: 'fatal'; readonly error: unknown };

/** The tracker's pending commits as commit requests, each with the epoch of the assignment it came from. */
export function commitRequests(
  pending: readonly PendingCommit[],
  epochs: ReadonlyMap<string, number>,
): CommitOffset[] {
  return pending.map((p) => ({
    topic: p.topic,
    partition: p.partition,
    offset: BigInt(p.offset),
    epoch: epochs.get(partitionKey(p.topic, p.partition)),
  }));
}

/** One commit of everything pending, recorded in the tracker for what the broker accepted. Never rejects. */
export async function commitPending(
  consumer: Pick<Consumer, 'commit'>,
  tracker: OffsetTracker,
  epochs: ReadonlyMap<string, number>,
): Promise<CommitOutcome> {
  const pending = tracker.pendingCommits();
  if (pending.length === 0) return { kind: 'none' };
  try {
    const result = await consumer.commit(commitRequests(pending, epochs));
    const accepted = new Set(result.committed.map((c) => partitionKey(c.topic, c.partition)));
    for (const p of pending) if (accepted.has(partitionKey(p.topic, p.partition))) tracker.markCommitted(p);
    return { kind: 'committed', committed: result.committed.length, refused: result.refused.length };
  } catch (error) {
    return { kind: commitFailureIsFatal(error) ? 'fatal' : 'failed', error };
  }
}

/**
 * A commit failure worth retrying with the next commit: the broker away (retriable), or the group moving on
 * (the partitions are about to be revoked, and their next owner reads from the last commit). Anything else
 * (authorization, an unknown topic, an invalid offset) fails every later commit too, so the lag would only grow.
 */
export function commitFailureIsFatal(err: unknown): boolean {
  if (isRetriable(err)) return false;
  if (!(err instanceof VigilError)) return true;
  if (err.details.rebalance === true) return false;
  if (err.code === 'CONFIG_INVALID') return true;
  // librdkafka's local states (ERR__STATE while its group is being rejoined, say) pass as the client recovers.
  const clientCode = err.details.clientCode;
  return !(typeof clientCode === 'string' && /^(ERR__|librdkafka\(-)/.test(clientCode));
}
