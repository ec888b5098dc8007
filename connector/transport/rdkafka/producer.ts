import type {
  DeliveryReport,
  LibrdKafkaError,
  ProducerGlobalConfig,
  ProducerTopicConfig,
  Producer as RdProducerClient,
} from 'node-rdkafka';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { deferred, InFlight } from '../deferred.js';
import { RD, toVigilError } from '../errors.js';
import { notOwnedInTransaction } from '../ownership.js';
import {
  headersToRdkafka,
  offsetToNumber,
  validateProduceMessages,
  validateTextHeaders,
} from '../records.js';
import {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  rdkafkaConnectionProperties,
} from '../security.js';
import type {
  CommitOffset,
  Consumer,
  ProduceMessage,
  Producer,
  ProducerOptions,
  Transaction,
  TransactionalProducer,
  TransactionalProducerOptions,
  TransportOptions,
} from '../types.js';
import { RdkafkaConsumer } from './consumer.js';
import { classifyRd, errorLogThrottle, loadRdkafka, logTransientError, rdCall, rdConnect } from './load.js';

const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;
/** How often delivery reports are collected while any are outstanding. */
const POLL_INTERVAL_MS = 2;

/**
 * One per send(): every message of the send carries it as its opaque, so each delivery report finds its send
 * without a lookup, and the send settles when the last report arrives.
 */
interface SendTracker {
  remaining: number;
  error: unknown;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Connection handling, delivery tracking and polling shared by the plain and the transactional producer.
 * Delivery reports are only collected when the client is polled, so a short interval timer runs while any send
 * is outstanding and stops when none is.
 */
abstract class RdkafkaProducerBase {
  readonly kind = 'rdkafka' as const;
  protected client: RdProducerClient | null = null;
  private connecting: Promise<RdProducerClient> | null = null;
  private outstanding = 0;
  private pollTimer: NodeJS.Timeout | undefined;
  private readonly discarded = new WeakSet<RdProducerClient>();
  protected readonly inFlight = new InFlight();
  private readonly throttle = errorLogThrottle();
  protected closing = false;
  protected readonly deliveryTimeoutMs: number;
  protected readonly requestTimeoutMs: number;
  protected readonly log: Logger;

  constructor(
    protected readonly transportOptions: TransportOptions,
    protected readonly options: ProducerOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
    this.requestTimeoutMs = transportOptions.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.log = logger.child({ transport: 'rdkafka' });
    rdkafkaConnectionProperties(transportOptions);
  }

  protected baseConfig(): Record<string, string | number | boolean> {
    return {
      // Tuning defaults, which `librdkafka` in the transport options may override.
      'batch.num.messages': 10_000,
      'batch.size': 1_000_000,
      'queue.buffering.max.messages': 1_000_000,
      ...rdkafkaConnectionProperties(this.transportOptions),
      'enable.idempotence': this.idempotent(),
      // Without idempotence, only one request in flight keeps a retried batch from landing after a later one.
      ...(this.idempotent() ? {} : { 'max.in.flight.requests.per.connection': 1 }),
      'linger.ms': this.options.lingerMs ?? 5,
      'compression.codec': this.options.compression ?? 'none',
    };
  }

  /**
   * Topic-level properties. They must go in node-rdkafka's topic config: it always installs one (empty by
   * default) as librdkafka's default topic config, which silently replaces topic-level values set globally.
   */
  protected topicConfig(): Record<string, string | number> {
    return {
      'request.required.acks': -1,
      // librdkafka fails a message with ERR__MSG_TIMED_OUT by this deadline: what bounds a send().
      'message.timeout.ms': this.deliveryTimeoutMs,
      // Java-compatible key hashing, as kafkajs's DefaultPartitioner: both transports place a key alike.
      partitioner: 'murmur2_random',
    };
  }

  protected abstract config(): Record<string, string | number | boolean>;

  /** Transactions need idempotence, whatever the options say. */
  protected idempotent(): boolean {
    return this.options.idempotent ?? true;
  }

  async connect(): Promise<void> {
    await this.ensure();
  }

