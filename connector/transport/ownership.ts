import { VigilError } from '../../core/errors.js';
import type { CommitOffset, TopicPartition, TopicPartitionOffset } from './types.js';

/** Map key for a topic-partition; NUL cannot appear in a topic name. */
export function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function sortPartitions<T extends TopicPartition>(partitions: readonly T[]): T[] {
  return [...partitions].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1,
  );
}

interface Owned {
  readonly topic: string;
  readonly partition: number;
  /** Assignment epoch the partition was assigned under. */
  readonly epoch: number;
  /** A revoke is in progress: no more deliveries, commits still allowed until it finishes. */
  draining: boolean;
}

export interface CommitSplit {
  readonly accepted: CommitOffset[];
  readonly refused: TopicPartitionOffset[];
}

/**
 * Which partitions this consumer owns, shared by both transports. It is the single place that decides whether
 * a record may be delivered and whether a commit may be sent: Kafka's classic group protocol checks only the
 * member's generation on OffsetCommit, not partition ownership, so once a member has rejoined, a commit for a
 * partition it lost would be accepted by the broker. Refusing it here is what keeps a late commit from
 * rewinding or skipping the new owner's progress.
 *
 * Lifecycle of a partition: assign → (deliver, commit)* → startRevoke (no deliveries; commits allowed, for
 * onRevoked to drain) → finishRevoke (gone; commits refused). `lose` skips the draining step.
 */
export class PartitionOwnership {
  private counter = 0;
  private readonly owned = new Map<string, Owned>();

  /** Adds partitions under a new epoch, which is returned. Re-assigning an owned partition gives it the new epoch. */
  assign(partitions: readonly TopicPartition[]): number {
    const epoch = ++this.counter;
    for (const { topic, partition } of partitions) {
      this.owned.set(tpKey(topic, partition), { topic, partition, epoch, draining: false });
    }
    return epoch;
  }

  /** Epoch of an owned partition, or -1. */
  epochOf(topic: string, partition: number): number {
    return this.owned.get(tpKey(topic, partition))?.epoch ?? -1;
  }

  owns(topic: string, partition: number): boolean {
    return this.owned.has(tpKey(topic, partition));
  }

  /** True while the partition is owned and no revoke has started. */
  canDeliver(topic: string, partition: number, epoch?: number): boolean {
    const entry = this.owned.get(tpKey(topic, partition));
    return entry !== undefined && !entry.draining && (epoch === undefined || entry.epoch === epoch);
  }

  /** Stops deliveries for the partitions; returns those actually owned (the ones to hand to onRevoked). */
  startRevoke(partitions: readonly TopicPartition[]): TopicPartition[] {
    const started: TopicPartition[] = [];
    for (const { topic, partition } of partitions) {
      const entry = this.owned.get(tpKey(topic, partition));
      if (entry && !entry.draining) {
        entry.draining = true;
        started.push({ topic, partition });
      }
    }
    return sortPartitions(started);
  }

  /** Gives the partitions up: from here on their commits are refused. */
  finishRevoke(partitions: readonly TopicPartition[]): void {
    for (const { topic, partition } of partitions) this.owned.delete(tpKey(topic, partition));
  }

  /**
   * Drops every partition at once (lost, not revoked): commits for all of them are refused from here on.
   * Returns those not already being revoked (a revoke in progress reports its own partitions).
   */
  loseAll(): TopicPartition[] {
    const lost = this.list(false);
    this.owned.clear();
    return lost;
  }

  /** Owned partitions; `includeDraining` adds those being revoked. */
  list(includeDraining = false): TopicPartition[] {
    const out: TopicPartition[] = [];
    for (const entry of this.owned.values()) {
      if (includeDraining || !entry.draining) out.push({ topic: entry.topic, partition: entry.partition });
    }
    return sortPartitions(out);
  }

  get size(): number {
    return this.owned.size;
  }

  /**
   * Splits a commit into what may be sent and what must be refused. Draining partitions are still owned
   * (onRevoked commits them); an explicit epoch must match the partition's current one.
   */
  splitCommit(offsets: readonly CommitOffset[]): CommitSplit {
    const accepted: CommitOffset[] = [];
    const refused: TopicPartitionOffset[] = [];
    for (const o of offsets) {
      const entry = this.owned.get(tpKey(o.topic, o.partition));
      if (entry && (o.epoch === undefined || o.epoch === entry.epoch)) accepted.push(o);
      else refused.push({ topic: o.topic, partition: o.partition, offset: o.offset });
    }
    return { accepted, refused };
  }
}

/** Offsets of partitions the consumer no longer owns cannot join a transaction: the transaction must abort. */
export function notOwnedInTransaction(refused: readonly TopicPartitionOffset[]): VigilError {
  return new VigilError(
    'COMMIT_FAILED',
    'offsets of partitions this consumer does not own cannot join the transaction',
    {
      retriable: false,
      details: {
        refused: refused.map((o) => `${o.topic}[${o.partition}]@${o.offset}`),
        rebalance: true,
        abortTransaction: true,
      },
    },
  );
}
