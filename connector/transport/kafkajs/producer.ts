import {
  CompressionTypes,
  type Kafka,
  type Producer as KafkajsProducerClient,
  type Transaction as KafkajsTransactionClient,
  type Message,
  Partitioners,
  type TopicMessages,
} from 'kafkajs';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { InFlight, withTimeout } from '../deferred.js';
import { classifyKafkajsError, toVigilError } from '../errors.js';
import { notOwnedInTransaction } from '../ownership.js';
import { headersToKafkajs, validateProduceMessages } from '../records.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../security.js';
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
import { KafkajsConsumer } from './consumer.js';

const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;

function toTopicMessages(messages: readonly ProduceMessage[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const m of messages) {
    const msg: Message = { key: m.key, value: m.value };
    const headers = headersToKafkajs(m.headers);
    if (headers) msg.headers = headers;
    if (m.partition !== undefined) msg.partition = m.partition;
    if (m.timestamp !== undefined) msg.timestamp = String(m.timestamp);
    const list = byTopic.get(m.topic);
    if (list) list.push(msg);
    else byTopic.set(m.topic, [msg]);
  }
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs }));
}

function describe(messages: readonly ProduceMessage[]): Record<string, unknown> {
  return { count: messages.length, topics: [...new Set(messages.map((m) => m.topic))] };
}

/**
 * Shared connect / reconnect handling. After any failed send the client is replaced: kafkajs keeps idempotent
 * sequence numbers per client, and a batch that timed out may or may not have been written, so reusing the
 * client risks OUT_OF_ORDER_SEQUENCE errors on every later send. A fresh client gets a fresh producer id.
 */
abstract class KafkajsProducerBase {
  readonly kind = 'kafkajs' as const;
  protected client: KafkajsProducerClient | null = null;
  private connecting: Promise<KafkajsProducerClient> | null = null;
  protected readonly inFlight = new InFlight();
  protected closing = false;
  protected readonly deliveryTimeoutMs: number;
  protected readonly requestTimeoutMs: number;
  protected readonly compression: CompressionTypes;
  protected readonly log: Logger;

  constructor(
    protected readonly kafka: Kafka,
    transportOptions: TransportOptions,
    options: ProducerOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
    this.requestTimeoutMs = Math.min(
      transportOptions.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      this.deliveryTimeoutMs,
    );
    this.compression = kafkajsCompression(options.compression);
    this.log = logger.child({ transport: 'kafkajs' });
  }

  protected abstract createClient(): KafkajsProducerClient;

  async connect(): Promise<void> {
    await this.ensure();
  }

  protected ensure(): Promise<KafkajsProducerClient> {
    if (this.closing) return Promise.reject(new VigilError('SHUTDOWN', 'producer is closed'));
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      const client = this.createClient();
      this.connecting = client.connect().then(
        () => {
          this.client = client;
          this.connecting = null;
          return client;
        },
        (err: unknown) => {
          this.connecting = null;
          client.disconnect().catch(() => {});
          throw toVigilError(
            'BROKER_UNAVAILABLE',
            'kafkajs producer could not connect',
            err,
            classifyKafkajsError(err),
          );
        },
      );
    }
    return this.connecting;
  }

  /** Replace the client after a failure (see class comment); the old one is closed in the background. */
  protected discard(client: KafkajsProducerClient): void {
    if (this.client !== client) return;
    this.client = null;
    client.disconnect().catch((err) => this.log.debug({ err }, 'discarded producer disconnect failed'));
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
      const client = this.client ?? (await this.connectingOrNull());
      this.client = null;
      if (client)
        await client.disconnect().catch((err) => this.log.warn({ err }, 'producer disconnect failed'));
    } finally {
      this.onClosed?.();
    }
  }

  private async connectingOrNull(): Promise<KafkajsProducerClient | null> {
    if (!this.connecting) return null;
    try {
      return await this.connecting;
    } catch {
      return null;
    }
  }
}