  protected ensure(): Promise<RdProducerClient> {
    if (this.closing) return Promise.reject(new VigilError('SHUTDOWN', 'producer is closed'));
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.openClient().then(
        (client) => {
          this.client = client;
          this.connecting = null;
          return client;
        },
        (err: unknown) => {
          this.connecting = null;
          throw err instanceof VigilError
            ? err
            : toVigilError('BROKER_UNAVAILABLE', 'rdkafka producer could not connect', err, classifyRd(err));
        },
      );
    }
    return this.connecting;
  }

  protected async openClient(): Promise<RdProducerClient> {
    const { Producer } = loadRdkafka();
    const client = new Producer(
      { ...this.config(), dr_cb: true } as unknown as ProducerGlobalConfig,
      this.topicConfig() as ProducerTopicConfig,
    );
    client.on('delivery-report', (err: LibrdKafkaError, report: DeliveryReport) =>
      this.onDelivery(err, report),
    );
    client.on('event.error', (err: LibrdKafkaError) => this.onClientError(client, err));
    try {
      await rdConnect(client, this.transportOptions.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS);
    } catch (err) {
      try {
        client.disconnect(() => {});
      } catch {
        // never connected: nothing to close
      }
      throw err;
    }
    return client;
  }

  private onDelivery(err: LibrdKafkaError | null, report: DeliveryReport): void {
    const tracker = report.opaque as SendTracker | undefined;
    this.outstanding--;
    if (this.outstanding <= 0) this.stopPolling();
    if (!tracker) return;
    if (err && tracker.error === undefined) tracker.error = err;
    if (--tracker.remaining === 0) {
      if (tracker.error === undefined) tracker.resolve();
      else tracker.reject(tracker.error);
    }
  }

  private onClientError(client: RdProducerClient, err: LibrdKafkaError): void {
    if (logTransientError(err, this.throttle, this.log, 'rdkafka producer')) return;
    // Fatal (idempotence broken, fenced): librdkafka fails every queued message, so pending sends settle through
    // their delivery reports; the next send gets a new client (and producer id).
    this.log.error({ err }, 'rdkafka producer fatal error; the client will be replaced');
    this.discard(client);
  }

  protected discard(client: RdProducerClient): void {
    if (this.client === client) this.client = null;
    // A fenced client is discarded twice (its fatal error event, and the failed commit): disconnect it once.
    if (this.discarded.has(client)) return;
    this.discarded.add(client);
    // Keep polling the old client until its delivery reports are in.
    setTimeout(() => {
      try {
        client.disconnect(this.deliveryTimeoutMs, () => {});
      } catch (err) {
        // node-rdkafka throws, from a timer here, when the client is already disconnected (closed meanwhile).
        this.log.debug({ err }, 'discarded producer client was already disconnected');
      }
    }, 0).unref();
  }

  private startPolling(client: RdProducerClient): void {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(() => {
      try {
        client.poll();
        if (this.client && this.client !== client) this.client.poll();
      } catch {
        // disconnected
      }
    }, POLL_INTERVAL_MS);
  }

