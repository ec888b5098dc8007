import { describe, expect, it } from 'vitest';
import { resolveConsumerOptions } from '../../../../connector/transport/consumer-options.js';
import { rdkafkaConsumerProperties } from '../../../../connector/transport/rdkafka/consumer.js';
import type { TransportOptions } from '../../../../connector/transport/types.js';
import { isVigilError } from '../../../../core/errors.js';

const consumer = resolveConsumerOptions({ groupId: 'g', topics: ['t'] });

function transport(librdkafka?: Record<string, string | number | boolean>): TransportOptions {
  return {
    brokers: ['b1:9092'],
    clientId: 'vigil',
    security: { protocol: 'PLAINTEXT' },
    ...(librdkafka ? { librdkafka } : {}),
  };
}

describe('rdkafka consumer properties', () => {
  it('waits at most 100 ms for a fetch by default, with the Java client’s fetch sizes', () => {
    const p = rdkafkaConsumerProperties(transport(), consumer);
    expect(p['max.partition.fetch.bytes']).toBe(1_048_576);
    expect(p['fetch.max.bytes']).toBe(52_428_800);
    expect(p['fetch.min.bytes']).toBe(1);
    expect(p['fetch.wait.max.ms']).toBe(100);
    expect(p['fetch.queue.backoff.ms']).toBe(5);
    expect(p['group.id']).toBe('g');
    expect(p['enable.auto.commit']).toBe(false);
  });

  it('passes the fetch options as they are', () => {
    const fetch = { minBytes: 1024, maxBytes: 10_485_760, maxBytesPerPartition: 2_097_152, maxWaitMs: 500 };
    const p = rdkafkaConsumerProperties(
      transport(),
      resolveConsumerOptions({ groupId: 'g', topics: ['t'], fetch }),
    );
    expect([
      p['fetch.min.bytes'],
      p['fetch.max.bytes'],
      p['max.partition.fetch.bytes'],
      p['fetch.wait.max.ms'],
    ]).toEqual([1024, 10_485_760, 2_097_152, 500]);
  });

  it('lets `librdkafka` override the tuning defaults', () => {
    const p = rdkafkaConsumerProperties(
      transport({
        'fetch.wait.max.ms': 10,
        'max.partition.fetch.bytes': 1_048_576,
        'queued.min.messages': 5_000,
      }),
      consumer,
    );
    expect(p['fetch.wait.max.ms']).toBe(10);
    expect(p['max.partition.fetch.bytes']).toBe(1_048_576);
    expect(p['queued.min.messages']).toBe(5_000);
  });

  it('refuses to let `librdkafka` change what correctness rests on', () => {
    for (const [key, value] of [
      ['partition.assignment.strategy', 'cooperative-sticky'],
      ['enable.partition.eof', true],
      ['enable.auto.commit', true],
      ['group.id', 'other'],
    ] as const) {
      try {
        rdkafkaConsumerProperties(transport({ [key]: value }), consumer);
        expect.unreachable(`${key} was accepted`);
      } catch (err) {
        expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      }
    }
    const p = rdkafkaConsumerProperties(transport(), consumer);
    expect(p['partition.assignment.strategy']).toBe('roundrobin');
    expect(p['enable.partition.eof']).toBe(false);
  });
});
