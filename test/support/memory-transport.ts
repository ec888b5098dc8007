/**
 * An in-memory Transport, for measuring the pipeline's own cost without a broker or a Kafka client (bench/) and
 * for testing the pipeline's logic without one (test/unit/): the consumer hands out records made from a pool
 * of encoded values (a KafkaRecord object and a bigint offset per record, as both real transports build
 * them), the producer acknowledges every send on the next turn of the event loop, and commits succeed, unless
 * a test's hooks say otherwise. Deliveries follow the contract the pipeline relies on: one handler call at a
 * time per partition, pause/resume honoured, onAssigned before the first delivery, onRevoked('close') after
 * the last handler call settles.
 */
import type {
  BatchHandler,
  CommitOffset,
  CommitResult,
  Consumer,
  ConsumerOptions,
  KafkaRecord,
  PartitionLag,
  ProduceMessage,
  Producer,
  RecordHeader,
  TopicPartition,
  Transport,
} from '../../connector/transport/types.js';

export interface EncodedRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export interface MemoryTransportOptions {
  readonly pool: readonly EncodedRecord[];
  /** Records per partition; the consumer stops delivering once each partition has handed them all out. */
  readonly recordsPerPartition: number;
  readonly partitions: number;
  /**
   * Lay the pool out as a keyed producer would: partition p cycles, in pool order, only the records whose key
   * hashes to p, so an entity's records stay in one partition and in order (what per-entity state, temporal
   * features and post-processing, expects of Kafka). Default false: every partition cycles the whole pool
   * from its own starting point, so an entity's records come from several points in time at once.
   */
  readonly keyed?: boolean;
  /**
   * Offsets the client skips after a batch ending at `end` (exclusive), as a transaction's control record
   * takes an offset without being delivered: the batch's nextOffset is `end + gap`. Default 0.
   */
  readonly markerAfter?: (partition: number, end: number) => number;
  /** Delivers each batch this many times over (a client re-fetching after a retry). Default 1. */
  readonly deliveries?: number;
  /** Called for every send before it is acknowledged; throw to fail the send. */
  readonly onSend?: (messages: readonly ProduceMessage[]) => void;
  /** Called for every commit before it is accepted; throw to fail the commit. */
  readonly onCommit?: (offsets: readonly CommitOffset[]) => void;
  /** Keep every acknowledged message in `sent` (tests). Default false. */
  readonly keepMessages?: boolean;
}

export interface MemoryTransportCounters {
  produced: number;
  sends: number;
  commits: number;
  /** Last committed offset per partition. */
  readonly committed: Map<number, bigint>;
  /** Acknowledged messages, when keepMessages is set. */
  readonly sent: ProduceMessage[];
}

export function memoryTransport(
  o: MemoryTransportOptions,
): Transport & { counters: MemoryTransportCounters } {
  const counters: MemoryTransportCounters = {
    produced: 0,
    sends: 0,
    commits: 0,
    committed: new Map(),
    sent: [],
  };
  const producer: Producer = {
    kind: 'rdkafka',
    connect: async () => {},
    async send(messages: readonly ProduceMessage[]) {
      counters.sends++;
      await nextTurn();
      o.onSend?.(messages);
      counters.produced += messages.length;
      if (o.keepMessages === true) counters.sent.push(...messages);
    },
    flush: async () => {},
    close: async () => {},
  };
  return {
    kind: 'rdkafka',
    capabilities: {
      transactions: false,
      transactionalGroupFencing: false,
      exactOffsets: false,
      binaryHeaders: false,
    },
    counters,
    consumer: (options) => new MemoryConsumer(options, o, counters),
    producer: () => producer,
    transactionalProducer: () => {
      throw new Error('memory transport: no transactions');
    },
    admin: () => {
      throw new Error('memory transport: no admin');
    },
    topicReader: () => {
      throw new Error('memory transport: no topic reader');
    },
    close: async () => {},
  };
}

