import {
  type Cluster,
  type EachBatchPayload,
  type IMemberAssignment,
  type Kafka,
  type Consumer as KafkajsClient,
  type KafkaMessage,
  type PartitionAssigner,
  PartitionAssigners,
} from 'kafkajs';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions } from '../../../core/retry.js';
import { type ResolvedConsumerOptions, resolveConsumerOptions } from '../consumer-options.js';
import { quietDeferred, settleAll } from '../deferred.js';
import { classifyKafkajsError, toVigilError } from '../errors.js';
import { type CommitSplit, PartitionOwnership, tpKey } from '../ownership.js';
import { headersFromKafkajs, validateCommitOffsets } from '../records.js';
import type {
  BatchHandler,
  CommitOffset,
  CommitResult,
  Consumer,
  ConsumerOptions,
  KafkaRecord,
  PartitionLag,
  RecordBatch,
  TopicPartition,
  TopicPartitionOffset,
} from '../types.js';

/** Restarts after a crash: capped exponential backoff, forever for retriable causes. */
const RESTART_BACKOFF: RetryOptions = { ...DEFAULT_RETRY, initialDelayMs: 500, maxDelayMs: 30_000 };
/** A crash whose cause no retry fixes (auth, ACLs) is retried this many times, then the consumer fails. */
const MAX_NON_RETRIABLE_RESTARTS = 3;

function toRecord(topic: string, partition: number, m: KafkaMessage): KafkaRecord {
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    key: m.key ?? null,
    value: m.value ?? null,
    headers: headersFromKafkajs(m.headers),
    timestamp: Number(m.timestamp),
  };
}

function byTopic(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const map = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    const list = map.get(topic);
    if (list) list.push(partition);
    else map.set(topic, [partition]);
  }
  return [...map].map(([topic, ps]) => ({ topic, partitions: ps }));
}

function commitSignature(
  topics: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<{ partition: number; offset: string }> }>,
): string {
  const parts: string[] = [];
  for (const t of topics)
    for (const p of t.partitions) parts.push(`${t.topic}\u0000${p.partition}\u0000${p.offset}`);
  return parts.sort().join('\u0001');
}

/**
 * kafkajs consumer behind the Vigil contract.
 *
 * Rebalance ordering. kafkajs has no awaited "partitions revoked" callback: when it learns of a rebalance it
 * stops its fetchers (every eachBatch call has returned by then) and calls JoinGroup. The first thing its
 * JoinGroup step does is `cluster.findGroupCoordinator()`, awaited, on the consumer's own cluster object, which a
 * custom partition assigner receives through kafkajs's public assigner API. Wrapping that one method on that one
 * object gives an awaited point before every JoinGroup: onRevoked runs there, while the member still holds its
 * generation, so commits made in the hook are applied (the coordinator accepts the old generation while the
 * group is preparing the rebalance). See kafkajs src/consumer/consumerGroup.js `[PRIVATE.JOIN]` and runner.js
 * `scheduleFetchManager`. A crash, by contrast, leaves the group before telling anyone: those partitions are
 * reported as 'lost' and commits for them refused.
 *
 * Offsets. eachBatch runs with autoCommit off and eachBatchAutoResolve off; `resolveOffset` is called after
 * each delivered chunk only to move kafkajs's fetch position. Commits go through `commit()`.
 */
