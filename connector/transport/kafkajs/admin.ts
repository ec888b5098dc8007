import type { Admin, Kafka } from 'kafkajs';
import { classifyKafkajsError, toVigilError } from '../errors.js';
import { waitUntilServed } from '../topic-readiness.js';
import type { PartitionWatermarks, TopicPartitionOffset, TopicSpec, TransportAdmin } from '../types.js';

export class KafkajsAdmin implements TransportAdmin {
  private admin: Admin | null = null;
  private connecting: Promise<Admin> | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly onClosed?: () => void,
    private readonly timeoutMs = 30_000,
  ) {}

  private ensure(): Promise<Admin> {
    if (this.admin) return Promise.resolve(this.admin);
    if (!this.connecting) {
      const admin = this.kafka.admin();
      this.connecting = admin.connect().then(
        () => {
          this.admin = admin;
          return admin;
        },
        (err: unknown) => {
          this.connecting = null;
          throw toVigilError(
            'BROKER_UNAVAILABLE',
            'kafkajs admin could not connect',
            err,
            classifyKafkajsError(err),
          );
        },
      );
    }
    return this.connecting;
  }

  private async call<T>(what: string, fn: (admin: Admin) => Promise<T>): Promise<T> {
    const admin = await this.ensure();
    try {
      return await fn(admin);
    } catch (err) {
      throw toVigilError('BROKER_UNAVAILABLE', `admin ${what} failed`, err, classifyKafkajsError(err));
    }
  }

  async listTopics(): Promise<string[]> {
    return this.call('listTopics', (admin) => admin.listTopics());
  }

  async createTopics(topics: readonly TopicSpec[]): Promise<void> {
    if (topics.length === 0) return;
    // Only the missing ones: CreateTopics needs the CREATE right even for a topic that exists.
    const existing = new Set(await this.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length === 0) return;
    await this.call('createTopics', (admin) =>
      // Resolves false (no error) for topics that already exist (created meanwhile by someone else).
      admin.createTopics({
        // Not kafkajs's waitForLeaders: it retries only LEADER_NOT_AVAILABLE, and a just-created topic's metadata can
        // answer UNKNOWN_TOPIC_OR_PARTITION ("does not host this topic-partition") first, which it throws. waitUntilServed
        // below retries every error until each partition's leader answers.
        waitForLeaders: false,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions ?? 3,
          replicationFactor: t.replicationFactor ?? 1,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      }),
    );
    await this.call('fetchTopicOffsets', (admin) =>
      waitUntilServed(
        missing.map((t) => t.name),
        (topic) => admin.fetchTopicOffsets(topic),
        this.timeoutMs,
      ),
    );
  }

  async deleteTopics(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.call('deleteTopics', async (admin) => {
      const existing = new Set(await admin.listTopics());
      const topics = names.filter((n) => existing.has(n));
      if (topics.length > 0) await admin.deleteTopics({ topics });
    });
  }

  async fetchWatermarks(topic: string): Promise<PartitionWatermarks[]> {
    const offsets = await this.call('fetchTopicOffsets', (admin) => admin.fetchTopicOffsets(topic));
    return offsets
      .map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async fetchCommittedOffsets(groupId: string, topics: readonly string[]): Promise<TopicPartitionOffset[]> {
    const result = await this.call('fetchOffsets', (admin) =>
      admin.fetchOffsets({ groupId, topics: [...topics] }),
    );
    const out: TopicPartitionOffset[] = [];
    for (const t of result) {
      for (const p of t.partitions)
        out.push({ topic: t.topic, partition: p.partition, offset: BigInt(p.offset) });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  async close(): Promise<void> {
    const admin = this.admin ?? (this.connecting ? await this.connecting.catch(() => null) : null);
    this.admin = null;
    this.connecting = null;
    try {
      if (admin) await admin.disconnect();
    } finally {
      this.onClosed?.();
    }
  }
}
