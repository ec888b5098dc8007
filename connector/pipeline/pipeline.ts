import { performance } from 'node:perf_hooks';
import { isVigilError, VigilError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { VigilMetrics } from '../../core/metrics/vigil-metrics.js';
import { retry } from '../../core/retry.js';
import { PostprocessStage, streamEntityKey } from '../../model/postprocess-stage.js';
import type { AsyncScorer, BatchScores, Scorer } from '../../model/types.js';
import type { FeatureExtractor } from '../../schemas/features/extractor.js';
import type { AnomalyEvent } from '../../schemas/types.js';
import { type Batch, MicroBatcher, type MicroBatchOptions } from '../batch/micro-batcher.js';
import { BatchScheduler, type Clock, systemClock } from '../batch/scheduler.js';
import { yieldToEventLoop } from '../batch/yield.js';
import {
  type DeadLetterContext,
  type DeadLetterMessage,
  deadLetterFromError,
  deadLetterFromFeatureFailure,
} from '../events/dead-letter.js';
import type { IncidentStage } from '../incidents/incident-stage.js';
import { OffsetTracker, partitionKey } from '../offsets/offset-tracker.js';
import type {
  Consumer,
  FetchOptions,
  KafkaRecord,
  Producer,
  ProducerOptions,
  RecordBatch,
  TopicPartition,
  TransactionalProducer,
  Transport,
} from '../transport/types.js';
import { CommitScheduler, commitPending } from './commit-scheduler.js';
import type { RecordDecoder } from './decode-stage.js';
import { deliver, fitToLimit } from './delivery.js';
import { OrderedTurns, type Turn } from './ordered-turns.js';
import type { OutputCodec } from './output-codec.js';
import { buildOutputs, type Item, type Outbound } from './outputs.js';
import { scoreInChunks } from './scoring.js';
import { produceInTransaction } from './transactional.js';

/**
 * The detection pipeline: the one place that orders the stages.
 *
 *   consume → decode → features → micro-batch → score → post-process → build events → produce → ack → commit
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
    readonly fetch?: FetchOptions;
  };
  readonly producer?: Pick<ProducerOptions, 'lingerMs' | 'deliveryTimeoutMs' | 'compression' | 'idempotent'>;
  /**
   * Outputs estimated over this many bytes (key, value, headers and Kafka's framing) are replaced before they
   * are sent, per the poison-output policy (connector/pipeline/delivery.ts). Default 1 000 000: librdkafka's
   * own `message.max.bytes`, just below the broker's default 1 048 588.
   */
  readonly maxMessageBytes?: number;
  /** Rows per synchronous scoring call of an in-thread scorer; the event loop runs between chunks. Default 2048. */
  readonly scoreChunkRows?: number;
}

export interface PipelineDeps {
  readonly transport: Transport;
  /** May reuse one object for every value (DecoderOptions.reuse): each value is read before the next decode. */
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
  /** Called with each batch's scores once its outputs are acknowledged (the live view, connector/live). */
  readonly onScores?: (scores: BatchScores, at: number) => void;
  /** Incidents (connector/incidents): their events go out with each batch's outputs. */
  readonly incidents?: IncidentStage;
  /**
   * Called synchronously with every scored batch before its events are built (connector/lifecycle: feedback
   * thresholds, training reservoir). It may raise `scores.threshold` and clear `scores.isAnomaly`; `rows` is
   * reused after it returns, so it copies what it keeps.
   */
  readonly onScored?: (scored: ScoredBatch) => void;
}

