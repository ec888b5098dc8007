import { VigilError } from '../../core/errors.js';
import type { TopicReaderOptions } from './types.js';

/**
 * Where a whole-topic read stands against the end it was asked to reach: each partition's high watermark as it
 * stood when the read began. A partition is done once the next offset to read is at or past that end; gaps
 * left by compaction do not matter, because positions move by the offsets actually delivered.
 */
export class CatchUp {
  private readonly ends = new Map<number, bigint>();
  private readonly positions = new Map<number, bigint>();
  private pending = 0;

  /** `partitions`: start (earliest retained offset) and end (high watermark) per partition. */
  constructor(partitions: ReadonlyArray<{ partition: number; start: bigint; end: bigint }>) {
    for (const { partition, start, end } of partitions) {
      this.ends.set(partition, end);
      this.positions.set(partition, start);
      if (start < end) this.pending++;
    }
  }

  /** Next offset to read of the partition. */
  position(partition: number): bigint {
    const p = this.positions.get(partition);
    if (p === undefined) throw new RangeError(`partition ${partition} is not part of this read`);
    return p;
  }

  /** Records the next offset to read; never moves a partition backwards. */
  advance(partition: number, next: bigint): void {
    const before = this.position(partition);
    if (next <= before) return;
    const end = this.ends.get(partition)!;
    if (before < end && next >= end) this.pending--;
    this.positions.set(partition, next);
  }

  /**
   * Restarts a partition at `start` (its earliest offset moved past our position: retention or compaction
   * removed what we were about to read).
   */
  reset(partition: number, start: bigint): void {
    const before = this.position(partition);
    const end = this.ends.get(partition)!;
    const wasDone = before >= end;
    const isDone = start >= end;
    if (wasDone && !isDone) this.pending++;
    if (!wasDone && isDone) this.pending--;
    this.positions.set(partition, start);
  }

  isDone(partition: number): boolean {
    return this.position(partition) >= this.ends.get(partition)!;
  }

  get caughtUp(): boolean {
    return this.pending === 0;
  }

  partitions(): number[] {
    return [...this.positions.keys()];
  }
}

export interface ResolvedTopicReaderOptions {
  readonly topic: string;
  readonly follow: boolean;
  readonly maxBatchRecords: number;
  readonly maxWaitMs: number;
}

function invalid(key: string, value: unknown, allowed: string): VigilError {
  return new VigilError('CONFIG_INVALID', `topicReader.${key} = ${JSON.stringify(value)}: ${allowed}`, {
    details: { key: `topicReader.${key}`, value, allowed },
  });
}

export function resolveTopicReaderOptions(o: TopicReaderOptions): ResolvedTopicReaderOptions {
  if (typeof o.topic !== 'string' || o.topic.length === 0) throw invalid('topic', o.topic, 'a topic name');
  const maxBatchRecords = o.maxBatchRecords ?? 500;
  if (!Number.isInteger(maxBatchRecords) || maxBatchRecords <= 0)
    throw invalid('maxBatchRecords', o.maxBatchRecords, 'a positive integer');
  const maxWaitMs = o.maxWaitMs ?? 500;
  if (!Number.isInteger(maxWaitMs) || maxWaitMs < 0)
    throw invalid('maxWaitMs', o.maxWaitMs, 'a non-negative integer');
  return { topic: o.topic, follow: o.follow ?? false, maxBatchRecords, maxWaitMs };
}