/** kafkajs ships gzip only; snappy and lz4 need codec packages registered globally, which Vigil does not bundle. */
function kafkajsCompression(c: ProducerOptions['compression']): CompressionTypes {
  if (c === undefined || c === 'none') return CompressionTypes.None;
  if (c === 'gzip') return CompressionTypes.GZIP;
  throw new VigilError(
    'CONFIG_INVALID',
    `producer compression ${c}: the kafkajs transport has gzip only; use gzip, or transport rdkafka for ${c}`,
    { details: { key: 'compression', value: c, allowed: ['none', 'gzip'] } },
  );
}

export class KafkajsProducer extends KafkajsProducerBase implements Producer {
  private readonly idempotent: boolean;

  constructor(
    kafka: Kafka,
    transportOptions: TransportOptions,
    options: ProducerOptions,
    logger: Logger,
    onClosed?: () => void,
  ) {
    super(kafka, transportOptions, options, logger, onClosed);
    this.idempotent = options.idempotent ?? true;
  }

  protected createClient(): KafkajsProducerClient {
    return this.kafka.producer({
      idempotent: this.idempotent,
      // Without idempotence, only one request in flight keeps a retried batch from landing after a later one.
      ...(this.idempotent ? {} : { maxInFlightRequests: 1 }),
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Bounded, unlike kafkajs's idempotent default (retry forever): send() must fail in bounded time.
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
  }

  async send(messages: readonly ProduceMessage[]): Promise<void> {
    validateProduceMessages(messages);
    if (messages.length === 0) return;
    let client: KafkajsProducerClient;
    try {
      client = await this.ensure();
    } catch (err) {
      throw new VigilError('PRODUCE_FAILED', `send of ${messages.length} messages failed: not connected`, {
        cause: err,
        retriable: err instanceof VigilError ? err.retriable : true,
        details: { ...describe(messages), brokerUnavailable: true },
      });
    }
    const sent = client.sendBatch({
      topicMessages: toTopicMessages(messages),
      acks: -1,
      timeout: this.requestTimeoutMs,
      compression: this.compression,
    });
    const timeoutError = () =>
      new VigilError(
        'PRODUCE_FAILED',
        `send of ${messages.length} messages not acknowledged within ${this.deliveryTimeoutMs} ms`,
        {
          retriable: true,
          details: { ...describe(messages), brokerUnavailable: true },
        },
      );
    try {
      await this.track(withTimeout(sent, this.deliveryTimeoutMs, timeoutError));
    } catch (err) {
      sent.catch(() => {});
      this.discard(client);
      throw toVigilError(
        'PRODUCE_FAILED',
        `send of ${messages.length} messages failed`,
        err,
        classifyKafkajsError(err),
        describe(messages),
      );
    }
  }
}

export class KafkajsTransactionalProducer extends KafkajsProducerBase implements TransactionalProducer {
  private open: KafkajsTransaction | null = null;
  private readonly transactionalId: string;
  private readonly transactionTimeoutMs: number;

  constructor(
    kafka: Kafka,
    transportOptions: TransportOptions,
    options: TransactionalProducerOptions,
    logger: Logger,
    onClosed?: () => void,
  ) {
    super(kafka, transportOptions, options, logger, onClosed);
    if (!options.transactionalId) {
      throw new VigilError('CONFIG_INVALID', 'transactionalId must be a non-empty string', {
        details: { key: 'transactionalId' },
      });
    }
    this.transactionalId = options.transactionalId;
    this.transactionTimeoutMs = options.transactionTimeoutMs ?? 60_000;
  }

  protected createClient(): KafkajsProducerClient {
    return this.kafka.producer({
      transactionalId: this.transactionalId,
      transactionTimeout: this.transactionTimeoutMs,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
  }

  async init(): Promise<void> {
    if (this.open) return;
    // kafkajs registers the transactional id with the first transaction; an empty one, aborted, does only that.
    const txn = await this.begin();
    await txn.abort();
  }

  async begin(): Promise<Transaction> {
    if (this.open) throw new TypeError('a transaction is already open on this producer');
    const client = await this.ensure();
    let txn: KafkajsTransactionClient;
    try {
      txn = await client.transaction();
    } catch (err) {
      this.discard(client);
      throw toVigilError('PRODUCE_FAILED', 'could not begin a transaction', err, classifyKafkajsError(err), {
        transactionalId: this.transactionalId,
      });
    }
    const t = new KafkajsTransaction(txn, this, () => {
      this.open = null;
    });
    this.open = t;
    return t;
  }

  /** @internal */
  sendIn(txn: KafkajsTransactionClient, messages: readonly ProduceMessage[]): Promise<unknown> {
    return this.track(
      withTimeout(
        txn.sendBatch({
          topicMessages: toTopicMessages(messages),
          acks: -1,
          timeout: this.requestTimeoutMs,
          compression: this.compression,
        }),
        this.deliveryTimeoutMs,
        () =>
          new VigilError(
            'PRODUCE_FAILED',
            `transactional send not acknowledged within ${this.deliveryTimeoutMs} ms`,
          ),
      ),
    );
  }

  /** @internal A failed transaction may leave kafkajs's transaction state machine stuck: start over. */
  reset(): void {
    if (this.client) this.discard(this.client);
  }

  get id(): string {
    return this.transactionalId;
  }
}

class KafkajsTransaction implements Transaction {
  private done = false;

  constructor(
    private readonly txn: KafkajsTransactionClient,
    private readonly owner: KafkajsTransactionalProducer,
    private readonly onDone: () => void,
  ) {}

  private check(): void {
    if (this.done) throw new TypeError('transaction already committed or aborted');
  }

  async send(messages: readonly ProduceMessage[]): Promise<void> {
    this.check();
    validateProduceMessages(messages);
    if (messages.length === 0) return;
    try {
      await this.owner.sendIn(this.txn, messages);
    } catch (err) {
      throw toVigilError(
        'PRODUCE_FAILED',
        `transactional send of ${messages.length} messages failed`,
        err,
        classifyKafkajsError(err),
        {
          ...describe(messages),
          transactionalId: this.owner.id,
          abortTransaction: true,
        },
      );
    }
  }

  async sendOffsets(consumer: Consumer, offsets: readonly CommitOffset[]): Promise<void> {
    this.check();
    if (!(consumer instanceof KafkajsConsumer)) {
      throw new VigilError('CONFIG_INVALID', 'sendOffsets needs a consumer of the same (kafkajs) transport');
    }
    const { accepted, refused } = consumer.splitOwned(offsets);
    if (refused.length > 0) throw notOwnedInTransaction(refused);
    if (accepted.length === 0) return;
    const topics = new Map<string, Array<{ partition: number; offset: string }>>();
    for (const o of accepted) {
      const list = topics.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: o.offset.toString() });
      topics.set(o.topic, list);
    }
    try {
      await this.txn.sendOffsets({
        consumerGroupId: consumer.groupId,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch (err) {
      throw toVigilError(
        'COMMIT_FAILED',
        'could not add offsets to the transaction',
        err,
        classifyKafkajsError(err),
        {
          groupId: consumer.groupId,
          transactionalId: this.owner.id,
          abortTransaction: true,
        },
      );
    }
  }

  async commit(): Promise<void> {
    this.check();
    this.done = true;
    try {
      await this.txn.commit();
    } catch (err) {
      const error = toVigilError(
        'PRODUCE_FAILED',
        'transaction commit failed',
        err,
        classifyKafkajsError(err),
        {
          transactionalId: this.owner.id,
        },
      );
      await this.txn.abort().catch(() => {});
      this.owner.reset();
      throw error;
    } finally {
      this.onDone();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.txn.abort();
    } catch (err) {
      this.owner.reset();
      throw toVigilError('PRODUCE_FAILED', 'transaction abort failed', err, classifyKafkajsError(err), {
        transactionalId: this.owner.id,
      });
    } finally {
      this.onDone();
    }
  }
}
