/**
 * The micro-batch accumulator: pure, no timers, no I/O. Records go in with their partition and encoded size;
 * batches come out when `maxRecords` or `maxBytes` is reached, or when the oldest buffered record has waited
 * `lingerMs` (the caller passes the time in, and asks `deadline()` when to look again — see scheduler.ts for
 * the timer-driven wrapper).
 *
 * It also keeps the backpressure accounts. A record counts as *held* from `add` until its batch is released
 * (`release`, after its outputs are acknowledged), so records being scored or produced still count: memory is
 * bounded by what is fetched and not yet finished, not merely by what waits in the queue. Fetching pauses at
 * the high-water mark (`maxBuffered` records or `maxBufferedBytes` in all, or `maxBufferedPerPartition` in one
 * partition) and resumes below the low-water mark (`resumeRatio` × each limit); the gap between the two keeps
 * partitions from flapping. Per-partition accounts let pause/resume name partitions, and let a revoked
 * partition's records be dropped without disturbing the others.
 */

export interface MicroBatchOptions {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly lingerMs: number;
  /** Records held in all before fetching pauses. */
  readonly maxBuffered: number;
  /** Bytes held in all before fetching pauses. Default: unlimited. */
  readonly maxBufferedBytes?: number;
  /** Records held for one partition before that partition pauses. Default: `maxBuffered`. */
  readonly maxBufferedPerPartition?: number;
  /** Low-water mark as a fraction of each limit. Default 0.5. */
  readonly resumeRatio?: number;
}

export interface BatchItem<T> {
  readonly partition: string;
  readonly value: T;
  readonly bytes: number;
}

/**
 * What closed a batch: it was full (`records`, `bytes`), its first record waited `lingerMs` (`linger`), the
 * pipeline drained everything queued (`flush`: shutdown, partition handover), or the pipeline had nothing in
 * flight and took what was queued rather than let it wait (`idle`).
 */
export type BatchReason = 'records' | 'bytes' | 'linger' | 'flush' | 'idle';

export interface Batch<T> {
  readonly items: readonly BatchItem<T>[];
  readonly bytes: number;
  /** What closed the batch. */
  readonly reason: BatchReason;
}

export interface BackpressureChange {
  /** Partitions to pause now (not paused before). */
  readonly pause: readonly string[];
  /** Partitions to resume now (paused before). */
  readonly resume: readonly string[];
}

interface Account {
  records: number;
  bytes: number;
  /** Bumped on revoke, so a release of records fetched before it does not touch the new accounts. */
  epoch: number;
}

interface Queued<T> {
  item: BatchItem<T>;
  arrivedAt: number;
  epoch: number;
}

/** Which epoch of its partition each item of a batch belonged to, kept beside the batch for `release`. */
const batchEpochs = new WeakMap<Batch<unknown>, number[]>();

export class MicroBatcher<T> {
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly lingerMs: number;
  private readonly highRecords: number;
  private readonly highBytes: number;
  private readonly highPartition: number;
  private readonly lowRecords: number;
  private readonly lowBytes: number;
  private readonly lowPartition: number;

  private queue: Queued<T>[] = [];
  private head = 0;
  private queuedBytes = 0;

  private readonly accounts = new Map<string, Account>();
  /** Survives revoke, unlike the account. */
  private readonly epochs = new Map<string, number>();
  private heldRecords = 0;
  private heldBytes = 0;
  private readonly paused = new Set<string>();

  constructor(options: MicroBatchOptions) {
    const positive = (name: string, v: number) => {
      if (!(v > 0)) throw new RangeError(`${name} must be > 0, got ${v}`);
      return v;
    };
    this.maxRecords = positive('maxRecords', options.maxRecords);
    this.maxBytes = positive('maxBytes', options.maxBytes);
    if (!(options.lingerMs >= 0)) throw new RangeError(`lingerMs must be ≥ 0, got ${options.lingerMs}`);
    this.lingerMs = options.lingerMs;
    this.highRecords = positive('maxBuffered', options.maxBuffered);
    this.highBytes = positive('maxBufferedBytes', options.maxBufferedBytes ?? Number.POSITIVE_INFINITY);
    this.highPartition = positive(
      'maxBufferedPerPartition',
      options.maxBufferedPerPartition ?? options.maxBuffered,
    );
    const ratio = options.resumeRatio ?? 0.5;
    if (!(ratio > 0 && ratio < 1)) throw new RangeError(`resumeRatio must be in (0, 1), got ${ratio}`);
    this.lowRecords = this.highRecords * ratio;
    this.lowBytes = this.highBytes * ratio;
    this.lowPartition = this.highPartition * ratio;
  }

  /** Records waiting for a batch. */
  get queued(): number {
    return this.queue.length - this.head;
  }

  get queuedSize(): number {
    return this.queuedBytes;
  }

  /** Records added and not yet released (queued + in flight). */
  get held(): number {
    return this.heldRecords;
  }

  get heldSize(): number {
    return this.heldBytes;
  }

  /** Records held for one partition. */
  heldFor(partition: string): number {
    return this.accounts.get(partition)?.records ?? 0;
  }

  /** Partitions currently paused by `backpressure()`. */
  pausedPartitions(): string[] {
    return [...this.paused];
  }

  /** Starts accounts for a newly assigned partition (also created on first `add`). */
  assign(partition: string): void {
    this.account(partition);
  }