  private stopPolling(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /**
   * Hands every message to librdkafka (waiting when its queue is full) and resolves when all are acknowledged.
   * A message librdkafka refuses outright (too large, unknown partition) fails the send at once.
   */
  protected async produceAll(client: RdProducerClient, messages: readonly ProduceMessage[]): Promise<void> {
    const done = deferred<void>();
    const tracker: SendTracker = {
      remaining: messages.length,
      error: undefined,
      resolve: done.resolve,
      reject: done.reject,
    };
    const deadline = Date.now() + this.deliveryTimeoutMs;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const value = typeof m.value === 'string' ? Buffer.from(m.value) : m.value;
      for (;;) {
        try {
          client.produce(
            m.topic,
            m.partition ?? -1,
            value,
            m.key,
            m.timestamp ?? null,
            tracker,
            headersToRdkafka(m.headers),
          );
          this.outstanding++;
          break;
        } catch (err) {
          if ((err as LibrdKafkaError).code === RD.ERR__QUEUE_FULL && Date.now() < deadline) {
            this.startPolling(client);
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          tracker.error ??= err;
          tracker.remaining -= messages.length - i;
          if (tracker.remaining === 0) tracker.reject(tracker.error);
          this.startPolling(client);
          return done.promise;
        }
      }
    }
    this.startPolling(client);
    return done.promise;
  }

  protected track<T>(p: Promise<T>): Promise<T> {
    return this.inFlight.track(p);
  }

  flush(timeoutMs?: number): Promise<void> {
    return this.inFlight.settle(
      timeoutMs,
      () => new VigilError('PRODUCE_FAILED', `flush did not finish within ${timeoutMs} ms`),
    );
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    try {
      await this.flush(this.deliveryTimeoutMs).catch((err) =>
        this.log.warn({ err }, 'flush on close timed out'),
      );
      const client = this.client ?? (this.connecting ? await this.connecting.catch(() => null) : null);
      this.client = null;
      this.stopPolling();
      if (client)
        await rdCall((cb) => client.disconnect(this.deliveryTimeoutMs, (err) => cb(err))).catch(() => {});
    } finally {
      this.onClosed?.();
    }
  }
}

function describe(messages: readonly ProduceMessage[]): Record<string, unknown> {
  return { count: messages.length, topics: [...new Set(messages.map((m) => m.topic))] };
}

export class RdkafkaProducer extends RdkafkaProducerBase implements Producer {
  protected config(): Record<string, string | number | boolean> {
    return this.baseConfig();
  }

  async send(messages: readonly ProduceMessage[]): Promise<void> {
    validateProduceMessages(messages);
    validateTextHeaders(messages);
    if (messages.length === 0) return;
    let client: RdProducerClient;
    try {
      client = await this.ensure();
    } catch (err) {
      throw new VigilError('PRODUCE_FAILED', `send of ${messages.length} messages failed: not connected`, {
        cause: err,
        retriable: err instanceof VigilError ? err.retriable : true,
        details: { ...describe(messages), brokerUnavailable: true },
      });
    }
    try {
      await this.track(this.produceAll(client, messages));
    } catch (err) {
      throw toVigilError(
        'PRODUCE_FAILED',
        `send of ${messages.length} messages failed`,
        err,
        classifyRd(err),
        describe(messages),
      );
    }
  }
}

export class RdkafkaTransactionalProducer extends RdkafkaProducerBase implements TransactionalProducer {
  private initialized: RdProducerClient | null = null;
  private current: RdkafkaTransaction | null = null;
  readonly transactionalId: string;
  private readonly transactionTimeoutMs: number;

  constructor(
    transportOptions: TransportOptions,
    options: TransactionalProducerOptions,
    logger: Logger,
    onClosed?: () => void,
  ) {
    super(transportOptions, options, logger, onClosed);
    if (!options.transactionalId) {
      throw new VigilError('CONFIG_INVALID', 'transactionalId must be a non-empty string', {
        details: { key: 'transactionalId' },
      });
    }
    this.transactionalId = options.transactionalId;
    this.transactionTimeoutMs = options.transactionTimeoutMs ?? 60_000;
  }

  protected config(): Record<string, string | number | boolean> {
    return {
      ...this.baseConfig(),
      'transactional.id': this.transactionalId,
      'transaction.timeout.ms': this.transactionTimeoutMs,
    };
  }

  protected override idempotent(): boolean {
    return true;
  }

  protected override topicConfig(): Record<string, string | number> {
    // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
    return {
      ...super.topicConfig(),
      'message.timeout.ms': Math.min(this.deliveryTimeoutMs, this.transactionTimeoutMs),
    };
  }

  async init(): Promise<void> {
    const client = await this.ensure();
    if (this.initialized === client) return;
    try {
      await rdCall((cb) => client.initTransactions(this.requestTimeoutMs, (err) => cb(err)));
      this.initialized = client;
    } catch (err) {
      this.discard(client);
      throw toVigilError('PRODUCE_FAILED', 'could not register the transactional id', err, classifyRd(err), {
        transactionalId: this.transactionalId,
      });
    }
  }

