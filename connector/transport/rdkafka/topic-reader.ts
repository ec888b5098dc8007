import { randomBytes } from 'node:crypto';
import type { ConsumerGlobalConfig, KafkaConsumer, LibrdKafkaError, Message, Metadata } from 'node-rdkafka';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { CatchUp, type ResolvedTopicReaderOptions, resolveTopicReaderOptions } from '../catch-up.js';
import { quietDeferred } from '../deferred.js';
import { toVigilError } from '../errors.js';
import { headersFromRdkafka } from '../records.js';
import { rdkafkaConnectionProperties } from '../security.js';
import type {
  BatchHandler,
  KafkaRecord,
  TopicReader,
  TopicReaderOptions,
  TransportOptions,
} from '../types.js';
import { classifyRd, errorLogThrottle, loadRdkafka, logTransientError, rdCall, rdConnect } from './load.js';

const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * A group-less reader on node-rdkafka: a KafkaConsumer given its partitions by assign()
 * (never subscribe(), so no group is joined) and with offset storing and commits off, so nothing is written to
 * the broker. Read in consume(n) calls, as the group consumer does.
 */
export class RdkafkaTopicReader implements TopicReader {
  readonly kind = 'rdkafka' as const;
  readonly topic: string;
  readonly closed: Promise<void>;

  private readonly opts: ResolvedTopicReaderOptions;
  private readonly log: Logger;
  private readonly closedDeferred = quietDeferred<void>();
  private readonly throttle = errorLogThrottle();
  private state: 'new' | 'running' | 'closed' = 'new';
  private stopping = false;
  private client: KafkaConsumer | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly transport: TransportOptions,
    options: TopicReaderOptions,
    logger: Logger,
    private readonly onClosed?: () => void,
  ) {
    this.opts = resolveTopicReaderOptions(options);
    this.topic = this.opts.topic;
    this.closed = this.closedDeferred.promise;
    this.log = logger.child({ transport: 'rdkafka', reader: this.topic });
  }

  async start(handler: BatchHandler): Promise<void> {
    if (this.state !== 'new') throw new TypeError('TopicReader.start() may be called only once');
    this.state = 'running';
    let progress: CatchUp;
    try {
      progress = await this.connect();
    } catch (err) {
      const error =
        err instanceof VigilError
          ? err
          : toVigilError(
              'BROKER_UNAVAILABLE',
              `rdkafka reader of ${this.topic} could not start`,
              err,
              classifyRd(err),
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
    await Promise.race([caughtUp.promise, this.closed]);
  }

  private async connect(): Promise<CatchUp> {
    const { KafkaConsumer } = loadRdkafka();
    const conf = {
      'fetch.wait.max.ms': this.opts.maxWaitMs,
      ...rdkafkaConnectionProperties(this.transport),
      // node-rdkafka insists on a group.id; this one is never joined (assign(), not subscribe()) and never
      // committed to, so the broker keeps no group for it.
      'group.id': `vigil-reader-${randomBytes(6).toString('hex')}`,
      'enable.auto.commit': false,
      'enable.auto.offset.store': false,
      'enable.partition.eof': false,
      'isolation.level': 'read_uncommitted',
      'allow.auto.create.topics': false,
    } as unknown as ConsumerGlobalConfig;
    // An offset that retention or compaction removed restarts the partition at its earliest record.
    const client = new KafkaConsumer(conf, { 'auto.offset.reset': 'earliest' });
    client.on('event.error', (err: LibrdKafkaError) => {
      if (!logTransientError(err, this.throttle, this.log, 'topic reader')) {
        this.log.error({ err }, 'topic reader client failed');
      }
    });
    this.client = client;
    await rdConnect(client, this.transport.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS);
    const timeout = this.transport.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const md = await rdCall<Metadata>((cb) => client.getMetadata({ topic: this.topic, timeout }, cb));
    const t = md.topics.find((x) => x.name === this.topic);
    if (!t || t.partitions.length === 0) {
      throw new VigilError('CONFIG_INVALID', `topic ${this.topic} does not exist`, {
        details: { topic: this.topic },
      });
    }
    const partitions = await Promise.all(
      t.partitions.map(async ({ id }) => {
        const w = await rdCall<{ lowOffset: number; highOffset: number }>((cb) =>
          client.queryWatermarkOffsets(this.topic, id, timeout, cb),
        );
        return { partition: id, start: BigInt(w.lowOffset), end: BigInt(w.highOffset) };
      }),
    );
    client.assign(
      partitions.map((p) => ({ topic: this.topic, partition: p.partition, offset: Number(p.start) })),
    );
    return new CatchUp(partitions);
  }

  private async run(progress: CatchUp, handler: BatchHandler, onCaughtUp: () => void): Promise<void> {
    const client = this.client!;
    client.setDefaultConsumeTimeout(this.opts.maxWaitMs);
    while (!this.stopping) {
      if (progress.caughtUp) {
        onCaughtUp();
        if (!this.opts.follow) return;
      }
      let messages: Message[];
      try {
        messages = await rdCall<Message[]>((cb) => client.consume(this.opts.maxBatchRecords, cb));
      } catch (err) {
        const f = classifyRd(err);
        if (!f.retriable || f.fatal) {
          throw toVigilError('BROKER_UNAVAILABLE', `reading ${this.topic} failed`, err, f, {
            topic: this.topic,
          });
        }
        this.log.warn({ err }, 'topic reader consume failed; retrying');
        continue;
      }
      await this.deliver(messages, progress, handler);
    }
  }

  private async deliver(messages: Message[], progress: CatchUp, handler: BatchHandler): Promise<void> {
    const byPartition = new Map<number, KafkaRecord[]>();
    for (const m of messages) {
      if (m.topic !== this.topic) continue;
      const offset = BigInt(m.offset);
      if (offset < progress.position(m.partition)) continue;
      const list = byPartition.get(m.partition) ?? [];
      list.push({
        topic: this.topic,
        partition: m.partition,
        offset,
        key: typeof m.key === 'string' ? Buffer.from(m.key) : (m.key ?? null),
        value: m.value ?? null,
        headers: headersFromRdkafka(m.headers),
        timestamp: m.timestamp ?? 0,
      });
      byPartition.set(m.partition, list);
    }
    for (const [partition, records] of byPartition) {
      if (this.stopping) return;
      const next = records[records.length - 1]!.offset + 1n;
      let highWatermark = -1n;
      try {
        highWatermark = BigInt(this.client!.getWatermarkOffsets(this.topic, partition).highOffset);
      } catch {
        // not known yet
      }
      await handler({ topic: this.topic, partition, records, nextOffset: next, highWatermark, epoch: 0 });
      progress.advance(partition, next);
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    if (this.state === 'new') await this.finish(undefined);
    await this.loop;
    await this.closed.catch(() => {});
  }

  private async finish(error: unknown): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.stopping = true;
    const client = this.client;
    if (client?.isConnected()) {
      await rdCall((cb) => client.disconnect((err) => cb(err))).catch(() => {});
    }
    this.onClosed?.();
    if (error === undefined) this.closedDeferred.resolve();
    else this.closedDeferred.reject(error);
  }
}
