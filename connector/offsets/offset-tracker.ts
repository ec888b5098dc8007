/**
 * Per-partition offset tracking for at-least-once delivery: pure, no I/O.
 *
 * A record is *in flight* from the moment it is fetched (`track`) until everything it produced — anomaly event,
 * score, dead letter — is acknowledged by the broker (`ack`). The offset that may be committed for a partition
 * is the first offset still in flight, or, when nothing is, one past the last offset tracked: only a contiguous
 * acknowledged prefix is ever committed, so a crash can replay records but never skip one. Acks may arrive in
 * any order (batches finish out of order, produce callbacks interleave).
 *
 * Rebalances: `revoke` drops a partition's state at once, so nothing is committed for a partition this member
 * no longer owns (the new owner's commits would be overwritten). `assign` starts afresh under a new generation;
 * an ack carrying an older generation — a record fetched before the revoke whose output was acknowledged after
 * the partition came back — is ignored, since the new owner may already have re-fetched and committed past it.
 * (Redpanda Connect's kafka input and kafkajs's runner follow the same rules.)
 *
 * Offsets are JavaScript numbers: exact up to 2^53, far beyond any real partition.
 */

export type AckResult =
  /** The record is acknowledged; the committable offset may have moved. */
  | 'acked'
  /** Its generation is over (revoked, maybe reassigned since): ignored. */
  | 'stale'
  /** Acknowledged before: ignored. */
  | 'duplicate'
  /** Never tracked in this generation (or the partition is not assigned): ignored. */
  | 'unknown';

export interface PendingCommit {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume, Kafka's meaning of a committed offset. */
  readonly offset: number;
  readonly generation: number;
}

/** A map key for a topic-partition. Topic names cannot contain ':', so the key is unambiguous. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

class PartitionState {
  /** Tracked offsets, ascending; [head, length) is the window not yet known to be acknowledged. */
  offsets: number[] = [];
  acked: boolean[] = [];
  head = 0;
  /** Acked offsets above `head`, i.e. acknowledged but not yet committable. */
  ackedAhead = 0;
  lastTracked = -1;
  /**
   * Where the client says the partition's next record is (RecordBatch.nextOffset): past the last tracked
   * record, over a transaction's control record, once nothing is in flight.
   */
  end = -1;
  /** The committable offset before anything was acknowledged: nothing below it is ours to commit. */
  floor: number | undefined;
  committed: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly generation: number,
  ) {}

  committable(): number | undefined {
    if (this.floor === undefined) return undefined;
    return this.head < this.offsets.length
      ? this.offsets[this.head]!
      : Math.max(this.lastTracked + 1, this.end);
  }

  inFlight(): number {
    return this.offsets.length - this.head - this.ackedAhead;
  }

  /** Index of `offset` in the arrays (acknowledged prefix included), or -1. */
  indexOf(offset: number): number {
    let lo = 0;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  advance(): void {
    while (this.head < this.offsets.length && this.acked[this.head]) {
      this.head++;
      this.ackedAhead--;
    }
    // Drop the acknowledged prefix now and then, so memory follows what is in flight, not what was ever fetched.
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.acked = this.acked.slice(this.head);
      this.head = 0;
    }
  }
}

export class OffsetTracker {
  private readonly states = new Map<string, PartitionState>();
  private nextGeneration = 1;

  /** Starts tracking a partition afresh; returns its generation, which `track` hands out and `ack` checks. */
  assign(topic: string, partition: number): number {
    const generation = this.nextGeneration++;
    this.states.set(partitionKey(topic, partition), new PartitionState(topic, partition, generation));
    return generation;
  }

  /** Forgets a partition: nothing more is committed for it, and acks of its records are stale. */
  revoke(topic: string, partition: number): void {
    this.states.delete(partitionKey(topic, partition));
  }

  revokeAll(): void {
    this.states.clear();
  }

  generationOf(topic: string, partition: number): number | undefined {
    return this.states.get(partitionKey(topic, partition))?.generation;
  }

  isAssigned(topic: string, partition: number): boolean {
    return this.states.has(partitionKey(topic, partition));
  }