class MemoryConsumer implements Consumer {
  readonly kind = 'rdkafka' as const;
  readonly groupId: string;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private rejectClosed!: (err: unknown) => void;
  private crash: unknown;
  private readonly paused = new Set<number>();
  private readonly waiting = new Map<number, () => void>();
  private readonly loops: Promise<void>[] = [];
  private readonly topic: string;
  private running = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ConsumerOptions,
    private readonly o: MemoryTransportOptions,
    private readonly counters: MemoryTransportCounters,
  ) {
    this.groupId = options.groupId;
    this.topic = options.topics[0]!;
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve;
      this.rejectClosed = reject;
    });
    // Observed here so a test that never awaits `closed` does not see an unhandled rejection.
    this.closed.catch(() => {});
  }

  private partitions(): TopicPartition[] {
    return Array.from({ length: this.o.partitions }, (_, partition) => ({ topic: this.topic, partition }));
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    await this.options.hooks?.onAssigned?.(this.partitions());
    for (let p = 0; p < this.o.partitions; p++) {
      // A handler rejection is fatal (the BatchHandler contract): stop delivering, close, reject `closed`.
      const loop = this.deliverLoop(p, handler).catch((err: unknown) => {
        this.crash ??= err;
        void this.close();
      });
      this.loops.push(loop);
    }
  }

  private async deliverLoop(partition: number, handler: BatchHandler): Promise<void> {
    const max = this.options.maxBatchRecords ?? 500;
    const pool = this.o.keyed ? keyedShare(this.o.pool, partition, this.o.partitions) : this.o.pool;
    const start = this.o.keyed ? 0 : partition * 7919;
    let offset = 0;
    let position = 0;
    while (this.running && offset < this.o.recordsPerPartition) {
      if (this.paused.has(partition)) {
        await new Promise<void>((r) => this.waiting.set(partition, r));
        continue;
      }
      // A fetch is I/O: the next batch arrives on a later turn of the event loop.
      await nextTurn();
      const n = Math.min(max, this.o.recordsPerPartition - offset);
      const records = new Array<KafkaRecord>(n);
      const now = Date.now();
      for (let i = 0; i < n; i++) {
        const r = pool[(offset + i + start) % pool.length]!;
        records[i] = {
          topic: this.topic,
          partition,
          offset: BigInt(position + i),
          key: r.key,
          value: r.value,
          headers: NO_HEADERS,
          timestamp: now,
        };
      }
      offset += n;
      position += n;
      const end = position;
      position += this.o.markerAfter?.(partition, end) ?? 0;
      for (let k = 0; k < (this.o.deliveries ?? 1) && this.running; k++) {
        await handler({
          topic: this.topic,
          partition,
          records,
          nextOffset: BigInt(position),
          highWatermark: BigInt(position),
          epoch: 1,
        });
      }
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.paused.add(p.partition);
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const p of partitions) {
      this.paused.delete(p.partition);
      const wake = this.waiting.get(p.partition);
      this.waiting.delete(p.partition);
      wake?.();
    }
  }

  seek(): void {}

  async commit(offsets: readonly CommitOffset[]): Promise<CommitResult> {
    this.counters.commits++;
    await nextTurn();
    this.o.onCommit?.(offsets);
    for (const c of offsets) this.counters.committed.set(c.partition, c.offset);
    return {
      committed: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset })),
      refused: [],
    };
  }

  assignment(): TopicPartition[] {
    return this.partitions();
  }

  lag(): PartitionLag[] {
    return [];
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.running = false;
      for (const wake of this.waiting.values()) wake();
      await Promise.allSettled(this.loops);
      await this.options.hooks?.onRevoked?.(this.partitions(), { reason: 'close' });
      if (this.crash === undefined) this.resolveClosed();
      else this.rejectClosed(this.crash);
    })();
    return this.closing;
  }
}

/** The records of `pool` whose key hashes (FNV-1a) to `partition`, in pool order. */
function keyedShare(pool: readonly EncodedRecord[], partition: number, partitions: number): EncodedRecord[] {
  return pool.filter((r) => {
    let h = 0x811c9dc5;
    for (const b of r.key ?? []) h = Math.imul(h ^ b, 0x01000193);
    return (h >>> 0) % partitions === partition;
  });
}
