import type {
  ConsumerGlobalConfig,
  ConsumerTopicConfig,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  TopicPartition as RdTopicPartition,
} from 'node-rdkafka';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryOptions } from '../../../core/retry.js';
import { type ResolvedConsumerOptions, resolveConsumerOptions } from '../consumer-options.js';
import { type Deferred, deferred, quietDeferred, settleAll, withTimeout } from '../deferred.js';
import { RD, toVigilError } from '../errors.js';
import { type CommitSplit, PartitionOwnership, tpKey } from '../ownership.js';
import { headersFromRdkafka, offsetToNumber, validateCommitOffsets } from '../records.js';
import {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  rdkafkaConnectionProperties,
} from '../security.js';
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
  TransportOptions,
} from '../types.js';
import { classifyRd, errorLogThrottle, loadRdkafka, logTransientError, rdCall, rdConnect } from './load.js';

const RESTART_BACKOFF: RetryOptions = { ...DEFAULT_RETRY, initialDelayMs: 500, maxDelayMs: 30_000 };
/**
 * How long a waiting call (see kickFetch) blocks for its first record. node-rdkafka applies a consume timeout to
 * every message of a consume(n) call, not to the call, so only calls of one record may wait: a call of n that
 * waits holds the records it has until n arrive or the stream pauses that long. Short enough that closing,
 * seeks and callbacks served by the calls are not held up.
 */
const WAIT_MS = 50;

interface PartState {
  readonly topic: string;
  readonly partition: number;
  readonly key: string;
  readonly epoch: number;
  buffer: KafkaRecord[];
  head: number;
  inFlight: Promise<void> | null;
  userPaused: boolean;
  /** Paused in librdkafka: by the user, or because the buffer is full. */
  fetchPaused: boolean;
  position: bigint;
  highWatermark: bigint;
  /** The offset after the last record taken from librdkafka (-1: none yet); what is below it is a refetch. */
  fetchedUpTo: number;
}

interface PendingCommit {
  readonly signature: string;
  readonly done: Deferred<void>;
}

function commitSignature(tps: ReadonlyArray<{ topic: string; partition: number; offset?: number }>): string {
  return tps
    .map((t) => `${t.topic}\u0000${t.partition}\u0000${t.offset ?? -1}`)
    .sort()
    .join('\u0001');
}

/**
 * node-rdkafka consumer behind the Vigil contract.
 *
 * Fetching: one `consume(n)` call at a time on the libuv pool, sized from the observed rate, feeding a buffer per
 * partition; calls stop while the buffers are full (see fetchGateOpen). Pausing a partition in librdkafka (user
 * pause, or one partition hoarding) drops what it had prefetched for it and refetches from the position after the
 * last record handed to us, so no record is lost or repeated. Unlike flowing mode (`consume()` without a count),
 * this keeps memory bounded even while the event loop is busy: nothing is fetched that no call asked for.
 *
 * Rebalance: librdkafka waits, after a revoke event, until the application calls unassign(); node-rdkafka hands
 * the event to JS and returns at once, so onRevoked runs (and its commits go out under the old generation)
 * before unassign() lets librdkafka rejoin. See librdkafka's rd_kafka_conf_set_rebalance_cb documentation.
 */
