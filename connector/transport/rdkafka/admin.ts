import type {
  ConsumerGlobalConfig,
  IAdminClient,
  Metadata,
  ProducerGlobalConfig,
  Producer as RdProducerClient,
} from 'node-rdkafka';
import { VigilError } from '../../../core/errors.js';
import { RD, toVigilError } from '../errors.js';
import {
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  rdkafkaConnectionProperties,
} from '../security.js';
import { waitUntilServed } from '../topic-readiness.js';
import type {
  PartitionWatermarks,
  TopicPartitionOffset,
  TopicSpec,
  TransportAdmin,
  TransportOptions,
} from '../types.js';
import { classifyRd, loadRdkafka, rdCall, rdConnect, rdErrorCode } from './load.js';

/** An admin connect given up on (all brokers down) still holds the process for up to this long: see rdConnect. */
const ADMIN_CONNECT_ATTEMPT_MS = 500;

const ERR_UNKNOWN_TOPIC_OR_PART = 3;

/**
 * Admin helpers over node-rdkafka: its AdminClient creates and deletes topics; metadata and watermarks come from
 * a plain (idle) producer client; committed offsets from a consumer that never subscribes, so it reads the
 * group's offsets without joining the group.
 */
export class RdkafkaAdmin implements TransportAdmin {
  private admin: IAdminClient | null = null;
  private meta: Promise<RdProducerClient> | null = null;
  private readonly timeoutMs: number;

  constructor(
    private readonly options: TransportOptions,
    private readonly onClosed?: () => void,
  ) {
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    rdkafkaConnectionProperties(options);
  }

  private adminClient(): IAdminClient {
    if (!this.admin) {
      const { AdminClient } = loadRdkafka();
      this.admin = AdminClient.create(
        rdkafkaConnectionProperties(this.options) as unknown as ConsumerGlobalConfig,
      );
    }
    return this.admin;
  }

  private metadataClient(): Promise<RdProducerClient> {
    if (!this.meta) {
      const { Producer } = loadRdkafka();
      const client = new Producer(
        rdkafkaConnectionProperties(this.options) as unknown as ProducerGlobalConfig,
      );
      // An admin call is one request, not a session to keep up: with every bootstrap broker refusing, say so
      // now instead of after the connection timeout (a start-up with a wrong address exits in seconds).
      this.meta = rdConnect(client, this.options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS, {
        failFast: (err) => rdErrorCode(err) === RD.ERR__ALL_BROKERS_DOWN,
        attemptMs: ADMIN_CONNECT_ATTEMPT_MS,
      }).then(
        () => client,
        (err) => {
          this.meta = null;
          throw toVigilError('BROKER_UNAVAILABLE', 'rdkafka admin could not connect', err, classifyRd(err));
        },
      );
    }
    return this.meta;
  }

  private async metadata(topic: string): Promise<Metadata> {
    const client = await this.metadataClient();
    try {
      return await rdCall<Metadata>((cb) => client.getMetadata({ topic, timeout: this.timeoutMs }, cb));
    } catch (err) {
      throw toVigilError('BROKER_UNAVAILABLE', `metadata for ${topic} failed`, err, classifyRd(err));
    }
  }

  private async partitionsOf(topic: string): Promise<number[]> {
    const md = await this.metadata(topic);
    const t = md.topics.find((x) => x.name === topic);
    if (!t || t.partitions.length === 0) {
      throw new VigilError('BROKER_UNAVAILABLE', `topic ${topic} is unknown to the cluster`, {
        retriable: true,
        details: { topic },
      });
    }
    return t.partitions.map((p) => p.id).sort((a, b) => a - b);
  }

  async listTopics(): Promise<string[]> {
    const client = await this.metadataClient();
    try {
      const md = await rdCall<Metadata>((cb) =>
        client.getMetadata({ allTopics: true, timeout: this.timeoutMs }, cb),
      );
      return md.topics.map((t) => t.name).sort();
    } catch (err) {
      throw toVigilError('BROKER_UNAVAILABLE', 'metadata of all topics failed', err, classifyRd(err));
    }
  }

