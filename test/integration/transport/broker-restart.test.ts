// A broker that goes away and comes back: sends fail with a typed, retriable error in bounded time while it is
// down, and neither the producer nor the consumer gives up; both carry on once it is back. Uses a broker of this
// file's own (free ports, own state dir), stopped and removed at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransport, type TransportKind } from '../../../connector/transport/index.js';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { uniqueName } from '../../support/kafka.js';
import { Collector, messages, testConsumerOptions, testLogger, waitFor } from './conformance.js';
import { type PrivateBroker, startPrivateBroker } from './private-broker.js';

let broker: PrivateBroker | undefined;

beforeAll(async () => {
  broker = await startPrivateBroker({ name: 'restart' });
}, 180_000);

afterAll(async () => {
  await broker?.destroy();
}, 60_000);

describe.each<TransportKind>(['kafkajs', 'rdkafka'])('broker restart on %s', (kind) => {
  it('fails sends while the broker is down, then producer and consumer carry on without being recreated', async () => {
    const transport = createTransport(
      kind,
      {
        brokers: [broker!.env.KAFKA_BOOTSTRAP!],
        clientId: uniqueName('vigil-restart'),
        security: { protocol: 'PLAINTEXT' },
        connectionTimeoutMs: 2_000,
        requestTimeoutMs: 4_000,
      },
      testLogger(),
    );
    const topic = uniqueName(`restart-${kind}`);
    try {
      const admin = transport.admin();
      await admin.createTopics([{ name: topic, partitions: 1 }]);
      await admin.close();
      const producer = transport.producer({ deliveryTimeoutMs: 5_000 });
      const collector = new Collector();
      const consumer = transport.consumer(testConsumerOptions(uniqueName('g-restart'), [topic]));
      await consumer.start(async (batch) => {
        await collector.handler(batch);
        await consumer
          .commit([{ topic, partition: 0, offset: batch.nextOffset, epoch: batch.epoch }])
          .catch(() => {});
      });
      await producer.send(messages(topic, 20, { prefix: 'before' }));
      await waitFor('records before the restart', () => collector.count >= 20);

      await broker!.stop();
      const down = await producer.send(messages(topic, 5, { prefix: 'down' })).catch((e: unknown) => e);
      expect(isVigilError(down, 'PRODUCE_FAILED')).toBe(true);
      expect((down as VigilError).retriable).toBe(true);

      await broker!.start();
      // What the pipeline does with a retriable failure: try again until it goes through.
      await waitFor(
        'a send to succeed after the restart',
        () =>
          producer.send(messages(topic, 20, { prefix: 'after' })).then(
            () => true,
            (e: unknown) => {
              if (!isVigilError(e) || !e.retriable) throw e;
              return false;
            },
          ),
        90_000,
      );
      await waitFor(
        'records after the restart',
        () => (collector.byPartition.get(0) ?? []).some((r) => r.value?.toString() === 'after-19'),
        90_000,
      );
      await consumer.close();
      await expect(consumer.closed).resolves.toBeUndefined();
      const values = (collector.byPartition.get(0) ?? []).map((r) => r.value!.toString());
      const expectAll = (prefix: string) =>
        expect(new Set(values.filter((v) => v.startsWith(`${prefix}-`)))).toEqual(
          new Set(Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`)),
        );
      expectAll('before');
      expectAll('after');
      // At-least-once across the outage: records may come again after a restart, but none is skipped.
      const distinct = [...new Set(collector.offsets(0))].sort((a, b) => (a < b ? -1 : 1));
      expect(distinct).toEqual(Array.from({ length: distinct.length }, (_, i) => BigInt(i)));
    } finally {
      await transport.close();
    }
  }, 240_000);
});