export class RdkafkaConsumer implements Consumer {
  readonly kind = 'rdkafka' as const;
  readonly groupId: string;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedConsumerOptions;
  private readonly log: Logger;
  private readonly closedDeferred = quietDeferred<void>();
  private readonly ownership = new PartitionOwnership();
  private readonly parts = new Map<string, PartState>();
  private readonly pendingCommits: PendingCommit[] = [];
  private readonly commitsInFlight = new Set<Promise<unknown>>();
  private readonly pendingSeeks = new Map<string, TopicPartitionOffset>();
  private readonly throttle = errorLogThrottle();
  private readonly requestTimeoutMs: number;
  private readonly connectionTimeoutMs: number;
  private readonly maxFetch: number;
  private handler: BatchHandler | null = null;
  private client: KafkaConsumer | null = null;
  private state: 'new' | 'running' | 'closing' | 'closed' = 'new';
  private shutdownPromise: Promise<void> | null = null;
  private failed = false;
  private gateOpen = true;
  private revokeChain: Promise<void> = Promise.resolve();
  private fetching: Promise<void> | null = null;
  private pollWhileClosing = false;
  /** The last call returned nothing: the next one waits for a record instead of draining what is there. */
  private idle = true;
  /** What a waiting call returned, delivered with the draining call after it. */
  private carried: Message[] = [];
  private restartAttempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transportOptions: TransportOptions,
    options: ConsumerOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.opts = resolveConsumerOptions(options);
    this.groupId = this.opts.groupId;
    this.closed = this.closedDeferred.promise;
    this.log = logger.child({ transport: 'rdkafka', groupId: this.groupId });
    this.requestTimeoutMs = transportOptions.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.connectionTimeoutMs = transportOptions.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
    this.maxFetch = Math.max(1, Math.floor(this.opts.maxBufferedRecordsPerPartition / 2));
    // Fail at construction, not at start, on a bad config.
    rdkafkaConnectionProperties(transportOptions);
  }

  // ------------------------------------------------------------------ lifecycle

  async start(handler: BatchHandler): Promise<void> {
    if (this.state !== 'new') throw new TypeError('Consumer.start() may be called only once');
    this.handler = handler;
    this.state = 'running';
    try {
      await this.startClient();
    } catch (err) {
      const error =
        err instanceof VigilError
          ? err
          : toVigilError('BROKER_UNAVAILABLE', 'rdkafka consumer could not start', err, classifyRd(err), {
              groupId: this.groupId,
            });
      await this.shutdown(error);
      throw error;
    }
  }

  private createClient(): KafkaConsumer {
    const { KafkaConsumer } = loadRdkafka();
    const o = this.opts;
    const conf = {
      ...rdkafkaConsumerProperties(this.transportOptions, o),
      rebalance_cb: (err: LibrdKafkaError, assignment: RdTopicPartition[]) =>
        this.onRebalance(client, err, assignment),
      offset_commit_cb: (err: LibrdKafkaError | undefined, offsets: RdTopicPartition[]) =>
        this.onCommitted(err, offsets),
    } as unknown as ConsumerGlobalConfig;
    const topicConf: ConsumerTopicConfig = { 'auto.offset.reset': o.startFrom };
    const client: KafkaConsumer = new KafkaConsumer(conf, topicConf);
    client.on('event.error', (err: LibrdKafkaError) => this.onClientError(client, err));
    return client;
  }

  private async startClient(): Promise<void> {
    const client = this.createClient();
    this.client = client;
    await rdConnect(client, this.connectionTimeoutMs);
    if (this.client !== client || this.state !== 'running') return;
    client.subscribe([...this.opts.topics]);
    this.kickFetch();
  }

  close(): Promise<void> {
    return this.shutdown(undefined);
  }

  private shutdown(error: unknown): Promise<void> {
    if (this.shutdownPromise) return this.shutdownPromise;
    this.shutdownPromise = (async () => {
      this.state = 'closing';
      clearTimeout(this.restartTimer);
      try {
        // The final commits made while revoking are confirmed through offset_commit_cb, which librdkafka
        // serves only from consume calls: keep polling until they are in, with fetching paused so the calls
        // return nothing but those callbacks. Without this, closing waited out the commit timeout.
        this.pollWhileClosing = true;
        for (const part of this.parts.values()) this.setFetchPaused(part, true);
        this.kickFetch();
        try {
          await this.revoke(this.ownership.list(), 'close');
        } finally {
          this.pollWhileClosing = false;
        }
        if (this.fetching) await this.fetching;
        const client = this.client;
        this.client = null;
        if (client) await this.disconnect(client);
        this.forget(this.ownership.loseAll());
      } finally {
        for (const p of this.pendingCommits.splice(0)) {
          p.done.reject(new VigilError('SHUTDOWN', 'consumer closed before the commit was confirmed'));
        }
        this.state = 'closed';
        this.onClosed?.();
        if (error === undefined) this.closedDeferred.resolve();
        else this.closedDeferred.reject(error);
      }
    })();
    return this.shutdownPromise;
  }

  private async disconnect(client: KafkaConsumer): Promise<void> {
    try {
      await withTimeout(
        rdCall((cb) => client.disconnect((err) => cb(err))),
        this.opts.sessionTimeoutMs,
        () => new Error('disconnect timed out'),
      );
    } catch (err) {
      this.log.warn({ err }, 'rdkafka consumer disconnect failed');
    }
  }

  private fail(err: unknown): void {
    if (this.failed || this.state === 'closed') return;
    this.failed = true;
    this.log.error({ err }, 'consumer failed; closing');
    void this.shutdown(err);
  }

  private onClientError(client: KafkaConsumer, err: LibrdKafkaError): void {
    if (client !== this.client) return;
    // Transport errors during a broker restart land here; librdkafka reconnects by itself.
    if (logTransientError(err, this.throttle, this.log, 'rdkafka consumer')) return;
    this.log.error({ err }, 'rdkafka consumer fatal error; recreating the client');
    this.restart(client, err);
  }

  /** A fatal client error: partitions are lost, the client is replaced after a backoff. */
  private restart(client: KafkaConsumer, cause: unknown): void {
    if (client !== this.client) return;
    this.client = null;
    void this.loseAll();
    void this.disconnect(client);
    if (this.state !== 'running') return;
    this.restartAttempt++;
    const delayMs = backoffDelay(this.restartAttempt, RESTART_BACKOFF);
    this.log.warn({ err: cause, attempt: this.restartAttempt, delayMs }, 'restarting rdkafka consumer');
    this.restartTimer = setTimeout(() => {
      if (this.state !== 'running') return;
      this.startClient().catch((err) => {
        const current = this.client;
        if (current) this.restart(current, err);
      });
    }, delayMs);
  }

  // ------------------------------------------------------------------ rebalance

  private onRebalance(client: KafkaConsumer, err: LibrdKafkaError, assignment: RdTopicPartition[]): void {
    const partitions = assignment.map(({ topic, partition }) => ({ topic, partition }));
    if (err?.code === RD.ERR__ASSIGN_PARTITIONS) {
      try {
        client.assign(assignment);
      } catch (e) {
        this.log.error({ err: e }, 'assign failed');
        return;
      }
      if (client !== this.client) return;
      this.restartAttempt = 0;
      const epoch = this.ownership.assign(partitions);
      for (const { topic, partition } of partitions) {
        const key = tpKey(topic, partition);
        this.parts.set(key, {
          topic,
          partition,
          key,
          epoch,
          buffer: [],
          head: 0,
          inFlight: null,
          userPaused: false,
          fetchPaused: false,
          position: -1n,
          fetchedUpTo: -1,
          highWatermark: -1n,
        });
      }
      this.log.info({ partitions: partitions.length }, 'partitions assigned');
      if (this.state !== 'running' || partitions.length === 0) return;
      const onAssigned = this.opts.hooks.onAssigned;
      this.gateOpen = false;
      const revoked = this.revokeChain;
      void (async () => {
        await revoked;
        if (onAssigned) await onAssigned(partitions);
      })().then(
        () => {
          this.gateOpen = true;
          for (const part of this.parts.values()) this.pump(part);
        },
        (e) => this.fail(e),
      );
    } else if (err?.code === RD.ERR__REVOKE_PARTITIONS) {
      const unassign = () => {
        try {
          client.unassign();
        } catch (e) {
          this.log.debug({ err: e }, 'unassign failed (client closing)');
        }
      };
      if (client !== this.client) {
        unassign();
        return;
      }
      void this.revoke(partitions, 'rebalance').then(unassign);
    } else {
      this.log.error({ err }, 'rebalance error; dropping the assignment');
      void this.loseAll().then(() => {
        try {
          client.unassign();
        } catch {
          // closing
        }
      });
    }
  }

  private revoke(partitions: readonly TopicPartition[], reason: 'rebalance' | 'close'): Promise<void> {
    const run = this.revokeChain.then(async () => {
      const started = this.ownership.startRevoke(partitions);
      if (started.length === 0) return;
      for (const tp of started) this.dropBuffer(tpKey(tp.topic, tp.partition));
      await settleAll(started.map((tp) => this.parts.get(tpKey(tp.topic, tp.partition))?.inFlight));
      try {
        await this.opts.hooks.onRevoked?.(started, { reason });
      } catch (err) {
        this.log.error({ err, reason }, 'onRevoked failed; giving the partitions up anyway');
      }
      // Commits already handed to librdkafka go out under the current generation before we let it rejoin.
      await settleAll(this.commitsInFlight);
      this.ownership.finishRevoke(started);
      this.forget(started);
      this.log.info({ partitions: started.length, reason }, 'partitions revoked');
    });
    this.revokeChain = run.catch(() => {});
    return this.revokeChain;
  }

  private loseAll(): Promise<void> {
    const lost = this.ownership.loseAll();
    if (lost.length === 0) return this.revokeChain;
    for (const tp of lost) this.dropBuffer(tpKey(tp.topic, tp.partition));
    const run = this.revokeChain.then(async () => {
      await settleAll(lost.map((tp) => this.parts.get(tpKey(tp.topic, tp.partition))?.inFlight));
      try {
        await this.opts.hooks.onRevoked?.(lost, { reason: 'lost' });
      } catch (err) {
        this.log.error({ err }, 'onRevoked (lost) failed');
      }
      this.forget(lost);
      this.log.warn({ partitions: lost.length }, 'partitions lost');
    });
    this.revokeChain = run.catch(() => {});
    return this.revokeChain;
  }

  private dropBuffer(key: string): void {
    const part = this.parts.get(key);
    if (part) {
      part.buffer = [];
      part.head = 0;
    }
  }

  private forget(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = tpKey(tp.topic, tp.partition);
      this.parts.delete(key);
      this.pendingSeeks.delete(key);
    }
  }

  // ------------------------------------------------------------------ fetching

  /**
   * Issues the next consume(n) call. Seeks are applied only between calls: a call in flight may already hold
   * records from before the seek, and records librdkafka has handed over cannot be dropped without losing them.
   * The next call is issued before the current result is converted, so librdkafka fills it on the pool thread
   * while the main thread works: at most two calls' worth of records are ever outside the bounded buffers.
   */
  private kickFetch(): void {
    if (this.fetching || !this.fetchAllowed() || !this.client || !this.fetchGateOpen()) return;
    const client = this.client;
    const done = deferred<void>();
    this.fetching = done.promise;
    const next = () => {
      this.fetching = null;
      done.resolve();
      if (this.fetchAllowed() && this.client === client) this.kickFetch();
    };
    if (this.pendingSeeks.size > 0) {
      void this.applySeeks(client).finally(next);
      return;
    }
    // Two kinds of call. Draining (timeout 0) takes what librdkafka holds now, up to maxFetch, and returns at
    // once; waiting (one record, WAIT_MS) blocks on the libuv pool until a record arrives. A stream is read as a
    // wait, then drains until one comes back empty: no record waits for a call to fill up, and a backlog is read
    // in calls of maxFetch. (Sizing calls to the rate with a per-message timeout held records ~10 ms longer.)
    const waiting = this.idle;
    client.setDefaultConsumeTimeout(waiting ? WAIT_MS : 0);
    client.consume(waiting ? 1 : this.maxFetch, (err, messages) => {
      const got = messages ?? [];
      let all = got;
      if (this.carried.length > 0) {
        all = this.carried.concat(got);
        this.carried = [];
      }
      if (err) {
        if (this.state === 'running') this.log.warn({ err }, 'consume failed; retrying');
        if (all.length > 0) this.ingest(all);
        setTimeout(next, 100);
        return;
      }
      this.idle = got.length === 0;
      if (waiting && got.length > 0 && this.pendingSeeks.size === 0 && this.state === 'running') {
        // A waiting call returns the first record of a fetch response whose rest is already in librdkafka's
        // queue: it goes with the draining call that follows. Delivered on its own it made a batch of one,
        // and at 20k records/s the pipeline's CPU per record rose by half.
        this.carried = all;
        next();
        return;
      }
      next();
      if (all.length > 0) this.ingest(all);
    });
  }

  private fetchAllowed(): boolean {
    return this.state === 'running' || (this.state === 'closing' && this.pollWhileClosing);
  }

  /**
   * Seeks stay pending (ingest drops the partition's records) until librdkafka has done them: the consume call
   * that was in flight when the seek was asked for may return after this has started.
   */
  private async applySeeks(client: KafkaConsumer): Promise<void> {
    const seeks = [...this.pendingSeeks.entries()];
    await Promise.all(
      seeks.map(async ([key, { topic, partition, offset }]) => {
        const part = this.parts.get(key);
        if (!part || !this.ownership.owns(topic, partition)) return;
        try {
          await rdCall((cb) =>
            client.seek({ topic, partition, offset: offsetToNumber(offset) }, this.requestTimeoutMs, (e) =>
              cb(e),
            ),
          );
        } catch (err) {
          this.log.warn({ err, topic, partition, offset: String(offset) }, 'seek failed');
        }
      }),
    );
    for (const [key, seek] of seeks) {
      // A newer seek of the same partition, asked for meanwhile, waits for the next round.
      if (this.pendingSeeks.get(key) !== seek) continue;
      this.pendingSeeks.delete(key);
      const part = this.parts.get(key);
      if (part) {
        part.buffer = [];
        part.head = 0;
        part.position = seek.offset;
        part.fetchedUpTo = Number(seek.offset);
        this.pump(part);
      }
    }
  }

  private ingest(messages: Message[]): void {
    let part: PartState | undefined;
    let lastTopic = '';
    let lastPartition = -1;
    const touched = new Set<PartState>();
    let refetched = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (m.partition !== lastPartition || m.topic !== lastTopic) {
        lastTopic = m.topic;
        lastPartition = m.partition;
        const key = tpKey(m.topic, m.partition);
        part = this.parts.get(key);
        if (
          part &&
          (!this.ownership.canDeliver(part.topic, part.partition, part.epoch) || this.pendingSeeks.has(key))
        ) {
          part = undefined;
        }
        if (part) touched.add(part);
      }
      // Not ours (revoked while the call ran) or being revoked: the next owner starts from the committed offset.
      if (!part) continue;
      // After a pause and resume in librdkafka, a record already taken has been seen to come again (a 3M-record
      // drain failed on it: the pipeline's offset tracker refuses an offset twice). Offsets only go forward
      // within an assignment except by seek, so anything below what was taken is that refetch.
      if (m.offset < part.fetchedUpTo) {
        refetched++;
        continue;
      }
      part.fetchedUpTo = m.offset + 1;
      part.buffer.push({
        topic: part.topic,
        partition: part.partition,
        offset: BigInt(m.offset),
        key: (m.key as Buffer | null | undefined) ?? null,
        value: m.value ?? null,
        headers: headersFromRdkafka(m.headers),
        timestamp: m.timestamp ?? -1,
      });
    }
    if (refetched > 0) this.log.info({ records: refetched }, 'dropped records librdkafka handed over again');
    for (const p of touched) {
      if (!p.fetchPaused && p.buffer.length - p.head >= 2 * this.opts.maxBufferedRecordsPerPartition) {
        this.setFetchPaused(p, true);
      }
      this.pump(p);
    }
  }

  /**
   * Backpressure, two levels. Normally consume() is simply not called while the buffers together hold
   * maxBufferedRecordsPerPartition × partitions: librdkafka's bounded prefetch queue then fills and it stops
   * fetching, at no cost. Only a partition holding twice its share on its own (one slow partition among fast
   * ones) is paused in librdkafka, which drops its prefetched records to be fetched again on resume; doing that
   * for every partition on every cycle cost three quarters of the throughput of a slow pipeline here. A user
   * pause (the pipeline's backpressure) only stops deliveries; the partition is paused in librdkafka when it
   * hoards.
   */
  private fetchGateOpen(): boolean {
    let buffered = 0;
    let active = 0;
    for (const p of this.parts.values()) {
      // A partition paused by the user is left out: its buffer is bounded on its own (paused in librdkafka at
      // twice its share), and counting it would stop consume() calls, which also serve rebalance events, until
      // the user resumes.
      if (p.userPaused) continue;
      buffered += p.buffer.length - p.head;
      active++;
    }
    return buffered < this.opts.maxBufferedRecordsPerPartition * Math.max(1, active);
  }

  private setFetchPaused(part: PartState, paused: boolean): void {
    if (part.fetchPaused === paused || !this.client) return;
    try {
      const tp = [{ topic: part.topic, partition: part.partition }];
      if (paused) this.client.pause(tp);
      else this.client.resume(tp);
      part.fetchPaused = paused;
    } catch (err) {
      this.log.debug({ err }, 'pause/resume in librdkafka failed');
    }
  }

  // ------------------------------------------------------------------ delivery

  private pump(part: PartState): void {
    if (
      part.inFlight ||
      part.userPaused ||
      this.pendingSeeks.has(part.key) ||
      !this.gateOpen ||
      this.state !== 'running' ||
      !this.ownership.canDeliver(part.topic, part.partition, part.epoch)
    ) {
      return;
    }
    const available = part.buffer.length - part.head;
    if (available === 0) return;
    const n = Math.min(available, this.opts.maxBatchRecords);
    const records = part.buffer.slice(part.head, part.head + n);
    part.head += n;
    if (part.head === part.buffer.length) {
      part.buffer = [];
      part.head = 0;
    } else if (part.head >= 1024) {
      part.buffer = part.buffer.slice(part.head);
      part.head = 0;
    }
    const nextOffset = records[n - 1]!.offset + 1n;
    part.position = nextOffset;
    part.highWatermark = this.readHighWatermark(part);
    const batch: RecordBatch = {
      topic: part.topic,
      partition: part.partition,
      records,
      nextOffset,
      highWatermark: part.highWatermark,
      epoch: part.epoch,
    };
    let result: Promise<void>;
    try {
      result = this.handler!(batch);
    } catch (err) {
      result = Promise.reject(err);
    }
    part.inFlight = result.then(
      () => {
        part.inFlight = null;
        if (
          part.fetchPaused &&
          !part.userPaused &&
          part.buffer.length - part.head <= this.opts.maxBufferedRecordsPerPartition
        ) {
          this.setFetchPaused(part, false);
        }
        this.pump(part);
        this.kickFetch();
      },
      (err: unknown) => {
        part.inFlight = null;
        this.fail(err);
      },
    );
  }

  private readHighWatermark(part: PartState): bigint {
    try {
      const w = this.client?.getWatermarkOffsets(part.topic, part.partition);
      return w && w.highOffset >= 0 ? BigInt(w.highOffset) : part.highWatermark;
    } catch {
      return part.highWatermark;
    }
  }

  // ------------------------------------------------------------------ control

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const part = this.parts.get(tpKey(tp.topic, tp.partition));
      if (!part || !this.ownership.owns(tp.topic, tp.partition)) continue;
      // Deliveries stop at once, fetching does not: librdkafka keeps filling the partition's buffer until it
      // holds twice its share (ingest pauses it there). Pausing in librdkafka straight away dropped its
      // prefetch, and every resume then waited for a fetch round trip with the pipeline idle; the pipeline
      // pauses whenever it holds `maxBuffered`, many times a second when scoring runs on a worker thread.
      part.userPaused = true;
    }
    this.kickFetch();
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const part = this.parts.get(tpKey(tp.topic, tp.partition));
      if (!part?.userPaused) continue;
      part.userPaused = false;
      if (part.buffer.length - part.head < 2 * this.opts.maxBufferedRecordsPerPartition) {
        this.setFetchPaused(part, false);
      }
      this.pump(part);
    }
    this.kickFetch();
  }

  seek(position: TopicPartitionOffset): void {
    const { topic, partition, offset } = position;
    if (offset < 0n) throw new RangeError('seek offset must be >= 0');
    offsetToNumber(offset);
    const key = tpKey(topic, partition);
    const part = this.parts.get(key);
    if (!part || !this.ownership.owns(topic, partition)) return;
    // Buffered records are dropped now; ingest drops what the consume call in flight returns for the
    // partition until applySeeks has run.
    part.buffer = [];
    part.head = 0;
    part.position = offset;
    this.pendingSeeks.set(key, { topic, partition, offset });
  }

  assignment(): TopicPartition[] {
    return this.ownership.list();
  }

  lag(): PartitionLag[] {
    return this.ownership.list().map(({ topic, partition }) => {
      const part = this.parts.get(tpKey(topic, partition));
      const highWatermark = part ? this.readHighWatermark(part) : -1n;
      const position = part?.position ?? -1n;
      const lag = highWatermark >= 0n && position >= 0n ? highWatermark - position : -1n;
      return { topic, partition, highWatermark, position, lag };
    });
  }

  /** For transactions: the client sendOffsetsToTransaction needs (it carries the group generation, KIP-447). */
  nativeClient(): KafkaConsumer | null {
    return this.client;
  }

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
    const tps = accepted.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: offsetToNumber(o.offset),
    }));
    const pending: PendingCommit = { signature: commitSignature(tps), done: deferred<void>() };
    this.pendingCommits.push(pending);
    const details = {
      groupId: this.groupId,
      offsets: accepted.map((o) => `${o.topic}[${o.partition}]@${o.offset}`),
    };
    try {
      client.commit(tps);
    } catch (err) {
      this.removePending(pending);
      throw toVigilError(
        'COMMIT_FAILED',
        `commit for group ${this.groupId} failed`,
        err,
        classifyRd(err),
        details,
      );
    }
    const confirmed = withTimeout(pending.done.promise, this.requestTimeoutMs, () => {
      this.removePending(pending);
      return new VigilError(
        'COMMIT_FAILED',
        `commit for group ${this.groupId} not confirmed within ${this.requestTimeoutMs} ms`,
        {
          retriable: true,
          details: { ...details, brokerUnavailable: true },
        },
      );
    });
    this.commitsInFlight.add(confirmed);
    try {
      await confirmed;
    } catch (err) {
      throw toVigilError(
        'COMMIT_FAILED',
        `commit for group ${this.groupId} failed`,
        err,
        classifyRd(err),
        details,
      );
    } finally {
      this.commitsInFlight.delete(confirmed);
    }
    return { committed: accepted.map(strip), refused };
  }

  private removePending(p: PendingCommit): void {
    const i = this.pendingCommits.indexOf(p);
    if (i >= 0) this.pendingCommits.splice(i, 1);
  }

  /** offset_commit_cb carries no request id: match the result to the oldest pending commit with the same offsets. */
  private onCommitted(err: LibrdKafkaError | undefined, offsets: RdTopicPartition[]): void {
    const signature = commitSignature(offsets as Array<RdTopicPartition & { offset?: number }>);
    const i = this.pendingCommits.findIndex((p) => p.signature === signature);
    if (i < 0) return;
    const [p] = this.pendingCommits.splice(i, 1);
    if (err) p!.done.reject(err);
    else p!.done.resolve();
  }
}