export class KafkajsConsumer implements Consumer {
  readonly kind = 'kafkajs' as const;
  readonly groupId: string;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedConsumerOptions;
  private readonly log: Logger;
  private readonly closedDeferred = quietDeferred<void>();
  private readonly ownership = new PartitionOwnership();
  private readonly paused = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly pendingCommits = new Set<Promise<unknown>>();
  /** Signatures of commits kafkajs reported as sent (COMMIT_OFFSETS), to catch the ones it silently drops. */
  private readonly commitsSeen = new Map<string, number>();
  private readonly highWatermarks = new Map<string, bigint>();
  private readonly positions = new Map<string, bigint>();
  private handler: BatchHandler | null = null;
  private client: KafkajsClient | null = null;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private shutdownPromise: Promise<void> | null = null;
  private failed = false;
  private assignedGate: Promise<void> = Promise.resolve();
  private revokeChain: Promise<void> = Promise.resolve();
  private restartAttempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly kafka: Kafka,
    options: ConsumerOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.opts = resolveConsumerOptions(options);
    this.groupId = this.opts.groupId;
    this.closed = this.closedDeferred.promise;
    this.log = logger.child({ transport: 'kafkajs', groupId: this.groupId });
  }

  // ------------------------------------------------------------------ lifecycle

  async start(handler: BatchHandler): Promise<void> {
    if (this.state !== 'new') throw new TypeError('Consumer.start() may be called only once');
    this.handler = handler;
    this.state = 'running';
    try {
      await this.startClient();
    } catch (err) {
      const error = toVigilError(
        'BROKER_UNAVAILABLE',
        'kafkajs consumer could not start',
        err,
        classifyKafkajsError(err),
        {
          groupId: this.groupId,
        },
      );
      await this.shutdown(error);
      throw error;
    }
  }

  private createClient(): KafkajsClient {
    let cluster: Cluster | undefined;
    const assigner: PartitionAssigner = (ctx) => {
      cluster = ctx.cluster;
      return PartitionAssigners.roundRobin(ctx);
    };
    const o = this.opts;
    const client = this.kafka.consumer({
      groupId: o.groupId,
      partitionAssigners: [assigner],
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.maxPollIntervalMs,
      // maxWaitTimeInMs also bounds how long close() and pause() wait for an idle long-poll fetch to return, and
      // how long kafkajs's fetcher sleeps when every partition is paused: it does not wake on resume(), so
      // backpressure that pauses everything for a few ms stalls consumption this long each time (default 100).
      maxWaitTimeInMs: o.fetch.maxWaitMs,
      minBytes: o.fetch.minBytes,
      maxBytes: o.fetch.maxBytes,
      maxBytesPerPartition: o.fetch.maxBytesPerPartition,
      readUncommitted: o.isolation === 'read_uncommitted',
      allowAutoTopicCreation: false,
      // This layer restarts a crashed consumer itself (fresh client, partitions reported lost), so kafkajs must not.
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 5_000, restartOnFailure: async () => false },
    });
    if (!cluster || typeof cluster.findGroupCoordinator !== 'function') {
      throw new VigilError(
        'DEPENDENCY_MISSING',
        'kafkajs did not pass its cluster to the partition assigner (kafkajs 2.x needed)',
      );
    }
    const findGroupCoordinator = cluster.findGroupCoordinator.bind(cluster);
    cluster.findGroupCoordinator = async (group) => {
      await this.beforeJoin(client);
      return findGroupCoordinator(group);
    };
    client.on(client.events.GROUP_JOIN, (e) => this.onGroupJoin(client, e.payload.memberAssignment));
    client.on(client.events.CRASH, (e) => this.onCrash(client, e.payload.error));
    client.on(client.events.COMMIT_OFFSETS, (e) => {
      const sig = commitSignature(e.payload.topics);
      this.commitsSeen.set(sig, (this.commitsSeen.get(sig) ?? 0) + 1);
    });
    return client;
  }

  private async startClient(): Promise<void> {
    const client = this.createClient();
    this.client = client;
    await client.connect();
    await client.subscribe({
      topics: [...this.opts.topics],
      fromBeginning: this.opts.startFrom === 'earliest',
    });
    await client.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      // Per-partition gating is ours; this only lets batches of different partitions of one fetch run together.
      partitionsConsumedConcurrently: 16,
      eachBatch: (payload) => this.eachBatch(client, payload),
    });
  }

  close(): Promise<void> {
    return this.shutdown(undefined);
  }

  /** Stop fetching, let handlers settle, onRevoked('close'), leave the group, disconnect. */
  private shutdown(error: unknown): Promise<void> {
    if (this.shutdownPromise) return this.shutdownPromise;
    this.shutdownPromise = (async () => {
      this.state = 'closing';
      clearTimeout(this.restartTimer);
      try {
        await this.revoke(this.ownership.list(), 'close');
        const client = this.client;
        if (client) {
          try {
            await client.disconnect();
          } catch (err) {
            this.log.warn({ err }, 'kafkajs consumer disconnect failed');
          }
        }
        // Anything assigned by a rebalance racing close() was never delivered: nothing to report.
        this.forget(this.ownership.loseAll(), false);
        this.client = null;
      } finally {
        this.state = 'closed';
        this.onClosed?.();
        if (error === undefined) this.closedDeferred.resolve();
        else this.closedDeferred.reject(error);
      }
    })();
    return this.shutdownPromise;
  }

  /** Fatal: handler or onAssigned rejected, or restarts are exhausted. */
  private fail(err: unknown): void {
    if (this.failed || this.state === 'closed') return;
    this.failed = true;
    this.log.error({ err }, 'consumer failed; closing');
    void this.shutdown(err);
  }

  private onCrash(client: KafkajsClient, error: Error): void {
    if (client !== this.client) return;
    // kafkajs has already left the group (runner.stop) when it reports a crash: the partitions may be someone
    // else's now.
    void this.loseAll();
    if (this.state !== 'running') return;
    this.client = null;
    const failure = classifyKafkajsError(error);
    this.restartAttempt++;
    const transient = failure.retriable || failure.unavailable || failure.rebalance;
    if (!transient && this.restartAttempt > MAX_NON_RETRIABLE_RESTARTS) {
      this.fail(
        toVigilError('BROKER_UNAVAILABLE', 'kafkajs consumer keeps crashing', error, failure, {
          groupId: this.groupId,
          attempts: this.restartAttempt,
        }),
      );
      return;
    }
    const delayMs = backoffDelay(this.restartAttempt, RESTART_BACKOFF);
    this.log.warn(
      { err: error, attempt: this.restartAttempt, delayMs },
      'kafkajs consumer crashed; restarting',
    );
    this.restartTimer = setTimeout(() => {
      if (this.state !== 'running') return;
      this.startClient().catch((err: Error) => {
        // connect/subscribe failures do not go through kafkajs's crash path.
        const current = this.client;
        if (current) {
          current.disconnect().catch(() => {});
          this.onCrash(current, err);
        }
      });
    }, delayMs);
  }

  // ------------------------------------------------------------------ rebalance

  private async beforeJoin(client: KafkajsClient): Promise<void> {
    if (client !== this.client) return;
    const owned = this.ownership.list();
    if (owned.length > 0) await this.revoke(owned, 'rebalance');
    else await this.revokeChain;
  }

  private onGroupJoin(client: KafkajsClient, assignment: IMemberAssignment): void {
    if (client !== this.client) return;
    this.restartAttempt = 0;
    const partitions: TopicPartition[] = [];
    for (const topic of Object.keys(assignment)) {
      for (const partition of assignment[topic] ?? []) partitions.push({ topic, partition });
    }
    // beforeJoin revoked everything; anything left was not revoked through it, so it cannot be trusted.
    if (this.ownership.size > 0) void this.loseAll();
    this.ownership.assign(partitions);
    this.log.info({ partitions: partitions.length }, 'partitions assigned');
    if (this.state !== 'running' || partitions.length === 0) return;
    const onAssigned = this.opts.hooks.onAssigned;
    const revoked = this.revokeChain;
    this.assignedGate = (async () => {
      await revoked;
      if (onAssigned) await onAssigned(partitions);
    })().catch((err) => this.fail(err));
  }

  /**
   * onRevoked for partitions still ours: stop their deliveries, wait for their handlers and for every commit
   * already sent (so none goes out after the group has moved on), run the hook, then give them up.
   */
  private revoke(partitions: readonly TopicPartition[], reason: 'rebalance' | 'close'): Promise<void> {
    const run = this.revokeChain.then(async () => {
      const started = this.ownership.startRevoke(partitions);
      if (started.length === 0) return;
      // Stop fetching them too, or kafkajs refetches the undelivered records in a tight loop meanwhile.
      this.pauseInClient(started);
      await settleAll(started.map((tp) => this.inFlight.get(tpKey(tp.topic, tp.partition))));
      try {
        await this.opts.hooks.onRevoked?.(started, { reason });
      } catch (err) {
        this.log.error({ err, reason }, 'onRevoked failed; giving the partitions up anyway');
      }
      await settleAll(this.pendingCommits);
      this.ownership.finishRevoke(started);
      this.forget(started, reason === 'rebalance');
      this.log.info({ partitions: started.length, reason }, 'partitions revoked');
    });
    this.revokeChain = run.catch(() => {});
    return this.revokeChain;
  }

  /** Partitions gone without a revoke (crash): commits refused at once, hook told 'lost'. */
  private loseAll(): Promise<void> {
    const lost = this.ownership.loseAll();
    if (lost.length === 0) return this.revokeChain;
    const run = this.revokeChain.then(async () => {
      await settleAll(lost.map((tp) => this.inFlight.get(tpKey(tp.topic, tp.partition))));
      try {
        await this.opts.hooks.onRevoked?.(lost, { reason: 'lost' });
      } catch (err) {
        this.log.error({ err }, 'onRevoked (lost) failed');
      }
      this.forget(lost, true);
      this.log.warn({ partitions: lost.length }, 'partitions lost');
    });
    this.revokeChain = run.catch(() => {});
    return this.revokeChain;
  }

  /**
   * Drops per-partition state. Pause state does not survive a revoke: kafkajs would keep it across the
   * rebalance, so the partitions are resumed in the client unless it is about to be closed.
   */
  private forget(partitions: readonly TopicPartition[], resumeInClient: boolean): void {
    for (const tp of partitions) {
      const key = tpKey(tp.topic, tp.partition);
      this.paused.delete(key);
      this.highWatermarks.delete(key);
      this.positions.delete(key);
    }
    if (resumeInClient && partitions.length > 0 && this.client) {
      try {
        this.client.resume(byTopic(partitions));
      } catch {
        // Not running: nothing to resume.
      }
    }
  }

  private pauseInClient(partitions: readonly TopicPartition[]): void {
    if (partitions.length === 0 || !this.client) return;
    try {
      this.client.pause(byTopic(partitions));
    } catch {
      // Between restarts: our own state already stops delivery.
    }
  }

  // ------------------------------------------------------------------ delivery

  private canDeliver(topic: string, partition: number, epoch: number, key: string): boolean {
    return (
      this.state === 'running' && !this.paused.has(key) && this.ownership.canDeliver(topic, partition, epoch)
    );
  }

  private async eachBatch(client: KafkajsClient, payload: EachBatchPayload): Promise<void> {
    if (client !== this.client) return;
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    await this.withHeartbeat(this.assignedGate, heartbeat);
    const { topic, partition } = batch;
    const key = tpKey(topic, partition);
    const epoch = this.ownership.epochOf(topic, partition);
    const messages = batch.messages;
    const count = messages.length;
    if (count === 0 || epoch < 0) return;
    const highWatermark = BigInt(batch.highWatermark);
    this.highWatermarks.set(key, highWatermark);
    // lastOffset() counts filtered control records and aborted messages, so the final chunk's nextOffset steps
    // past a transaction marker instead of leaving the partition one behind forever.
    const endOfBatch = BigInt(batch.lastOffset()) + 1n;
    const max = this.opts.maxBatchRecords;
    for (let start = 0; start < count; ) {
      if (!this.canDeliver(topic, partition, epoch, key) || !isRunning() || isStale()) return;
      const end = Math.min(start + max, count);
      const records = new Array<KafkaRecord>(end - start);
      for (let i = start; i < end; i++) records[i - start] = toRecord(topic, partition, messages[i]!);
      const nextOffset = end === count ? endOfBatch : records[records.length - 1]!.offset + 1n;
      const delivered = await this.deliver(
        key,
        { topic, partition, records, nextOffset, highWatermark, epoch },
        heartbeat,
      );
      if (!delivered) return;
      // Moves kafkajs's fetch position; autoCommit is off, so nothing is committed by this.
      resolveOffset(messages[end - 1]!.offset);
      if (!isStale()) this.positions.set(key, nextOffset);
      start = end;
      if (start < count) await heartbeat();
    }
  }

  /** Runs the handler for one batch; false when it rejected (the consumer is then failing). */
  private async deliver(key: string, batch: RecordBatch, heartbeat: () => Promise<void>): Promise<boolean> {
    let result: Promise<void>;
    try {
      result = this.handler!(batch);
    } catch (err) {
      result = Promise.reject(err);
    }
    const outcome = result.then(
      () => true,
      (err: unknown) => {
        this.fail(err);
        return false;
      },
    );
    const settled = outcome.then(() => {});
    this.inFlight.set(key, settled);
    try {
      return await this.withHeartbeat(outcome, heartbeat);
    } finally {
      if (this.inFlight.get(key) === settled) this.inFlight.delete(key);
    }
  }

  /**
   * kafkajs heartbeats only between batches; keep the session alive while we wait on user code. A rebalance
   * seen here is ignored: kafkajs sees it again on its own next heartbeat and rejoins.
   */
  private async withHeartbeat<T>(promise: Promise<T>, heartbeat: () => Promise<void>): Promise<T> {
    const timer = setInterval(() => {
      heartbeat().catch(() => {});
    }, this.opts.heartbeatIntervalMs);
    try {
      return await promise;
    } finally {
      clearInterval(timer);
    }
  }

  // ------------------------------------------------------------------ control

  pause(partitions: readonly TopicPartition[]): void {
    const owned = partitions.filter((tp) => this.ownership.owns(tp.topic, tp.partition));
    for (const tp of owned) this.paused.add(tpKey(tp.topic, tp.partition));
    this.pauseInClient(owned);
  }

  resume(partitions: readonly TopicPartition[]): void {
    const resumed = partitions.filter((tp) => this.paused.delete(tpKey(tp.topic, tp.partition)));
    if (resumed.length > 0 && this.client) {
      try {
        this.client.resume(byTopic(resumed));
      } catch {
        // Between restarts.
      }
    }
  }

  seek(position: TopicPartitionOffset): void {
    const { topic, partition, offset } = position;
    if (offset < 0n) throw new RangeError('seek offset must be >= 0');
    if (!this.ownership.owns(topic, partition) || !this.client) return;
    this.client.seek({ topic, partition, offset: offset.toString() });
    this.positions.set(tpKey(topic, partition), offset);
  }

  assignment(): TopicPartition[] {
    return this.ownership.list();
  }

  lag(): PartitionLag[] {
    return this.ownership.list().map(({ topic, partition }) => {
      const key = tpKey(topic, partition);
      const highWatermark = this.highWatermarks.get(key) ?? -1n;
      const position = this.positions.get(key) ?? -1n;
      const lag = highWatermark >= 0n && position >= 0n ? highWatermark - position : -1n;
      return { topic, partition, highWatermark, position, lag };
    });
  }

  /** For transactions: the ownership check commit() applies. */
  splitOwned(offsets: readonly CommitOffset[]): CommitSplit {
    validateCommitOffsets(offsets);
    return this.ownership.splitCommit(offsets);
  }

  async commit(offsets: readonly CommitOffset[]): Promise<CommitResult> {
    const { accepted, refused } = this.splitOwned(offsets);
    const client = this.client;
    if (accepted.length === 0 || !client) {
      return { committed: [], refused: [...refused, ...accepted.map(strip)] };
    }
    const request = accepted.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: o.offset.toString(),
    }));
    const signature = commitSignature(
      byTopic(accepted).map(({ topic }) => ({
        topic,
        partitions: request.filter((r) => r.topic === topic),
      })),
    );
    const sent = client.commitOffsets(request);
    this.pendingCommits.add(sent);
    try {
      await sent;
    } catch (err) {
      throw toVigilError(
        'COMMIT_FAILED',
        `commit for group ${this.groupId} failed`,
        err,
        classifyKafkajsError(err),
        {
          groupId: this.groupId,
          offsets: accepted.map((o) => `${o.topic}[${o.partition}]@${o.offset}`),
        },
      );
    } finally {
      this.pendingCommits.delete(sent);
    }
    // kafkajs resolves without sending when its runner has just stopped (crash in progress); it emits
    // COMMIT_OFFSETS only for commits it actually made.
    const seen = this.commitsSeen.get(signature) ?? 0;
    if (seen === 0) {
      throw new VigilError(
        'COMMIT_FAILED',
        `commit for group ${this.groupId} was dropped: the consumer is stopping`,
        {
          retriable: false,
          details: { groupId: this.groupId, rebalance: true },
        },
      );
    }
    if (seen === 1) this.commitsSeen.delete(signature);
    else this.commitsSeen.set(signature, seen - 1);
    return { committed: accepted.map(strip), refused };
  }
}

function strip(o: CommitOffset): TopicPartitionOffset {
  return { topic: o.topic, partition: o.partition, offset: o.offset };
}