  async begin(): Promise<Transaction> {
    if (this.current) throw new TypeError('a transaction is already open on this producer');
    await this.init();
    const client = await this.ensure();
    try {
      await rdCall((cb) => client.beginTransaction((err) => cb(err)));
    } catch (err) {
      const failure = classifyRd(err);
      if (failure.fatal || this.initialized !== client) this.discard(client);
      throw toVigilError('PRODUCE_FAILED', 'could not begin a transaction', err, failure, {
        transactionalId: this.transactionalId,
      });
    }
    const txn = new RdkafkaTransaction(client, this, () => {
      this.current = null;
    });
    this.current = txn;
    return txn;
  }

  /** @internal */
  sendIn(client: RdProducerClient, messages: readonly ProduceMessage[]): Promise<void> {
    return this.track(this.produceAll(client, messages));
  }

  /** @internal A fatal transactional error (fenced, epoch bump failed) needs a new client and initTransactions. */
  drop(client: RdProducerClient): void {
    if (this.initialized === client) this.initialized = null;
    this.discard(client);
  }

  get timeoutMs(): number {
    return this.requestTimeoutMs;
  }
}

class RdkafkaTransaction implements Transaction {
  private done = false;

  constructor(
    private readonly client: RdProducerClient,
    private readonly owner: RdkafkaTransactionalProducer,
    private readonly onDone: () => void,
  ) {}

  private check(): void {
    if (this.done) throw new TypeError('transaction already committed or aborted');
  }

  private fail(
    code: 'PRODUCE_FAILED' | 'COMMIT_FAILED',
    what: string,
    err: unknown,
    failure = classifyRd(err),
  ): VigilError {
    if (failure.fatal) this.owner.drop(this.client);
    return toVigilError(code, what, err, failure, { transactionalId: this.owner.transactionalId });
  }

  async send(messages: readonly ProduceMessage[]): Promise<void> {
    this.check();
    validateProduceMessages(messages);
    validateTextHeaders(messages);
    if (messages.length === 0) return;
    try {
      await this.owner.sendIn(this.client, messages);
    } catch (err) {
      throw this.fail(
        'PRODUCE_FAILED',
        `transactional send of ${messages.length} messages failed`,
        err,
        classifyRd(err),
      );
    }
  }

  async sendOffsets(consumer: Consumer, offsets: readonly CommitOffset[]): Promise<void> {
    this.check();
    if (!(consumer instanceof RdkafkaConsumer)) {
      throw new VigilError('CONFIG_INVALID', 'sendOffsets needs a consumer of the same (rdkafka) transport');
    }
    const { accepted, refused } = consumer.splitOwned(offsets);
    if (refused.length > 0) throw notOwnedInTransaction(refused);
    if (accepted.length === 0) return;
    const native = consumer.nativeClient();
    if (!native) throw new VigilError('COMMIT_FAILED', 'consumer is not connected', { retriable: true });
    const tps = accepted.map((o) => ({
      topic: o.topic,
      partition: o.partition,
      offset: offsetToNumber(o.offset),
    }));
    try {
      await rdCall((cb) =>
        this.client.sendOffsetsToTransaction(tps, native, this.owner.timeoutMs, (err) => cb(err)),
      );
    } catch (err) {
      throw this.fail('COMMIT_FAILED', 'could not add offsets to the transaction', err);
    }
  }

  async commit(): Promise<void> {
    this.check();
    this.done = true;
    try {
      await rdCall((cb) => this.client.commitTransaction(this.owner.timeoutMs, (err) => cb(err)));
    } catch (err) {
      const error = this.fail('PRODUCE_FAILED', 'transaction commit failed', err);
      if (!classifyRd(err).fatal) {
        await rdCall((cb) => this.client.abortTransaction(this.owner.timeoutMs, (e) => cb(e))).catch(() =>
          this.owner.drop(this.client),
        );
      }
      throw error;
    } finally {
      this.onDone();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await rdCall((cb) => this.client.abortTransaction(this.owner.timeoutMs, (err) => cb(err)));
    } catch (err) {
      this.owner.drop(this.client);
      throw this.fail('PRODUCE_FAILED', 'transaction abort failed', err);
    } finally {
      this.onDone();
    }
  }
}
