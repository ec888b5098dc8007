import { afterEach, describe, expect, it } from 'vitest';
import { RD } from '../../../../connector/transport/errors.js';
import { RdkafkaConsumer } from '../../../../connector/transport/rdkafka/consumer.js';
import type { RecordBatch } from '../../../../connector/transport/types.js';
import { silentLogger } from '../../../../core/logger.js';

/**
 * librdkafka cannot be made to hand a record over twice on demand (it did once in a 3M-record drain, after a
 * pause and resume), so the client here is a stand-in with the calls the consumer makes, and the message
 * lists are what node-rdkafka's consume(n) would return. The consumer's own bookkeeping is the real one.
 */
function standIn() {
  return {
    assign() {},
    unassign() {},
    pause() {},
    resume() {},
    getWatermarkOffsets: () => ({ lowOffset: 0, highOffset: 1000 }),
    setDefaultConsumeTimeout() {},
    // Nothing more from librdkafka; answered later, so the consumer's call loop does not spin.
    consume(_n: number, cb: (err: unknown, messages: unknown[]) => void) {
      setTimeout(() => cb(null, []), 5);
    },
    seek(_tp: unknown, _timeout: number, cb: (err: unknown) => void) {
      cb(null);
    },
    disconnect(cb: (err: unknown) => void) {
      cb(null);
    },
  };
}

interface Internals {
  handler: (batch: RecordBatch) => Promise<void>;
  client: ReturnType<typeof standIn>;
  state: string;
  onRebalance(
    client: unknown,
    err: { code: number },
    assignment: { topic: string; partition: number }[],
  ): void;
  ingest(messages: unknown[]): void;
}

const message = (offset: number) => ({
  topic: 't',
  partition: 0,
  offset,
  value: Buffer.from([offset]),
  key: null,
  timestamp: 0,
  size: 1,
});

const settle = () => new Promise((r) => setTimeout(r, 30));

let consumer: RdkafkaConsumer | undefined;
afterEach(async () => {
  await consumer?.close();
  consumer = undefined;
});

function assigned(): { c: RdkafkaConsumer; internals: Internals; delivered: number[] } {
  const c = new RdkafkaConsumer(
    { brokers: ['127.0.0.1:1'], clientId: 't', security: { protocol: 'PLAINTEXT' } },
    { groupId: 'g', topics: ['t'] },
    silentLogger(),
  );
  consumer = c;
  const delivered: number[] = [];
  const internals = c as unknown as Internals;
  internals.handler = async (b) => {
    for (const r of b.records) delivered.push(Number(r.offset));
  };
  internals.state = 'running';
  const client = standIn();
  internals.client = client;
  internals.onRebalance(client, { code: RD.ERR__ASSIGN_PARTITIONS }, [{ topic: 't', partition: 0 }]);
  return { c, internals, delivered };
}

describe('rdkafka consumer: records handed over again', () => {
  it('drops a record below what was already taken, so each offset is delivered once, in order', async () => {
    const { internals, delivered } = assigned();
    await settle();
    internals.ingest([0, 1, 2, 3].map(message));
    // 2 and 3 again, as librdkafka returned them after a pause and resume.
    internals.ingest([2, 3, 4, 5].map(message));
    await settle();
    expect(delivered).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('after a seek back, the earlier offsets are taken again', async () => {
    const { c, internals, delivered } = assigned();
    await settle();
    internals.ingest([0, 1, 2, 3].map(message));
    await settle();
    c.seek({ topic: 't', partition: 0, offset: 1n });
    await settle();
    internals.ingest([1, 2, 3].map(message));
    await settle();
    expect(delivered).toEqual([0, 1, 2, 3, 1, 2, 3]);
  });
});