  private account(partition: string): Account {
    let account = this.accounts.get(partition);
    if (account === undefined) {
      account = { records: 0, bytes: 0, epoch: this.epochs.get(partition) ?? 0 };
      this.accounts.set(partition, account);
    }
    return account;
  }

  add(partition: string, value: T, bytes: number, now: number): void {
    if (!(bytes >= 0)) throw new RangeError(`bytes must be ≥ 0, got ${bytes}`);
    const account = this.account(partition);
    account.records++;
    account.bytes += bytes;
    this.heldRecords++;
    this.heldBytes += bytes;
    this.queue.push({ item: { partition, value, bytes }, arrivedAt: now, epoch: account.epoch });
    this.queuedBytes += bytes;
  }

  /** Why a batch would close now, or undefined while it should keep filling. */
  readyReason(now: number): BatchReason | undefined {
    const n = this.queued;
    if (n === 0) return undefined;
    if (n >= this.maxRecords) return 'records';
    if (this.queuedBytes >= this.maxBytes) return 'bytes';
    if (now - this.queue[this.head]!.arrivedAt >= this.lingerMs) return 'linger';
    return undefined;
  }

  /** The next batch if one is due at `now`. Call repeatedly: several may be due at once. */
  poll(now: number): Batch<T> | undefined {
    const reason = this.readyReason(now);
    return reason === undefined ? undefined : this.take(reason);
  }

  /** Everything queued, as batches no larger than the limits (shutdown drain, partition handover, idle). */
  flush(reason: 'flush' | 'idle' = 'flush'): Batch<T>[] {
    const out: Batch<T>[] = [];
    while (this.queued > 0) out.push(this.take(reason));
    return out;
  }

  /** When the oldest queued record's linger runs out (epoch ms), or undefined when nothing is queued. */
  deadline(): number | undefined {
    return this.queued === 0 ? undefined : this.queue[this.head]!.arrivedAt + this.lingerMs;
  }

  /** The batch's records are finished (outputs acknowledged or dead-lettered): they stop counting as held. */
  release(batch: Batch<T>): void {
    const epochs = batchEpochs.get(batch);
    if (epochs === undefined)
      throw new TypeError('release() of a batch this batcher did not produce, or released twice');
    batchEpochs.delete(batch);
    for (let i = 0; i < batch.items.length; i++) {
      const item = batch.items[i]!;
      const account = this.accounts.get(item.partition);
      if (account === undefined || account.epoch !== epochs[i]) continue;
      account.records--;
      account.bytes -= item.bytes;
      this.heldRecords--;
      this.heldBytes -= item.bytes;
    }
  }

  /**
   * The partition was revoked: its queued records are dropped (they will be fetched again by the next owner;
   * scoring them here would only duplicate its work), its in-flight records stop counting, and it is no longer
   * paused. Returns how many queued records were dropped.
   */
  revoke(partition: string): number {
    const account = this.accounts.get(partition);
    this.paused.delete(partition);
    if (account === undefined) return 0;
    const kept: Queued<T>[] = [];
    let dropped = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      if (q.item.partition === partition) {
        dropped++;
        this.queuedBytes -= q.item.bytes;
      } else kept.push(q);
    }
    this.queue = kept;
    this.head = 0;
    this.heldRecords -= account.records;
    this.heldBytes -= account.bytes;
    // The next assignment starts a new epoch, so releasing a batch taken before the revoke leaves it alone.
    this.epochs.set(partition, account.epoch + 1);
    this.accounts.delete(partition);
    return dropped;
  }

  /** True while `partition` should not be fetched: a high-water mark is reached, in all or in it. */
  shouldPause(partition: string): boolean {
    return (
      this.heldRecords >= this.highRecords ||
      this.heldBytes >= this.highBytes ||
      this.heldFor(partition) >= this.highPartition
    );
  }

  /** True once everything has drained below the low-water marks, in all and in `partition`. */
  isResumable(partition: string): boolean {
    return (
      this.heldRecords < this.lowRecords &&
      this.heldBytes < this.lowBytes &&
      this.heldFor(partition) < this.lowPartition
    );
  }

  /**
   * What to pause and resume now among `partitions` (default: every partition seen and not revoked), with
   * hysteresis: a partition pauses at a high-water mark and resumes only below the low-water mark. The caller
   * must carry the change out (consumer.pause / resume); this records it as done.
   */
  backpressure(partitions: Iterable<string> = this.accounts.keys()): BackpressureChange {
    const pause: string[] = [];
    const resume: string[] = [];
    for (const p of partitions) {
      if (this.paused.has(p)) {
        if (this.isResumable(p)) {
          this.paused.delete(p);
          resume.push(p);
        }
      } else if (this.shouldPause(p)) {
        this.paused.add(p);
        pause.push(p);
      }
    }
    return { pause, resume };
  }

  private take(reason: BatchReason): Batch<T> {
    const items: BatchItem<T>[] = [];
    const epochs: number[] = [];
    let bytes = 0;
    while (this.head < this.queue.length && items.length < this.maxRecords) {
      const q = this.queue[this.head]!;
      // A record larger than maxBytes still goes, alone: refusing it would stall the partition for good.
      if (items.length > 0 && bytes + q.item.bytes > this.maxBytes) break;
      items.push(q.item);
      epochs.push(q.epoch);
      bytes += q.item.bytes;
      this.head++;
    }
    this.queuedBytes -= bytes;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const batch: Batch<T> = { items, bytes, reason };
    batchEpochs.set(batch as Batch<unknown>, epochs);
    return batch;
  }
}
