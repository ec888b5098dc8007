import { performance } from 'node:perf_hooks';
import { isRetriable, isVigilError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { VigilMetrics } from '../../core/metrics/vigil-metrics.js';
import { retry } from '../../core/retry.js';
import type { AsyncScorer, BatchScores, Scorer } from '../../model/types.js';
import type { FeatureExtractor } from '../../schemas/features/extractor.js';
import type { AnomalyEvent } from '../../schemas/types.js';
import { type Batch, MicroBatcher, type MicroBatchOptions } from '../batch/micro-batcher.js';
import { BatchScheduler, type Clock, systemClock } from '../batch/scheduler.js';
import { yieldToEventLoop } from '../batch/yield.js';
import { buildAnomalyEvent } from '../events/anomaly-event.js';
import {
  type DeadLetterContext,
  type DeadLetterMessage,
  deadLetterFromError,
  deadLetterFromFeatureFailure,
} from '../events/dead-letter.js';
import { OffsetTracker, partitionKey } from '../offsets/offset-tracker.js';
import type {
  Consumer,
  KafkaRecord,
  ProduceMessage,
  Producer,
  RecordBatch,
  TopicPartition,
  TransactionalProducer,
  Transport,
} from '../transport/types.js';
import type { RecordDecoder } from './decode-stage.js';
import type { OutputCodec } from './output-codec.js';

/**
 * The detection pipeline: the one place that orders the stages.
 *
 *   consume → decode → features → micro-batch → score → build events → produce → ack → commit
 *
 * Delivery (at-least-once): a record is tracked from fetch until every output it caused (anomaly event, score,
 * dead letter) is acknowledged by the broker; only a contiguous acknowledged prefix of a partition is ever
 * committed (OffsetTracker). The consumer handler returns as soon as the records are queued, so fetching
 * overlaps scoring and producing; memory is bounded by the micro-batcher's held-record limits, which pause
 * partitions at the high-water mark and resume them at the low-water mark.
 *
 * Exactly-once: one batch at a time inside a Kafka transaction, its outputs and its input offsets committed
 * together; read_committed consumers downstream see each output once.
 *
 * Rebalance: before partitions are given up, their queued records are scored, outputs flushed and offsets
 * committed; then their state is dropped, so nothing is ever committed for a partition this member lost.
 */

export interface PipelineOptions {
  readonly topics: readonly string[];
  readonly groupId: string;
  readonly anomaliesTopic: string;
  readonly deadLetterTopic: string;
  /** Every record's score, as JSON, when set. */
  readonly scoresTopic?: string;
  readonly batching: MicroBatchOptions & {
    readonly yieldEvery: number;
    /** At-least-once: score what is queued as soon as nothing is in flight (see dispatchIfIdle). Default true. */
    readonly dispatchWhenIdle?: boolean;
  };
  readonly delivery: 'at-least-once' | 'exactly-once';
  /** Score batches produced concurrently in at-least-once mode. Default 4. */
  readonly maxInFlightBatches?: number;
  readonly maxContributions?: number;
  readonly startFrom?: 'earliest' | 'latest';
  /**
   * Least time between offset commits in at-least-once mode, ms. Default 100. Commits still go out only
   * after the outputs are acknowledged; the interval bounds how many a second the broker must write (each is a
   * write to __consumer_offsets) against how much a crash replays. Rebalance and shutdown commit at once.
   */
  readonly commitIntervalMs?: number;
  /** Records per consumer handler call. Default 2000. */
  readonly maxFetchRecords?: number;
  /** Transactional id for exactly-once; stable per replica so a restarted replica fences its predecessor. */
  readonly transactionalId?: string;
  readonly consumer?: {
    readonly sessionTimeoutMs?: number;
    readonly heartbeatIntervalMs?: number;
    readonly maxPollIntervalMs?: number;
    readonly isolation?: 'read_committed' | 'read_uncommitted';
  };
  readonly producer?: { readonly lingerMs?: number; readonly deliveryTimeoutMs?: number };
}

export interface PipelineDeps {
  readonly transport: Transport;
  readonly decoder: RecordDecoder;
  readonly extractor: FeatureExtractor;
  /** In-thread (Detector) or off-thread (the worker pool's AsyncScorer). */
  readonly scorer: Scorer | AsyncScorer;
  readonly output: OutputCodec;
  readonly logger: Logger;
  readonly metrics?: VigilMetrics;
  readonly clock?: Clock;
  /** Called for each anomaly once its event is acknowledged (the demo prints them). */
  readonly onAnomaly?: (event: AnomalyEvent) => void;
}

/** One fetched record on its way through the pipeline. */
interface Item {
  readonly record: KafkaRecord;
  readonly offset: number;
  readonly generation: number;
  /** The features, or null when the record is dead-lettered instead. */
  readonly rows: Float32Array | null;
  readonly row: number;
  readonly entity: string;
  readonly eventTime: number;
  /** When the client handed the record over: the start of Vigil's own latency. */
  readonly fetchedAt: number;
  readonly dead: DeadLetterMessage | null;
}

export interface PipelineStats {
  consumed: number;
  scored: number;
  anomalies: number;
  deadLettered: number;
  batches: number;
  commits: number;
  /** Times fetching was paused for backpressure (partitions, summed). */
  pauses: number;
}

const PRODUCE_RETRY = { maxAttempts: 10, initialDelayMs: 200, maxDelayMs: 5_000 } as const;

export class Pipeline {
  readonly stats: PipelineStats = {
    consumed: 0,
    scored: 0,
    anomalies: 0,
    deadLettered: 0,
    batches: 0,
    commits: 0,
    pauses: 0,
  };

  private readonly opts: PipelineOptions;
  private readonly deps: PipelineDeps;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tracker = new OffsetTracker();
  private readonly batcher: MicroBatcher<Item>;
  private readonly scheduler: BatchScheduler<Item>;
  private readonly maxInFlight: number;
  private readonly idleDispatch: boolean;
  /** The transport's assignment epoch per partition key, echoed on commits so stale ones are refused. */
  private readonly epochs = new Map<string, number>();
  private readonly partitions = new Map<string, TopicPartition>();
  private readonly ready: Batch<Item>[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private scorer: Scorer | AsyncScorer;
  private matrix: Float32Array;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private txProducer: TransactionalProducer | undefined;
  private commitInFlight: Promise<void> | undefined;
  private commitAgain = false;
  private commitTimer: unknown;
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  private failure: unknown;
  private stopping = false;

  constructor(options: PipelineOptions, deps: PipelineDeps) {
    this.opts = options;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.logger;
    this.scorer = deps.scorer;
    if (deps.extractor.width !== deps.scorer.identity.featureNames.length) {
      throw new VigilError(
        'MODEL_INVALID',
        `the model expects ${deps.scorer.identity.featureNames.length} features but the feature mapping yields ${deps.extractor.width}`,
      );
    }
    this.batcher = new MicroBatcher<Item>(options.batching);
    this.scheduler = new BatchScheduler<Item>(this.batcher, this.clock, (b) => this.enqueue(b));
    this.maxInFlight = options.delivery === 'exactly-once' ? 1 : (options.maxInFlightBatches ?? 4);
    this.idleDispatch = options.delivery === 'at-least-once' && (options.batching.dispatchWhenIdle ?? true);
    this.matrix = new Float32Array(options.batching.maxRecords * deps.extractor.width);
  }

  /** Swaps the serving model between batches (the model lifecycle's hot swap). Same feature width only. */
  setScorer(scorer: Scorer | AsyncScorer): void {
    if (scorer.identity.featureNames.length !== this.deps.extractor.width) {
      throw new VigilError('MODEL_INVALID', 'a replacement model must take the same features as the mapping');
    }
    this.scorer = scorer;
  }

  /** Connects and starts consuming. Resolves once the group is being joined; `closed` tells when it ends. */
  async start(): Promise<void> {
    const { transport } = this.deps;
    const o = this.opts;
    if (o.delivery === 'exactly-once') {
      if (!transport.capabilities.transactions) {
        throw new VigilError(
          'CONFIG_INVALID',
          `delivery exactly-once: the ${transport.kind} transport has no transactions`,
        );
      }
      this.txProducer = transport.transactionalProducer({
        transactionalId: o.transactionalId ?? `vigil-${o.groupId}`,
        ...(o.producer ?? {}),
      });
      // Before consuming: a predecessor killed mid-transaction left offsets that stay unstable, and the
      // consumer's offset fetch waiting (librdkafka: up to the transaction timeout), until this fences it.
      await this.txProducer.init();
    } else {
      this.producer = transport.producer(o.producer ?? {});
      await this.producer.connect();
    }
    this.consumer = transport.consumer({
      groupId: o.groupId,
      topics: o.topics,
      startFrom: o.startFrom ?? 'earliest',
      isolation: o.consumer?.isolation ?? 'read_committed',
      maxBatchRecords: o.maxFetchRecords ?? 2000,
      ...(o.consumer?.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: o.consumer.sessionTimeoutMs }),
      ...(o.consumer?.heartbeatIntervalMs === undefined
        ? {}
        : { heartbeatIntervalMs: o.consumer.heartbeatIntervalMs }),
      ...(o.consumer?.maxPollIntervalMs === undefined
        ? {}
        : { maxPollIntervalMs: o.consumer.maxPollIntervalMs }),
      hooks: {
        onAssigned: (parts) => this.onAssigned(parts),
        onRevoked: (parts, info) => this.onRevoked(parts, info.reason),
      },
    });
    await this.consumer.start((batch) => this.handle(batch));
  }

  /** Settles when the consumer stops: resolves after `stop()`, rejects with the error that killed it. */
  get closed(): Promise<void> {
    const consumerClosed = this.consumer?.closed ?? Promise.resolve();
    return consumerClosed.then(() => {
      if (this.failure !== undefined) throw this.failure;
    });
  }

  /** Graceful shutdown: stop fetching, score what is queued, flush outputs, commit, leave the group, close. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // Closing the consumer runs onRevoked('close'), which drains and commits every owned partition.
    await this.consumer?.close();
    this.cancelCommitTimer();
    this.scheduler.close();
    await this.producer?.close();
    await this.txProducer?.close();
  }

  // ------------------------------------------------------------------ consume → decode → features → batch

  private async handle(batch: RecordBatch): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    const { topic, partition, records } = batch;
    const key = partitionKey(topic, partition);
    this.epochs.set(key, batch.epoch);
    const { decoder, extractor, metrics } = this.deps;

    const values = records.map((r) => r.value);
    await retry(() => decoder.prepare(values), { maxAttempts: 20, maxDelayMs: 5_000 });

    const d = extractor.width;
    const rows = new Float32Array(records.length * d);
    const now = this.clock.now();
    const yieldEvery = this.opts.batching.yieldEvery;
    let dead = 0;
    for (let i = 0; i < records.length; i++) {
      if (i > 0 && i % yieldEvery === 0) await yieldToEventLoop();
      const record = records[i]!;
      const offset = Number(record.offset);
      const generation = this.tracker.track(topic, partition, offset);
      // Fetched after its partition was revoked: the partition's next owner reads it again.
      if (generation === undefined) continue;
      const item = this.prepareItem(record, offset, generation, rows, i, now, key);
      if (item.dead !== null) dead++;
      this.scheduler.add(key, item, record.value?.length ?? 0);
    }
    this.stats.consumed += records.length;
    metrics?.recordsConsumed.inc({ topic }, records.length);
    if (dead > 0) this.stats.deadLettered += dead;
    this.applyBackpressure();
    this.dispatchIfIdle();
  }

  /**
   * Nagle's rule for micro-batches: with nothing being scored or produced, a record waiting for its batch to
   * fill waits for nothing, so what is queued goes now; while batches are in flight, records gather into the
   * next one. A batch's size then follows the load (the time one takes × the rate) instead of the linger: low
   * latency at low rates, full batches under load. Exactly-once keeps waiting: each batch is a transaction.
   */
  private dispatchIfIdle(): void {
    if (
      this.idleDispatch &&
      this.inFlight.size === 0 &&
      this.ready.length === 0 &&
      this.batcher.queued > 0 &&
      this.failure === undefined
    ) {
      this.scheduler.flush('idle');
    }
  }

  private prepareItem(
    record: KafkaRecord,
    offset: number,
    generation: number,
    rows: Float32Array,
    i: number,
    now: number,
    key: string,
  ): Item {
    const { decoder, extractor } = this.deps;
    // Hot path: nothing here allocates beyond the decoded value and the Item; the dead-letter paths (rare) do.
    if (record.value === null) {
      const e = new VigilError('DECODE_FAILED', 'record has no value (tombstone)');
      return this.deadItem(record, offset, generation, (c) => deadLetterFromError(e, 'decode', c), now);
    }
    let value: unknown;
    try {
      value = decoder.decode(record.value);
    } catch (err) {
      const e = isVigilError(err) ? err : new VigilError('DECODE_FAILED', String(err), { cause: err });
      return this.deadItem(record, offset, generation, (c) => deadLetterFromError(e, 'decode', c), now);
    }
    const result = extractor.extractInto(value, rows, i * extractor.width, key);
    if (!result.ok) {
      return this.deadItem(record, offset, generation, (c) => deadLetterFromFeatureFailure(result, c), now);
    }
    const entity = extractor.entityOf(value) ?? record.key?.toString('utf8') ?? '';
    const eventTime = extractor.eventTimeOf(value) ?? record.timestamp;
    return { record, offset, generation, rows, row: i, entity, eventTime, fetchedAt: now, dead: null };
  }

  private deadItem(
    record: KafkaRecord,
    offset: number,
    generation: number,
    letterFor: (ctx: DeadLetterContext) => DeadLetterMessage,
    now: number,
  ): Item {
    const letter = letterFor({
      source: { topic: record.topic, partition: record.partition, offset },
      timestamp: record.timestamp,
      key: record.key,
      value: record.value,
      failedAt: now,
    });
    this.deps.metrics?.recordDeadLetter(letter.value.reason_code as never, letter.value.stage as never);
    return {
      record,
      offset,
      generation,
      rows: null,
      row: 0,
      entity: '',
      eventTime: record.timestamp,
      fetchedAt: now,
      dead: letter,
    };
  }

  private applyBackpressure(): void {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const change = this.batcher.backpressure();
    if (change.pause.length > 0) {
      this.stats.pauses += change.pause.length;
      consumer.pause(change.pause.map((k) => this.partitions.get(k)!).filter(Boolean));
    }
    if (change.resume.length > 0)
      consumer.resume(change.resume.map((k) => this.partitions.get(k)!).filter(Boolean));
    this.deps.metrics?.setBuffer(
      this.batcher.held,
      this.batcher.heldSize,
      this.opts.batching.maxBuffered,
      this.batcher.pausedPartitions().length,
    );
  }

  // ------------------------------------------------------------------ score → emit → ack → commit

  private enqueue(batch: Batch<Item>): void {
    this.ready.push(batch);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight.size < this.maxInFlight && this.ready.length > 0) {
      const batch = this.ready.shift()!;
      const p: Promise<void> = this.process(batch)
        .catch((err) => this.fail(err))
        .finally(() => {
          this.inFlight.delete(p);
          this.pump();
          this.dispatchIfIdle();
        });
      this.inFlight.add(p);
    }
  }

  private async process(batch: Batch<Item>): Promise<void> {
    if (this.failure !== undefined) return;
    const { output, metrics, onAnomaly } = this.deps;
    const scorer = this.scorer;
    const items = batch.items;
    const d = this.deps.extractor.width;
    const o = this.opts;

    // Gather the scorable rows into one matrix; dead letters ride along in the same produce.
    const scoredItems: Item[] = [];
    const entities: string[] = [];
    // An async scorer keeps this batch away while the next one is gathered: it gets a matrix of its own.
    const isAsync = 'scoreAsync' in scorer;
    const matrix = isAsync ? new Float32Array(items.length * d) : this.matrix;
    for (let k = 0; k < items.length; k++) {
      const item = items[k]!.value;
      const src = item.rows;
      if (src === null) continue;
      // A plain loop, not set(subarray()): a view per row is an allocation per record.
      const from = item.row * d;
      const to = scoredItems.length * d;
      for (let j = 0; j < d; j++) matrix[to + j] = src[from + j]!;
      scoredItems.push(item);
      entities.push(item.entity);
    }

    const messages: ProduceMessage[] = [];
    const events: AnomalyEvent[] = [];
    const n = scoredItems.length;
    if (n > 0) {
      const t0 = performance.now();
      const scores: BatchScores =
        'scoreAsync' in scorer
          ? await scorer.scoreAsync(matrix, n, entities, { explain: 'anomalies' })
          : scorer.score(matrix, n, entities, { explain: 'anomalies' });
      const detectedAt = this.clock.now();
      metrics?.recordBatch(n, (performance.now() - t0) / 1000, batch.reason);
      for (let k = 0; k < n; k++) {
        const item = scoredItems[k]!;
        if (scores.isAnomaly[k] === 1) {
          const event = buildAnomalyEvent({
            source: { topic: item.record.topic, partition: item.record.partition, offset: item.offset },
            key: item.record.key,
            eventTime: item.eventTime,
            entity: item.entity,
            scores,
            row: k,
            rows: matrix,
            model: scorer.identity,
            detectedAt,
            maxContributions: o.maxContributions ?? 10,
          });
          events.push(event);
          messages.push({
            topic: o.anomaliesTopic,
            key: item.record.key,
            value: output.anomaly(event),
            headers: [{ key: 'vigil.event_id', value: event.event_id }],
          });
        }
        if (o.scoresTopic !== undefined) {
          messages.push({
            topic: o.scoresTopic,
            key: item.record.key,
            value: JSON.stringify({
              topic: item.record.topic,
              partition: item.record.partition,
              offset: item.offset,
              entity: item.entity,
              event_time: item.eventTime,
              score: scores.scores[k],
              threshold: scores.threshold[k],
              severity: scores.severity[k],
              anomaly: scores.isAnomaly[k] === 1,
              model: scorer.identity.version,
            }),
          });
        }
      }
    }
    for (const { value: item } of items) {
      if (item.dead === null) continue;
      messages.push({
        topic: o.deadLetterTopic,
        key: item.dead.key,
        value: output.deadLetter(item.dead.value),
        headers: Object.entries(item.dead.headers).map(([key, value]) => ({ key, value })),
      });
    }

    if (this.txProducer !== undefined) await this.produceTransactionally(batch, messages);
    else {
      await this.produce(messages);
      this.acknowledge(batch);
      this.scheduleCommit();
    }

    const ackedAt = this.clock.now();
    if (metrics !== undefined) {
      for (const { value: item } of items) {
        metrics.endToEndLatency.observe((ackedAt - item.record.timestamp) / 1000);
        metrics.processingLatency.observe((ackedAt - item.fetchedAt) / 1000);
      }
      metrics.recordsScored.inc(n);
      metrics.anomalies.inc(events.length);
    }
    this.stats.scored += n;
    this.stats.anomalies += events.length;
    this.stats.batches++;
    if (onAnomaly !== undefined) for (const e of events) onAnomaly(e);
  }

  private async produce(messages: ProduceMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = this.producer!;
    // Resending a partly written batch duplicates some outputs; event ids are stable, so consumers can dedupe.
    await retry(() => producer.send(messages), {
      ...PRODUCE_RETRY,
      onRetry: (err, attempt, delay) => {
        this.deps.metrics?.recordProduceError('anomalies');
        this.log.warn({ err, attempt, delay }, 'produce failed; retrying');
      },
    });
  }

  private async produceTransactionally(batch: Batch<Item>, messages: ProduceMessage[]): Promise<void> {
    const consumer = this.consumer!;
    let acknowledged = false;
    let commitFailed = false;
    // A retriable failure before the commit (CONCURRENT_TRANSACTIONS while the coordinator is still completing
    // the previous transaction, a leader moving) aborts the transaction and runs it again: read_committed
    // consumers never see an aborted one. A failed commit is not retried: it may have gone through, and only a
    // restart from the committed offsets is safe then.
    await retry(
      async () => {
        const tx = await this.txProducer!.begin();
        try {
          if (messages.length > 0) await tx.send(messages);
          if (!acknowledged) {
            this.acknowledge(batch);
            acknowledged = true;
          }
          const pending = this.tracker.pendingCommits();
          if (pending.length > 0) {
            await tx.sendOffsets(
              consumer,
              pending.map((p) => ({
                topic: p.topic,
                partition: p.partition,
                offset: BigInt(p.offset),
                epoch: this.epochs.get(partitionKey(p.topic, p.partition)),
              })),
            );
          }
          commitFailed = true;
          await tx.commit();
          commitFailed = false;
          for (const p of pending) this.tracker.markCommitted(p);
          this.stats.commits++;
          this.deps.metrics?.recordCommit(true);
        } catch (err) {
          await tx.abort().catch(() => {});
          this.deps.metrics?.recordCommit(false);
          throw err;
        }
      },
      {
        ...PRODUCE_RETRY,
        shouldRetry: (err) => !commitFailed && isRetriable(err),
        onRetry: (err, attempt, delay) =>
          this.log.warn({ err, attempt, delay }, 'transaction failed before its commit; aborted, retrying'),
      },
    );
  }

  /** Every record of the batch has its outputs acknowledged: it may now be committed, and stops being held. */
  private acknowledge(batch: Batch<Item>): void {
    for (const { value: item } of batch.items) {
      this.tracker.ack(item.record.topic, item.record.partition, item.offset, item.generation);
    }
    this.batcher.release(batch);
    this.applyBackpressure();
  }

  /** One commit request at a time; acks that arrive meanwhile are folded into the next one. */
  private scheduleCommit(): void {
    if (this.commitInFlight !== undefined) {
      this.commitAgain = true;
      return;
    }
    if (this.commitTimer !== undefined) return;
    const wait = this.lastCommitAt + (this.opts.commitIntervalMs ?? 100) - this.clock.now();
    if (wait > 0) {
      this.commitTimer = this.clock.setTimeout(() => {
        this.commitTimer = undefined;
        this.scheduleCommit();
      }, wait);
      return;
    }
    this.lastCommitAt = this.clock.now();
    this.commitInFlight = this.commitNow().finally(() => {
      this.commitInFlight = undefined;
      if (this.commitAgain) {
        this.commitAgain = false;
        this.scheduleCommit();
      }
    });
  }

  private cancelCommitTimer(): void {
    if (this.commitTimer === undefined) return;
    this.clock.clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
  }

  private async commitNow(): Promise<void> {
    const consumer = this.consumer;
    if (consumer === undefined) return;
    const pending = this.tracker.pendingCommits();
    if (pending.length === 0) return;
    try {
      const result = await consumer.commit(
        pending.map((p) => ({
          topic: p.topic,
          partition: p.partition,
          offset: BigInt(p.offset),
          epoch: this.epochs.get(partitionKey(p.topic, p.partition)),
        })),
      );
      const accepted = new Set(result.committed.map((c) => partitionKey(c.topic, c.partition)));
      for (const p of pending)
        if (accepted.has(partitionKey(p.topic, p.partition))) this.tracker.markCommitted(p);
      this.stats.commits++;
      this.deps.metrics?.recordCommit(true);
    } catch (err) {
      // Not fatal: the offsets stay pending and go with the next commit; a crash meanwhile only replays.
      this.deps.metrics?.recordCommit(false);
      this.log.warn({ err }, 'offset commit failed; will retry with the next batch');
    }
  }

  // ------------------------------------------------------------------ rebalance and failure

  private onAssigned(parts: readonly TopicPartition[]): void {
    for (const p of parts) {
      const key = partitionKey(p.topic, p.partition);
      this.tracker.assign(p.topic, p.partition);
      this.batcher.assign(key);
      this.partitions.set(key, p);
    }
    this.log.info({ partitions: parts.map((p) => `${p.topic}:${p.partition}`) }, 'partitions assigned');
  }

  private async onRevoked(
    parts: readonly TopicPartition[],
    reason: 'rebalance' | 'close' | 'lost',
  ): Promise<void> {
    if (reason !== 'lost' && this.failure === undefined) {
      // Score and emit everything already fetched for these partitions, then commit it, while they are ours.
      this.scheduler.flush();
      await this.drain();
      this.cancelCommitTimer();
      if (this.commitInFlight !== undefined) await this.commitInFlight;
      await this.commitNow();
    }
    for (const p of parts) {
      const key = partitionKey(p.topic, p.partition);
      this.tracker.revoke(p.topic, p.partition);
      this.batcher.revoke(key);
      this.deps.extractor.forgetStream(key);
      this.partitions.delete(key);
      this.epochs.delete(key);
      this.deps.metrics?.removePartition(p.topic, p.partition);
    }
    this.log.info(
      { reason, partitions: parts.map((p) => `${p.topic}:${p.partition}`) },
      'partitions revoked',
    );
  }

  /** Resolves when every queued and in-flight batch has settled. */
  private async drain(): Promise<void> {
    while (this.inFlight.size > 0 || this.ready.length > 0) {
      this.pump();
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.log.error({ err }, 'pipeline failed; stopping without committing unfinished records');
    this.cancelCommitTimer();
    // The next handler call rethrows, which stops the consumer; close it now too in case no call comes.
    void this.consumer?.close().catch(() => {});
  }
}
