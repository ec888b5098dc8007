// Produce and consume over SASL_SSL (TLS with the broker's own CA; PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) on both
// transports, against a broker of this file's own (kafkactl.sh with KAFKA_SECURITY=sasl_ssl on free ports and its
// own state dir), stopped and removed at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTransport,
  type SaslMechanism,
  type TransportKind,
  type TransportOptions,
} from '../../../connector/transport/index.js';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { uniqueName } from '../../support/kafka.js';
import { Collector, messages, testConsumerOptions, testLogger, waitFor } from './conformance.js';
import { type PrivateBroker, startPrivateBroker } from './private-broker.js';

let broker: PrivateBroker | undefined;

beforeAll(async () => {
  broker = await startPrivateBroker({ name: 'sasl', saslSsl: true });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
}, 60_000);

function saslOptions(mechanism: SaslMechanism, password?: string): TransportOptions {
  const env = broker!.env;
  return {
    brokers: [env.KAFKA_SASL_BOOTSTRAP!],
    clientId: uniqueName(`vigil-sasl-${mechanism}`),
    security: {
      protocol: 'SASL_SSL',
      sasl: { mechanism, username: env.KAFKA_SASL_USER!, password: password ?? env.KAFKA_SASL_PASSWORD! },
      ssl: { caFile: env.KAFKA_CA_PEM! },
    },
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
  };
}

const KINDS: TransportKind[] = ['kafkajs', 'rdkafka'];
const MECHANISMS: SaslMechanism[] = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

describe.each(KINDS)('SASL_SSL on %s', (kind) => {
  it.each(MECHANISMS)('%s: creates a topic, produces, consumes and commits over TLS', async (mechanism) => {
    expect(broker!.env.KAFKA_SASL_BOOTSTRAP).toBe(`127.0.0.1:${broker!.port + 1}`);
    const transport = createTransport(kind, saslOptions(mechanism), testLogger());
    const topic = uniqueName(`sasl-${kind}-${mechanism}`);
    const group = uniqueName('g-sasl');
    const admin = transport.admin();
    try {
      await admin.createTopics([{ name: topic, partitions: 2 }]);
      await transport.producer().send(messages(topic, 50));
      const collector = new Collector();
      const consumer = transport.consumer(testConsumerOptions(group, [topic]));
      await consumer.start(async (batch) => {
        await collector.handler(batch);
        await consumer.commit([
          { topic, partition: batch.partition, offset: batch.nextOffset, epoch: batch.epoch },
        ]);
      });
      await waitFor('50 records over SASL_SSL', () => collector.count >= 50);
      await consumer.close();
      expect(collector.count).toBe(50);
      const committed = await admin.fetchCommittedOffsets(group, [topic]);
      const marks = await admin.fetchWatermarks(topic);
      expect(committed.map((c) => c.offset)).toEqual(marks.map((m) => m.high));
      await admin.deleteTopics([topic]);
    } finally {
      await transport.close();
    }
  });

  it('a wrong password fails with a non-retriable CONFIG_INVALID naming the security settings', async () => {
    const transport = createTransport(kind, saslOptions('SCRAM-SHA-256', 'not-the-password'), testLogger());
    try {
      const err = await transport
        .producer({ deliveryTimeoutMs: 5_000 })
        .connect()
        .catch((e: unknown) => e);
      expect(isVigilError(err)).toBe(true);
      expect((err as VigilError).code).toBe('CONFIG_INVALID');
      expect((err as VigilError).retriable).toBe(false);

      const consumer = transport.consumer(testConsumerOptions(uniqueName('g-badpw'), ['any']));
      const startError = await consumer.start(async () => {}).catch((e: unknown) => e);
      expect(isVigilError(startError)).toBe(true);
      expect((startError as VigilError).code).toBe('CONFIG_INVALID');
      expect((startError as VigilError).retriable).toBe(false);
    } finally {
      await transport.close();
    }
  });
});