export interface ScoredBatch {
  readonly items: readonly Item[];
  readonly scores: BatchScores;
  /** Row-major items.length × d, in items' order. */
  readonly rows: Float32Array;
  readonly d: number;
  readonly model: Scorer['identity'];
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
  /** Outputs the broker could never accept, replaced by a smaller dead letter (the poison-output policy). */
  replacedOutputs: number;
  /** Records delivered again in the same assignment (a client's re-fetch), dropped as already tracked. */
  redelivered: number;
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
    replacedOutputs: 0,
    redelivered: 0,
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
  /** Batches start in fetch order and take a turn; the incident step runs in turn order (ordered-turns.ts). */
  private readonly incidentTurns = new OrderedTurns();
  private scorer: Scorer | AsyncScorer;
  private matrix: Float32Array;
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private txProducer: TransactionalProducer | undefined;
  private readonly commits: CommitScheduler;
  /** In-thread scorings run one after another (see scoring.ts); this is the tail of that queue. */
  private scoringTail: Promise<unknown> = Promise.resolve();
  /**
   * Per-entity score post-processing (model/postprocess-stage.ts), when the scorer's calibration has it. Owned
   * here, not by the model, so a swap keeps it; batches take their turn at it in dispatch order.
   */
  private readonly post = new PostprocessStage();
  private readonly postTurns = new OrderedTurns();
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
    this.commits = new CommitScheduler({
      clock: this.clock,
      intervalMs: options.commitIntervalMs ?? 100,
      commit: () => this.commitNow(),
    });
    deps.metrics?.watchPostprocessState(this.post);
  }

  /**
   * Swaps the serving model between batches (the model lifecycle's hot swap). Same feature width only.
   * process() reads the scorer once, synchronously, as pump() starts it, so the batches that can still hold
   * the old scorer are exactly those in flight now: the promise settles when they have, and the old model
   * may then be disposed. Batches started later score with the new one; none is scored twice or skipped.
   */
  setScorer(scorer: Scorer | AsyncScorer): Promise<void> {
    if (scorer.identity.featureNames.length !== this.deps.extractor.width) {
      throw new VigilError('MODEL_INVALID', 'a replacement model must take the same features as the mapping');
    }
    this.scorer = scorer;
    return Promise.allSettled([...this.inFlight]).then(() => {});
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
      ...(o.consumer?.fetch === undefined ? {} : { fetch: o.consumer.fetch }),
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
    // Everything is closed even when one close fails; the first failure is then the result.
    const errors: unknown[] = [];
    const attempt = async (what: string, close: (() => Promise<void>) | undefined) => {
      if (close === undefined) return;
      try {
        await close();
      } catch (err) {
        this.log.error({ err }, `${what} close failed`);
        errors.push(err);
      }
    };
    await attempt('consumer', this.consumer && (() => this.consumer!.close()));
    this.commits.close();
    this.scheduler.close();
    await attempt('producer', this.producer && (() => this.producer!.close()));
    await attempt('transactional producer', this.txProducer && (() => this.txProducer!.close()));
    if (errors.length > 0) throw errors[0];
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
      // Fetched after its partition was revoked (the partition's next owner reads it again), or fetched before
      // in this assignment (its first delivery stands for both).
      if (generation === undefined) {
        if (this.tracker.isAssigned(topic, partition)) this.stats.redelivered++;
        continue;
      }
      const item = this.prepareItem(record, offset, generation, rows, i, now, key);
      if (item.dead !== null) dead++;
      this.scheduler.add(key, item, record.value?.length ?? 0);
    }
    // Past a transaction's control record where the client saw one, so the partition's lag can reach 0.
    this.tracker.delivered(topic, partition, Number(batch.nextOffset));
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
    // Taken before the first await: process() is called in the order batches were formed.
    const turn = this.deps.incidents === undefined ? undefined : this.incidentTurns.take();
    try {
      await this.processInTurn(batch, turn);
    } finally {
      turn?.release();
    }
  }

  private async processInTurn(batch: Batch<Item>, turn: Turn | undefined): Promise<void> {
    if (this.failure !== undefined) return;
    const { output, metrics, onAnomaly, onScores, incidents } = this.deps;
    const scorer = this.scorer;
    const items = batch.items.map((i) => i.value);
    const o = this.opts;

    // Built while the scoring turn is held: the events read their rows from the shared matrix.
    let scoredItems: readonly Item[] = [];
    let batchScores: BatchScores | null = null;
    const { outbounds, events } = await this.score(scorer, items, batch.reason, (scored) => {
      scoredItems = scored.items;
      batchScores = scored.scores;
      if (scored.scores !== null) {
        const d = this.deps.extractor.width;
        this.deps.onScored?.({
          items: scored.items,
          scores: scored.scores,
          rows: scored.rows,
          d,
          model: scorer.identity,
        });
      }
      return buildOutputs({
        topics: o,
        codec: output,
        model: scorer.identity,
        items,
        scoredItems: scored.items,
        scores: scored.scores,
        rows: scored.rows,
        detectedAt: this.clock.now(),
        maxContributions: o.maxContributions ?? 10,
        keyByEntity: this.deps.extractor.spec.entityKey !== undefined,
      });
    });
    const n = scoredItems.length;
    // After the batches fetched before this one, whichever finished scoring first.
    const incident =
      incidents === undefined || turn === undefined
        ? undefined
        : await turn.ready.then(() => {
            // The turn ends with the step, not with the batch: the next batch need not wait for this one's sends.
            try {
              return incidents.observe(scoredItems, events, this.clock.now());
            } finally {
              turn.release();
            }
          });
    const all = incident === undefined ? outbounds : [...outbounds, ...incident.outbounds];

    if (this.txProducer !== undefined) await this.produceTransactionally(batch, all);
    else {
      await this.produce(all);
      this.acknowledge(batch);
      this.commits.request();
    }

    const ackedAt = this.clock.now();
    if (metrics !== undefined) {
      for (const item of items) {
        metrics.endToEndLatency.observe((ackedAt - item.record.timestamp) / 1000);
        metrics.processingLatency.observe((ackedAt - item.fetchedAt) / 1000);
      }
      metrics.recordScored(
        scoredItems.map((i) => i.record),
        events.map((e) => e.source),
      );
    }
    this.stats.scored += n;
    this.stats.anomalies += events.length;
    this.stats.batches++;
    if (onScores !== undefined && batchScores !== null) onScores(batchScores, ackedAt);
    if (onAnomaly !== undefined) for (const e of events) onAnomaly(e);
    if (incident !== undefined) incidents?.published(incident.events);
  }

  /**
   * Gathers the scorable rows into one matrix and scores them. In-thread scorers take turns (one scoring at a
   * time, each starting on a fresh turn of the event loop and yielding between chunks), so batches in flight
   * together never hold the thread back to back; they share one matrix, which taking turns makes safe.
   *
   * Post-processing (when the scorer's calibration has it) runs after the raw scores are back, in dispatch
   * order: a batch takes its turn before its first await and waits for it once scored, so a worker finishing
   * batches out of order cannot reorder an entity's records. Every row is then explained ('all'): which rows
   * are anomalies is known only after post-processing, so the scorer's own choice of rows would be wrong.
   */
  private async score<T>(
    scorer: Scorer | AsyncScorer,
    items: readonly Item[],
    reason: Batch<Item>['reason'],
    use: (scored: { items: Item[]; scores: BatchScores | null; rows: Float32Array }) => T,
  ): Promise<T> {
    const d = this.deps.extractor.width;
    const isAsync = 'scoreAsync' in scorer;
    const calibration = scorer.activeCalibration?.postprocess ? scorer.activeCalibration : undefined;
    const run = async () => {
      // Taken before the first await, so turns follow dispatch order (ordered-turns.ts).
      const turn = calibration ? this.postTurns.take() : undefined;
      try {
        // An async scorer keeps this batch away while the next one is gathered: it gets a matrix of its own.
        const matrix = isAsync ? new Float32Array(items.length * d) : this.matrix;
        const scoredItems: Item[] = [];
        const entities: string[] = [];
        for (const item of items) {
          const src = item.rows;
          if (src === null) continue;
          // A plain loop, not set(subarray()): a view per row is an allocation per record.
          const from = item.row * d;
          const to = scoredItems.length * d;
          for (let j = 0; j < d; j++) matrix[to + j] = src[from + j]!;
          scoredItems.push(item);
          entities.push(item.entity);
        }
        const n = scoredItems.length;
        if (n === 0) return use({ items: scoredItems, scores: null, rows: matrix });
        const explain = calibration ? 'all' : 'anomalies';
        const t0 = performance.now();
        let scores: BatchScores = isAsync
          ? await scorer.scoreAsync(matrix, n, entities, { explain })
          : await scoreInChunks(scorer, matrix, n, d, entities, {
              explain,
              chunkRows: this.opts.scoreChunkRows ?? 2048,
            });
        if (calibration && turn) {
          await turn.ready;
          const keys = scoredItems.map((i) =>
            streamEntityKey(partitionKey(i.record.topic, i.record.partition), i.entity),
          );
          scores = this.post.apply(scores, keys, entities, calibration);
        }
        this.deps.metrics?.recordBatch(n, (performance.now() - t0) / 1000, reason);
        this.deps.metrics?.recordScores(scores, n);
        return use({ items: scoredItems, scores, rows: matrix });
      } finally {
        turn?.release();
      }
    };
    if (isAsync) return run();
    const turn = this.scoringTail.then(async () => {
      await yieldToEventLoop();
      return run();
    });
    this.scoringTail = turn.catch(() => {});
    return turn;
  }

  private async produce(outbounds: readonly Outbound[]): Promise<void> {
    if (outbounds.length === 0) return;
    const producer = this.producer!;
    // Resending a partly written batch duplicates some outputs; event ids are stable, so consumers can dedupe.
    await deliver((m) => producer.send(m), outbounds, {
      maxMessageBytes: this.opts.maxMessageBytes ?? 1_000_000,
      retry: PRODUCE_RETRY,
      onRetry: (err, attempt, delay, outputs) => {
        for (const kind of outputs) this.deps.metrics?.recordProduceError(kind);
        this.log.warn({ err, attempt, delay, outputs }, 'produce failed; retrying');
      },
      onReplaced: (from, to, reason) => this.replaced(from, to, reason),
    });
  }

  private replaced(from: Outbound, to: Outbound, reason: string): void {
    this.stats.replacedOutputs++;
    this.deps.metrics?.recordOutputReplaced(from.output);
    if (from.output !== 'dead_letters') this.deps.metrics?.recordDeadLetter('OUTPUT_UNWRITABLE', 'emit');
    const headers = to.message.headers ?? [];
    const at = (k: string) => headers.find((h) => h.key === k)?.value?.toString();
    this.log.warn(
      {
        output: from.output,
        topic: from.message.topic,
        source: `${at('vigil.source.topic')}:${at('vigil.source.partition')}@${at('vigil.source.offset')}`,
        reason,
      },
      'output can never be written as it is; writing a dead letter without the original bytes instead',
    );
  }

  private async produceTransactionally(batch: Batch<Item>, outbounds: readonly Outbound[]): Promise<void> {
    // Only the size limit is applied ahead here: a refused send inside a transaction cannot be isolated
    // message by message, so a refusal beyond the limit stops the pipeline (set output.maxMessageBytes lower).
    const fitted = fitToLimit(outbounds, this.opts.maxMessageBytes ?? 1_000_000, (from, to, reason) =>
      this.replaced(from, to, reason),
    );
    await produceInTransaction(
      fitted.map((x) => x.message),
      {
        producer: this.txProducer!,
        consumer: this.consumer!,
        tracker: this.tracker,
        epochs: this.epochs,
        log: this.log,
        retry: PRODUCE_RETRY,
        acknowledge: () => this.acknowledge(batch),
        onCommit: (ok) => {
          if (ok) this.stats.commits++;
          this.deps.metrics?.recordCommit(ok);
        },
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

  /** Resolves false when the commit failed and is worth trying again. */
  private async commitNow(): Promise<boolean> {
    const consumer = this.consumer;
    if (consumer === undefined) return true;
    const outcome = await commitPending(consumer, this.tracker, this.epochs);
    switch (outcome.kind) {
      case 'none':
        return true;
      case 'committed':
        this.stats.commits++;
        this.deps.metrics?.recordCommit(true);
        return true;
      case 'failed':
        // The offsets stay pending and go with the next commit; a crash meanwhile only replays.
        this.deps.metrics?.recordCommit(false);
        this.log.warn({ err: outcome.error }, 'offset commit failed; will retry');
        return false;
      case 'fatal':
        this.deps.metrics?.recordCommit(false);
        this.fail(outcome.error);
        return true;
    }
  }

  /** Whether this replica holds the partition now (the model lifecycle retrains on one replica only). */
  owns(topic: string, partition: number): boolean {
    return this.partitions.has(partitionKey(topic, partition));
  }

  // ------------------------------------------------------------------ rebalance and failure

  private async onAssigned(parts: readonly TopicPartition[]): Promise<void> {
    for (const p of parts) {
      const key = partitionKey(p.topic, p.partition);
      this.tracker.assign(p.topic, p.partition);
      this.batcher.assign(key);
      this.partitions.set(key, p);
    }
    this.log.info({ partitions: parts.map((p) => `${p.topic}:${p.partition}`) }, 'partitions assigned');
    // Before the partitions' first record (the transports deliver none until this hook settles): their open
    // incidents, read back from the incidents topic.
    await this.deps.incidents?.assigned(parts);
  }

  private async onRevoked(
    parts: readonly TopicPartition[],
    reason: 'rebalance' | 'close' | 'lost',
  ): Promise<void> {
    if (reason !== 'lost' && this.failure === undefined) {
      // Score and emit everything already fetched for these partitions, then commit it, while they are ours.
      this.scheduler.flush();
      await this.drain();
      await this.commits.flush();
    }
    for (const p of parts) {
      const key = partitionKey(p.topic, p.partition);
      this.tracker.revoke(p.topic, p.partition);
      this.batcher.revoke(key);
      this.deps.extractor.forgetStream(key);
      this.post.forgetStream(key);
      this.partitions.delete(key);
      this.deps.incidents?.revoked([p]);
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
    this.commits.close();
    // The next handler call rethrows, which stops the consumer; close it now too in case no call comes.
    void this.consumer
      ?.close()
      .catch((closeErr: unknown) =>
        this.log.warn({ err: closeErr }, 'consumer close after a failure failed'),
      );
  }
}