  /**
   * A record was fetched and is now in flight. Returns the generation to ack it with, or undefined when it is
   * not to be processed: its partition is not assigned (it arrived after its partition was revoked), or it was
   * delivered before in this generation (a client that re-fetched after a retry: the first delivery is in
   * flight or done, and its outputs stand for both). Offsets increase within a generation; after a seek,
   * `assign` the partition again.
   */
  track(topic: string, partition: number, offset: number): number | undefined {
    const s = this.states.get(partitionKey(topic, partition));
    if (s === undefined) return undefined;
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new RangeError(`offset must be a non-negative safe integer, got ${offset}`);
    if (offset <= s.lastTracked || offset < s.end) return undefined;
    if (s.floor === undefined) s.floor = offset;
    s.offsets.push(offset);
    s.acked.push(false);
    s.lastTracked = offset;
    return s.generation;
  }

  /**
   * The client delivered everything of the partition below `nextOffset` (RecordBatch.nextOffset), control
   * records included: once the tracked records are acknowledged, the committable offset is `nextOffset`, so a
   * partition that ends in a transaction's commit marker commits past it and shows no lag. Ignored when the
   * partition is not assigned or nothing was tracked in this generation.
   */
  delivered(topic: string, partition: number, nextOffset: number): void {
    const s = this.states.get(partitionKey(topic, partition));
    if (s === undefined || s.floor === undefined) return;
    if (!Number.isSafeInteger(nextOffset)) return;
    if (nextOffset > s.end) s.end = nextOffset;
  }

  /** All the record's outputs are acknowledged (or it was dead-lettered and that is acknowledged). */
  ack(topic: string, partition: number, offset: number, generation: number): AckResult {
    const s = this.states.get(partitionKey(topic, partition));
    if (s === undefined) return generation < this.nextGeneration ? 'stale' : 'unknown';
    if (s.generation !== generation) return 'stale';
    const i = s.indexOf(offset);
    if (i < 0) {
      // Not in the arrays. Below them, it was dropped by compaction, and everything dropped was acknowledged
      // (a gap offset there reads as a duplicate too: either way the ack is ignored).
      const first = s.offsets[0] ?? s.lastTracked + 1;
      return s.floor !== undefined && offset >= s.floor && offset < first ? 'duplicate' : 'unknown';
    }
    if (i < s.head || s.acked[i]) return 'duplicate';
    s.acked[i] = true;
    s.ackedAhead++;
    s.advance();
    return 'acked';
  }

  /** The offset that may be committed for a partition now, or undefined when not assigned or nothing was tracked. */
  committable(topic: string, partition: number): number | undefined {
    return this.states.get(partitionKey(topic, partition))?.committable();
  }

  /** Records of a partition fetched and not yet acknowledged. */
  inFlight(topic: string, partition: number): number {
    return this.states.get(partitionKey(topic, partition))?.inFlight() ?? 0;
  }

  get totalInFlight(): number {
    let n = 0;
    for (const s of this.states.values()) n += s.inFlight();
    return n;
  }

  /** Commits worth making now: assigned partitions whose committable offset moved past the last commit. */
  pendingCommits(): PendingCommit[] {
    const out: PendingCommit[] = [];
    for (const s of this.states.values()) {
      const c = s.committable();
      if (c === undefined) continue;
      const base = s.committed ?? s.floor!;
      if (c > base) out.push({ topic: s.topic, partition: s.partition, offset: c, generation: s.generation });
    }
    return out;
  }

  /**
   * The broker accepted a commit. Ignored (false) when the partition was revoked or reassigned since the
   * commit was prepared, or when a later commit was recorded already.
   */
  markCommitted(commit: PendingCommit): boolean {
    const s = this.states.get(partitionKey(commit.topic, commit.partition));
    if (s === undefined || s.generation !== commit.generation) return false;
    if (s.committed !== undefined && commit.offset <= s.committed) return false;
    s.committed = commit.offset;
    return true;
  }

  /** The last offset recorded as committed for a partition in this generation. */
  committed(topic: string, partition: number): number | undefined {
    return this.states.get(partitionKey(topic, partition))?.committed;
  }
}
