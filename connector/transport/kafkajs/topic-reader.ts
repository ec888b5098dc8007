import { randomBytes } from 'node:crypto';
import {
  type Cluster,
  type Kafka,
  type KafkaMessage,
  type PartitionAssigner,
  PartitionAssigners,
} from 'kafkajs';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions, sleep } from '../../../core/retry.js';
import { CatchUp, type ResolvedTopicReaderOptions, resolveTopicReaderOptions } from '../catch-up.js';
import { quietDeferred } from '../deferred.js';
import { classifyKafkajsError, toVigilError } from '../errors.js';
import { headersFromKafkajs } from '../records.js';
import type { BatchHandler, KafkaRecord, TopicReader, TopicReaderOptions } from '../types.js';

/** kafkajs's Fetch request isolation level for read_uncommitted (protocol value 0). */
const READ_UNCOMMITTED = 0;
/** Per-partition fetch size; the broker still returns one whole record batch larger than this (KIP-74). */
const PARTITION_MAX_BYTES = 1_048_576;
const FETCH_RETRY: RetryOptions = { ...DEFAULT_RETRY, initialDelayMs: 100, maxDelayMs: 5_000 };
/** Consecutive failed fetches (retriable ones) before the reader gives up. */
const MAX_FETCH_FAILURES = 8;

type FetchedMessage = KafkaMessage & { readonly isControlRecord?: boolean };
interface FetchedPartition {
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: readonly FetchedMessage[];
}
interface FetchResponse {
  readonly responses: ReadonlyArray<{ readonly topicName: string; readonly partitions: FetchedPartition[] }>;
}
interface FetchingBroker {
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: Array<{
      topic: string;
      partitions: Array<{ partition: number; fetchOffset: string; maxBytes: number }>;
    }>;
  }): Promise<FetchResponse>;
}
type ReaderCluster = Cluster & {
  findBroker(node: { nodeId: string }): Promise<FetchingBroker>;
  fetchTopicsOffset(
    topics: Array<{ topic: string; fromBeginning: boolean; partitions: Array<{ partition: number }> }>,
  ): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }>>;
};

/**
 * A group-less reader on kafkajs. kafkajs has no manual-assignment consumer, so this talks to the partition
 * leaders itself through the client's Cluster object (the one kafkajs hands to a partition assigner, its only
 * public route to it): ListOffsets for the watermarks, then Fetch requests at our own positions. No group is
 * joined (the consumer object that owns the cluster is never connected) and nothing is committed.
 */