  async createTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    // Only the missing ones: CreateTopics needs the CREATE right even for a topic that exists.
    const existing = new Set(await this.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return;
    const admin = this.adminClient();
    for (const t of missing) {
      try {
        await rdCall((cb) =>
          admin.createTopic(
            {
              topic: t.name,
              num_partitions: t.partitions ?? 3,
              replication_factor: t.replicationFactor ?? 1,
              config: { ...(t.config ?? {}) },
            },
            this.timeoutMs,
            (err) => cb(err),
          ),
        );
      } catch (err) {
        if ((err as { code?: number }).code === RD.ERR_TOPIC_ALREADY_EXISTS) continue;
        throw toVigilError('BROKER_UNAVAILABLE', `createTopic ${t.name} failed`, err, classifyRd(err));
      }
    }
    // CreateTopics returns before every partition has a leader, and a leader named in metadata may not serve
    // the partition yet: wait until every partition's watermarks can be read.
    await waitUntilServed(
      missing.map((t) => t.name),
      async (topic) => {
        const md = await this.metadata(topic);
        const entry = md.topics.find((x) => x.name === topic);
        if (!entry || entry.partitions.length === 0 || entry.partitions.some((p) => p.leader < 0)) {
          throw new VigilError('BROKER_UNAVAILABLE', `topic ${topic} has no leaders yet`, {
            retriable: true,
          });
        }
        await this.fetchWatermarks(topic);
      },
      this.timeoutMs,
    );
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    const admin = this.adminClient();
    for (const name of names) {
      try {
        await rdCall((cb) => admin.deleteTopic(name, this.timeoutMs, (err) => cb(err)));
      } catch (err) {
        if ((err as { code?: number }).code === ERR_UNKNOWN_TOPIC_OR_PART) continue;
        throw toVigilError('BROKER_UNAVAILABLE', `deleteTopic ${name} failed`, err, classifyRd(err));
      }
    }
  }

  async fetchWatermarks(topic: string): Promise<PartitionWatermarks[]> {
    const partitions = await this.partitionsOf(topic);
    const client = await this.metadataClient();
    return Promise.all(
      partitions.map(async (partition) => {
        try {
          const w = await rdCall<{ lowOffset: number; highOffset: number }>((cb) =>
            client.queryWatermarkOffsets(topic, partition, this.timeoutMs, cb),
          );
          return { partition, low: BigInt(w.lowOffset), high: BigInt(w.highOffset) };
        } catch (err) {
          throw toVigilError(
            'BROKER_UNAVAILABLE',
            `watermarks of ${topic}[${partition}] failed`,
            err,
            classifyRd(err),
          );
        }
      }),
    );
  }

  async fetchCommittedOffsets(groupId: string, topics: readonly string[]): Promise<TopicPartitionOffset[]> {
    const toppars: Array<{ topic: string; partition: number }> = [];
    for (const topic of topics) {
      for (const partition of await this.partitionsOf(topic)) toppars.push({ topic, partition });
    }
    const { KafkaConsumer } = loadRdkafka();
    const consumer = new KafkaConsumer(
      {
        ...rdkafkaConnectionProperties(this.options),
        'group.id': groupId,
        'enable.auto.commit': false,
      } as unknown as ConsumerGlobalConfig,
      {},
    );
    try {
      await rdConnect(consumer, this.options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS);
      const result = await rdCall<Array<{ topic: string; partition: number; offset?: number }>>((cb) =>
        consumer.committed(toppars, this.timeoutMs, cb),
      );
      return result
        .map((r) => ({
          topic: r.topic,
          partition: r.partition,
          // librdkafka reports "nothing committed" as OFFSET_INVALID (-1001).
          offset: r.offset === undefined || r.offset < 0 ? -1n : BigInt(r.offset),
        }))
        .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
    } catch (err) {
      throw toVigilError(
        'BROKER_UNAVAILABLE',
        `committed offsets of group ${groupId} failed`,
        err,
        classifyRd(err),
      );
    } finally {
      await rdCall((cb) => consumer.disconnect((err) => cb(err))).catch(() => {});
    }
  }

  async close(): Promise<void> {
    try {
      this.admin?.disconnect();
      this.admin = null;
      const meta = this.meta ? await this.meta.catch(() => null) : null;
      this.meta = null;
      if (meta) await rdCall((cb) => meta.disconnect((err) => cb(err))).catch(() => {});
    } finally {
      this.onClosed?.();
    }
  }
}