/**
 * The consumer's librdkafka properties, callbacks aside. Tuning defaults come first, so `librdkafka` in the
 * transport options overrides them; what the consumer's correctness rests on (manual commits, eager
 * assignment, no EOF events) comes last and cannot be.
 */
export function rdkafkaConsumerProperties(
  transport: TransportOptions,
  o: ResolvedConsumerOptions,
): Record<string, string | number | boolean> {
  return {
    // Once a partition's prefetch queue passes queued.min.messages, librdkafka waits this long before fetching
    // for it again (default 1000 ms): a consumer that drains faster than that sits idle for most of each second.
    // A bare consume(1000) loop here ran at 124k records/s with the default, 315k with 5 ms. The prefetch stays
    // bounded by the queue limits either way.
    'fetch.queue.backoff.ms': 5,
    // max.partition.fetch.bytes defaults to librdkafka's 1 MiB. 8 MiB raised the consume-only ceiling here (131k
    // → 171k records/s in a bare consume loop) but not the pipeline's end-to-end rate, which its own thread
    // bounds, and two 3M-record drains in eight stopped with it (cause not found; docs/performance.md).
    // Its prefetch queue stays at its default too (64 MiB): a 16 MiB cap cost a quarter of the throughput here.
    // The bounded per-partition buffers above it are what hold memory down.
    // Fetch sizing from the consumer options (kafka.consumer.fetch* in vigil.yaml), still tuning: overridable.
    'fetch.min.bytes': o.fetch.minBytes,
    'fetch.max.bytes': o.fetch.maxBytes,
    'max.partition.fetch.bytes': o.fetch.maxBytesPerPartition,
    'fetch.wait.max.ms': o.fetch.maxWaitMs,
    ...rdkafkaConnectionProperties(transport),
    'group.id': o.groupId,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'enable.partition.eof': false,
    // Eager, like kafkajs's assigner: every rebalance revokes everything, so both transports behave alike.
    'partition.assignment.strategy': 'roundrobin',
    'session.timeout.ms': o.sessionTimeoutMs,
    'heartbeat.interval.ms': o.heartbeatIntervalMs,
    'max.poll.interval.ms': o.maxPollIntervalMs,
    'isolation.level': o.isolation,
    'allow.auto.create.topics': false,
  };
}

function strip(o: CommitOffset): TopicPartitionOffset {
  return { topic: o.topic, partition: o.partition, offset: o.offset };
}