export class KafkajsTopicReader implements TopicReader {
  readonly kind = 'kafkajs' as const;
  readonly topic: string;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedTopicReaderOptions;
  private readonly log: Logger;
  private readonly closedDeferred = quietDeferred<void>();
  private readonly stop = new AbortController();
  private state: 'new' | 'running' | 'closed' = 'new';
  private cluster: ReaderCluster | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly kafka: Kafka,
    options: TopicReaderOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.opts = resolveTopicReaderOptions(options);
    this.topic = this.opts.topic;
    this.closed = this.closedDeferred.promise;
    this.log = logger.child({ transport: 'kafkajs', reader: this.topic });
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.state !== 'new') throw new TypeError('TopicReader.start() may be called only once');
    this.state = 'running';
    let progress: CatchUp;
    try {
      progress = await this.connect();
    } catch (err) {
      const error = toVigilError(
        'BROKER_UNAVAILABLE',
        `kafkajs reader of ${this.topic} could not start`,
        err,
        classifyKafkajsError(err),
        { topic: this.topic },
      );
      await this.finish(error);
      throw error;
    }
    const caughtUp = quietDeferred<void>();
    if (progress.caughtUp) caughtUp.resolve();
    this.loop = this.run(progress, handler, caughtUp.resolve).then(
      () => this.finish(undefined),
      (err: unknown) => this.finish(err),
    );
    // Whichever comes first: caught up, or the reader stopped (closed early: resolve; failed: reject).
    await Promise.race([caughtUp.promise, this.closed]);
  }

  private async connect(): Promise<CatchUp> {
    let captured: Cluster | undefined;
    const capture: PartitionAssigner = (ctx) => {
      captured = ctx.cluster;
      return PartitionAssigners.roundRobin(ctx);
    };
    // Never connected: it exists only to build the Cluster kafkajs shares with its assigners.
    this.kafka.consumer({
      groupId: `vigil-reader-unused-${randomBytes(6).toString('hex')}`,
      partitionAssigners: [capture],
      readUncommitted: true,
      allowAutoTopicCreation: false,
    });
    const cluster = captured as ReaderCluster | undefined;
    if (!cluster || typeof cluster.findBroker !== 'function') {
      throw new VigilError(
        'DEPENDENCY_MISSING',
        'kafkajs did not pass its cluster to the partition assigner (kafkajs 2.x needed)',
      );
    }
    this.cluster = cluster;
    await cluster.connect();
    await cluster.addTargetTopic(this.topic);
    const partitions = cluster
      .findTopicPartitionMetadata(this.topic)
      .map((p) => ({ partition: p.partitionId }));
    if (partitions.length === 0) {
      throw new VigilError('CONFIG_INVALID', `topic ${this.topic} does not exist`, {
        details: { topic: this.topic },
      });
    }
    const offsets = async (fromBeginning: boolean) => {
      const [t] = await cluster.fetchTopicsOffset([{ topic: this.topic, fromBeginning, partitions }]);
      return new Map((t?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    };
    const low = await offsets(true);
    const high = await offsets(false);
    return new CatchUp(
      partitions.map(({ partition }) => ({
        partition,
        start: low.get(partition) ?? 0n,
        end: high.get(partition) ?? 0n,
      })),
    );
  }

  private async run(progress: CatchUp, handler: BatchHandler, onCaughtUp: () => void): Promise<void> {
    const cluster = this.cluster!;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      const wanted = progress.partitions().filter((p) => this.opts.follow || !progress.isDone(p));
      if (wanted.length === 0) return;
      let responses: FetchedPartition[];
      try {
        responses = await this.fetchOnce(cluster, progress, wanted);
        failures = 0;
      } catch (err) {
        const f = classifyKafkajsError(err);
        const outOfRange = (err as { type?: string }).type === 'OFFSET_OUT_OF_RANGE';
        if ((!f.retriable && !outOfRange) || ++failures > MAX_FETCH_FAILURES) {
          throw toVigilError('BROKER_UNAVAILABLE', `reading ${this.topic} failed`, err, f, {
            topic: this.topic,
          });
        }
        this.log.warn({ err, attempt: failures }, 'topic reader fetch failed; retrying');
        if (outOfRange) await this.resetToEarliest(cluster, progress);
        await cluster.refreshMetadata().catch(() => {});
        await sleep(backoffDelay(failures, FETCH_RETRY), this.stop.signal);
        continue;
      }
      for (const p of responses) {
        if (this.stop.signal.aborted) return;
        await this.deliver(p, progress, handler);
      }
      if (progress.caughtUp) {
        onCaughtUp();
        if (!this.opts.follow) return;
      }
    }
  }

  private async fetchOnce(
    cluster: ReaderCluster,
    progress: CatchUp,
    partitions: number[],
  ): Promise<FetchedPartition[]> {
    const byLeader = cluster.findLeaderForPartitions(this.topic, partitions);
    const results = await Promise.all(
      Object.entries(byLeader).map(async ([nodeId, ps]) => {
        const broker = await cluster.findBroker({ nodeId });
        const response = await broker.fetch({
          isolationLevel: READ_UNCOMMITTED,
          // While catching up there is data to return at once; only a caught-up partition long-polls.
          maxWaitTime: this.opts.maxWaitMs,
          minBytes: 1,
          maxBytes: PARTITION_MAX_BYTES * ps.length,
          topics: [
            {
              topic: this.topic,
              partitions: ps.map((partition) => ({
                partition,
                fetchOffset: progress.position(partition).toString(),
                maxBytes: PARTITION_MAX_BYTES,
              })),
            },
          ],
        });
        return response.responses.flatMap((r: FetchResponse['responses'][number]) =>
          r.topicName === this.topic ? r.partitions : [],
        );
      }),
    );
    return results.flat();
  }

  private async deliver(p: FetchedPartition, progress: CatchUp, handler: BatchHandler): Promise<void> {
    const from = progress.position(p.partition);
    const highWatermark = BigInt(p.highWatermark);
    const records: KafkaRecord[] = [];
    let next = from;
    for (const m of p.messages) {
      const offset = BigInt(m.offset);
      // A fetch returns whole record batches, so it may start before the position asked for.
      if (offset < from) continue;
      next = offset + 1n;
      if (m.isControlRecord) continue;
      records.push({
        topic: this.topic,
        partition: p.partition,
        offset,
        key: m.key ?? null,
        value: m.value ?? null,
        headers: headersFromKafkajs(m.headers),
        timestamp: Number(m.timestamp),
      });
    }
    for (let i = 0; i < records.length; i += this.opts.maxBatchRecords) {
      const chunk = records.slice(i, i + this.opts.maxBatchRecords);
      const last = chunk[chunk.length - 1]!;
      await handler({
        topic: this.topic,
        partition: p.partition,
        records: chunk,
        nextOffset: i + chunk.length >= records.length ? next : last.offset + 1n,
        highWatermark,
        epoch: 0,
      });
    }
    progress.advance(p.partition, next);
  }

  private async resetToEarliest(cluster: ReaderCluster, progress: CatchUp): Promise<void> {
    const [t] = await cluster.fetchTopicsOffset([
      {
        topic: this.topic,
        fromBeginning: true,
        partitions: progress.partitions().map((partition) => ({ partition })),
      },
    ]);
    for (const p of t?.partitions ?? []) {
      const low = BigInt(p.offset);
      if (progress.position(p.partition) < low) progress.reset(p.partition, low);
    }
  }

  async close(): Promise<void> {
    this.stop.abort();
    if (this.state === 'new') await this.finish(undefined);
    await this.loop;
    await this.closed.catch(() => {});
  }

  private async finish(error: unknown): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stop.abort();
    await this.cluster?.disconnect().catch(() => {});
    this.onClosed?.();
    if (error === undefined) this.closedDeferred.resolve();
    else this.closedDeferred.reject(error);
  }
}
