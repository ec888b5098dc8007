/**
 * An in-memory Transport for measuring the pipeline's own cost without a broker or a Kafka client: the
 * consumer hands out records made from a pool of encoded values (a KafkaRecord object and a bigint offset per
 * record, as both real transports build them), the producer acknowledges every send on the next turn of the
 * event loop, and commits succeed. Deliveries follow the contract the pipeline relies on: one handler call at
 * a time per partition, pause/resume honoured, onAssigned before the first delivery, onRevoked('close') after
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
import type { EncodedRecord } from './sensor.js';

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export interface MemoryTransportOptions {
  readonly pool: readonly EncodedRecord[];
  /** Records per partition; the consumer stops delivering once each partition has handed them all out. */
  readonly recordsPerPartition: number;
  readonly partitions: number;
}

export interface MemoryTransportCounters {
  produced: number;
  sends: number;
  commits: number;
}

export function memoryTransport(
  o: MemoryTransportOptions,
): Transport & { counters: MemoryTransportCounters } {
  const counters: MemoryTransportCounters = { produced: 0, sends: 0, commits: 0 };
  const producer: Producer = {
    kind: 'rdkafka',
    connect: async () => {},
    async send(messages: readonly ProduceMessage[]) {
      counters.sends++;
      counters.produced += messages.length;
      await nextTurn();
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
    this.closed = new Promise((r) => {
      this.resolveClosed = r;
    });
  }

  private partitions(): TopicPartition[] {
    return Array.from({ length: this.o.partitions }, (_, partition) => ({ topic: this.topic, partition }));
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    await this.options.hooks?.onAssigned?.(this.partitions());
    for (let p = 0; p < this.o.partitions; p++) this.loops.push(this.deliverLoop(p, handler));
  }

  private async deliverLoop(partition: number, handler: BatchHandler): Promise<void> {
    const max = this.options.maxBatchRecords ?? 500;
    const pool = this.o.pool;
    let offset = 0;
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
        const r = pool[(offset + i + partition * 7919) % pool.length]!;
        records[i] = {
          topic: this.topic,
          partition,
          offset: BigInt(offset + i),
          key: r.key,
          value: r.value,
          headers: NO_HEADERS,
          timestamp: now,
        };
      }
      offset += n;
      await handler({
        topic: this.topic,
        partition,
        records,
        nextOffset: BigInt(offset),
        highWatermark: BigInt(this.o.recordsPerPartition),
        epoch: 1,
      });
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
      this.resolveClosed();
    })();
    return this.closing;
  }
}
