// Helpers for integration tests: where the broker and registry are (from global-setup.ts), random names, topic
// admin and ready-made kafkajs clients. One random topic and group per test; delete the topic when done.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { inject } from 'vitest';
import { waitUntilServed } from '../../connector/transport/topic-readiness.js';
import type { LocalBrokerInfo, SaslSslInfo, VigilKafkaContext, VigilRegistryContext } from './context.js';
import type { BrokerSource } from './resolution.js';

export { parseBrokerList, resolveBrokerSource, resolveRegistrySource } from './resolution.js';
export type { BrokerSource, LocalBrokerInfo, SaslSslInfo };

// kafkajs warns about its v2 partitioner change on every producer; the tests do not care.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

function kafkaContext(): VigilKafkaContext {
  const ctx = inject('vigilKafka');
  if (!ctx) throw new Error('no broker provided: run integration tests with `vitest --project integration`');
  return ctx;
}

function registryContext(): VigilRegistryContext {
  const ctx = inject('vigilRegistry');
  if (!ctx)
    throw new Error('no registry provided: run integration tests with `vitest --project integration`');
  return ctx;
}

/** Bootstrap addresses of the resolved broker, exactly as resolved (KAFKA_BROKERS is passed through as spelled). */
export function brokers(): string[] {
  return [...kafkaContext().brokers];
}

/** Where the broker came from: KAFKA_BROKERS, a testcontainers container, or deploy/kafka/kafkactl.sh. */
export function brokerSource(): BrokerSource {
  return kafkaContext().source;
}

/** The local kafkactl.sh broker's details, or undefined when the broker came from elsewhere. */
export function localBroker(): LocalBrokerInfo | undefined {
  return kafkaContext().local ?? undefined;
}

/** The SASL_SSL listener (PLAIN, SCRAM-SHA-256/512 over TLS), when the local broker runs one. */
export function saslSsl(): SaslSslInfo | undefined {
  return kafkaContext().saslSsl ?? undefined;
}

/**
 * Base URL of the Confluent-compatible registry API (pass it as `host` to @kafkajs/confluent-schema-registry).
 * Throws, with the reason, when no registry could be provided.
 */
export function registryUrl(): string {
  const ctx = registryContext();
  if (!ctx.url) throw new Error(`schema registry unavailable: ${ctx.error ?? 'unknown reason'}`);
  return ctx.url;
}

/** `${prefix}-<base36 time>-<8 hex>`: unique per call, legal as a topic or group name. */
export function uniqueName(prefix: string): string {
  const clean = prefix.replace(/[^a-zA-Z0-9._-]/g, '-').slice(0, 200) || 'vigil';
  return `${clean}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/**
 * A kafkajs client for the resolved broker. Connection retries are short so a missing broker fails a test in
 * seconds, not minutes; pass overrides (ssl, sasl, brokers, retry, logLevel...) to change anything.
 */
export function kafkajsClient(
  clientId = uniqueName('vigil-test'),
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers(),
    logLevel: logLevel.ERROR,
    connectionTimeout: 5_000,
    retry: { retries: 5, initialRetryTime: 200, maxRetryTime: 2_000 },
    ...overrides,
  });
}

/**
 * A kafkajs client for the SASL_SSL listener with the CA from the broker's state dir.
 * mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'. Throws when the broker has no such listener.
 */
export function kafkajsSaslClient(
  mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512',
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  const info = saslSsl();
  if (!info) throw new Error('the broker has no SASL_SSL listener (start it with KAFKA_SECURITY=sasl_ssl)');
  return kafkajsClient(uniqueName(`vigil-sasl-${mechanism}`), {
    brokers: info.brokers,
    ssl: { ca: [readFileSync(info.caPemPath, 'utf8')] },
    sasl: { mechanism, username: info.username, password: info.password } as KafkaConfig['sasl'],
    ...overrides,
  });
}

async function withAdmin<T>(fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = kafkajsClient(uniqueName('vigil-test-admin')).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic (replication factor 1) and waits until every partition has a leader. */
export async function createTopic(
  name: string,
  partitions = 3,
  configEntries: Record<string, string> = {},
): Promise<void> {
  await withAdmin(async (admin) => {
    const created = await admin.createTopics({
      // Not kafkajs's waitForLeaders: it retries only LEADER_NOT_AVAILABLE, and a just-created topic's metadata can
      // answer UNKNOWN_TOPIC_OR_PARTITION ("does not host this topic-partition") first, which it throws. waitUntilServed
      // below retries every error until each partition's leader answers.
      waitForLeaders: false,
      topics: [
        {
          topic: name,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(configEntries).map(([n, value]) => ({ name: n, value })),
        },
      ],
    });
    if (!created) throw new Error(`topic ${name} already exists`);
    await waitUntilServed([name], (t) => admin.fetchTopicOffsets(t), 30_000);
  });
}

/** Deletes a topic; a topic that does not exist is not an error (cleanup after a failed test). */
export async function deleteTopic(name: string): Promise<void> {
  await withAdmin(async (admin) => {
    const existing = await admin.listTopics();
    if (existing.includes(name)) await admin.deleteTopics({ topics: [name], timeout: 10_000 });
  });
}
