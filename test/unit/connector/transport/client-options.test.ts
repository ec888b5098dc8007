import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import { KafkajsConsumer } from '../../../../connector/transport/kafkajs/consumer.js';
import { KafkajsProducer } from '../../../../connector/transport/kafkajs/producer.js';
import {
  RdkafkaProducer,
  RdkafkaTransactionalProducer,
} from '../../../../connector/transport/rdkafka/producer.js';
import type { ProducerOptions, TransportOptions } from '../../../../connector/transport/types.js';
import { parseConfig } from '../../../../core/config/load.js';
import { isVigilError, type VigilError } from '../../../../core/errors.js';
import { silentLogger } from '../../../../core/logger.js';

const transport: TransportOptions = {
  brokers: ['b1:9092'],
  clientId: 'vigil',
  security: { protocol: 'PLAINTEXT' },
};

/** The librdkafka properties a producer would be created with (nothing connects). */
function rdConfig(options: ProducerOptions, transactional = false): Record<string, unknown> {
  const p = transactional
    ? new RdkafkaTransactionalProducer(transport, { ...options, transactionalId: 'tx' }, silentLogger())
    : new RdkafkaProducer(transport, options, silentLogger());
  return (p as unknown as { config(): Record<string, unknown> }).config();
}

describe('producer compression and idempotence', () => {
  it('rdkafka: passes compression and idempotence through; without idempotence one request in flight', () => {
    expect(rdConfig({})).toMatchObject({ 'compression.codec': 'none', 'enable.idempotence': true });
    expect(rdConfig({})['max.in.flight.requests.per.connection']).toBeUndefined();
    expect(rdConfig({ compression: 'lz4', idempotent: false })).toMatchObject({
      'compression.codec': 'lz4',
      'enable.idempotence': false,
      'max.in.flight.requests.per.connection': 1,
    });
    // A transactional producer is idempotent whatever it is given.
    expect(rdConfig({ idempotent: false }, true)['enable.idempotence']).toBe(true);
  });

  it('kafkajs: refuses snappy and lz4 (no codec bundled) at construction, accepts gzip', () => {
    const kafka = new Kafka({ brokers: ['b1:9092'], logLevel: logLevel.NOTHING });
    expect(
      () => new KafkajsProducer(kafka, transport, { compression: 'gzip' }, silentLogger()),
    ).not.toThrow();
    for (const compression of ['snappy', 'lz4'] as const) {
      try {
        new KafkajsProducer(kafka, transport, { compression }, silentLogger());
        expect.unreachable(`${compression} was accepted`);
      } catch (err) {
        expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      }
    }
  });

  it('vigil.yaml refuses snappy/lz4 with the kafkajs transport and zstd everywhere, naming the key', () => {
    const base =
      'input:\n  topics: [t]\nfeatures:\n  preset: sensor-reading\nkafka:\n  transport: TRANSPORT\n  producer:\n    compression: CODEC\n';
    const problems = (transportKind: string, codec: string) => {
      try {
        parseConfig(base.replace('TRANSPORT', transportKind).replace('CODEC', codec));
        return [];
      } catch (err) {
        return (err as VigilError).details['problems'] as string[];
      }
    };
    expect(problems('rdkafka', 'lz4')).toEqual([]);
    expect(problems('kafkajs', 'gzip')).toEqual([]);
    expect(problems('kafkajs', 'lz4').join()).toMatch(
      /kafka\.producer\.compression.*needs transport rdkafka/,
    );
    expect(problems('rdkafka', 'zstd').join()).toMatch(/kafka\.producer\.compression/);
  });
});

describe('consumer fetch options', () => {
  it('kafkajs: the fetch sizes and wait reach the client, with the Java defaults when unset', () => {
    const kafka = new Kafka({ brokers: ['b1:9092'], logLevel: logLevel.NOTHING });
    const spy = vi.spyOn(kafka, 'consumer');
    const create = (fetch?: object) =>
      (
        new KafkajsConsumer(
          kafka,
          { groupId: 'g', topics: ['t'], ...(fetch ? { fetch } : {}) },
          silentLogger(),
        ) as unknown as { createClient(): unknown }
      ).createClient();
    create({ minBytes: 1024, maxBytes: 10_485_760, maxBytesPerPartition: 2_097_152, maxWaitMs: 500 });
    expect(spy.mock.calls[0]![0]).toMatchObject({
      minBytes: 1024,
      maxBytes: 10_485_760,
      maxBytesPerPartition: 2_097_152,
      maxWaitTimeInMs: 500,
    });
    create();
    expect(spy.mock.calls[1]![0]).toMatchObject({
      minBytes: 1,
      maxBytes: 52_428_800,
      maxBytesPerPartition: 1_048_576,
      maxWaitTimeInMs: 100,
    });
  });
});
