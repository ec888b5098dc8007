// The transport conformance suite: the behaviour the pipeline relies on, run unchanged against each transport
// (kafkajs.test.ts, rdkafka.test.ts) on the real broker. One random topic and group per test.
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Consumer,
  type ConsumerOptions,
  createTransport,
  type KafkaRecord,
  type ProduceMessage,
  type RecordBatch,
  type TopicPartition,
  type Transport,
  type TransportKind,
  type TransportOptions,
} from '../../../connector/transport/index.js';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import { createLogger, type Logger, silentLogger } from '../../../core/logger.js';
import { brokers, deleteTopic, kafkajsClient, uniqueName } from '../../support/kafka.js';

/** VIGIL_TEST_LOG=debug|info|warn shows the transport's logs while debugging a failure. */
export function testLogger(): Logger {
  const level = process.env.VIGIL_TEST_LOG;
  return level ? createLogger({ level, name: 'transport-test' }) : silentLogger();
}

export function plaintextOptions(overrides: Partial<TransportOptions> = {}): TransportOptions {
  return {
    brokers: brokers(),
    clientId: uniqueName('vigil-transport-test'),
    security: { protocol: 'PLAINTEXT' },
    connectionTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    ...overrides,
  };
}

/** Polls `condition` until it holds; fails the test (naming `what`) after `timeoutMs`. Not a timing assertion. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function messages(
  topic: string,
  count: number,
  opts: { partition?: number; prefix?: string } = {},
): ProduceMessage[] {
  const out: ProduceMessage[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      topic,
      key: `key-${i % 17}`,
      value: `${opts.prefix ?? 'value'}-${i}`,
      ...(opts.partition === undefined ? {} : { partition: opts.partition }),
    });
  }
  return out;
}

/** Consumer options fast enough for tests: short heartbeats so rebalances are noticed within a second. */
export function testConsumerOptions(
  groupId: string,
  topics: string[],
  extra: Partial<ConsumerOptions> = {},
): ConsumerOptions {
  return {
    groupId,
    topics,
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 500,
    maxPollIntervalMs: 30_000,
    ...extra,
  };
}

/** Records per partition as delivered, plus every batch, for assertions. */
export class Collector {
  readonly byPartition = new Map<number, KafkaRecord[]>();
  readonly batches: RecordBatch[] = [];
  count = 0;

  readonly handler = async (batch: RecordBatch): Promise<void> => {
    this.batches.push(batch);
    const list = this.byPartition.get(batch.partition) ?? [];
    list.push(...batch.records);
    this.byPartition.set(batch.partition, list);
    this.count += batch.records.length;
  };

  offsets(partition: number): bigint[] {
    return (this.byPartition.get(partition) ?? []).map((r) => r.offset);
  }
}

function contiguous(offsets: bigint[], from: bigint): boolean {
  return offsets.every((o, i) => o === from + BigInt(i));
}

export function describeTransportConformance(kind: TransportKind): void {
  describe(`transport conformance: ${kind}`, () => {
    const cleanups: Array<() => Promise<unknown>> = [];
    let transport: Transport;

    function setup(overrides: Partial<TransportOptions> = {}): Transport {
      const t = createTransport(kind, plaintextOptions(overrides), testLogger());
      cleanups.push(() => t.close());
      return t;
    }

    /** Created through the transport's own admin (which waits for leaders), deleted by the harness. */
    async function topic(partitions = 3): Promise<string> {
      const name = uniqueName(`transport-${kind}`);
      cleanups.push(() => deleteTopic(name));
      await transport.admin().createTopics([{ name, partitions }]);
      return name;
    }

    afterEach(async () => {
      for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => {});
    });

    it('delivers every produced record exactly once, in offset order per partition, with key, value and headers', async () => {
      transport = setup();
      const t = await topic(3);
      const producer = transport.producer();
      const batch = messages(t, 3000);
      (batch as ProduceMessage[])[7] = {
        topic: t,
        key: null,
        value: null,
        partition: 1,
        timestamp: 1_700_000_000_000,
        headers: [
          { key: 'h', value: 'one' },
          {
            key: 'h',
            value: transport.capabilities.binaryHeaders ? Buffer.from([0, 1, 2]) : Buffer.from('zwei'),
          },
          { key: 'other', value: 'x' },
        ],
      };
      await producer.send(batch);
      const collector = new Collector();
      const consumer = transport.consumer(
        testConsumerOptions(uniqueName('g'), [t], { maxBatchRecords: 100 }),
      );
      await consumer.start(collector.handler);
      await waitFor('3000 records', () => collector.count >= 3000);
      await consumer.close();

      expect(collector.count).toBe(3000);
      for (const partition of [0, 1, 2]) {
        expect(contiguous(collector.offsets(partition), 0n)).toBe(true);
      }
      for (const b of collector.batches) {
        expect(b.records.length).toBeGreaterThan(0);
        expect(b.records.length).toBeLessThanOrEqual(100);
        expect(b.nextOffset).toBe(b.records[b.records.length - 1]!.offset + 1n);
        expect(b.records.every((r) => r.topic === t && r.partition === b.partition)).toBe(true);
      }
      const special = (collector.byPartition.get(1) ?? []).find((r) => r.timestamp === 1_700_000_000_000);
      expect(special).toBeDefined();
      expect(special!.key).toBeNull();
      expect(special!.value).toBeNull();
      expect(special!.headers.map((h) => [h.key, h.value?.toString('hex')])).toEqual([
        ['h', Buffer.from('one').toString('hex')],
        ['h', transport.capabilities.binaryHeaders ? '000102' : Buffer.from('zwei').toString('hex')],
        ['other', Buffer.from('x').toString('hex')],
      ]);
      const plain = collector.byPartition.get(0)![0]!;
      expect(plain.headers).toEqual([]);
      expect(Buffer.isBuffer(plain.value)).toBe(true);
      expect(plain.value!.toString()).toMatch(/^value-\d+$/);
      expect(plain.key!.toString()).toMatch(/^key-\d+$/);
    });

    it('refuses header values it cannot write exactly, before sending anything', async () => {
      transport = setup();
      const t = await topic(1);
      const producer = transport.producer();
      const binary: ProduceMessage = {
        topic: t,
        key: 'k',
        value: 'v',
        headers: [{ key: 'b', value: Buffer.from([0xff, 0]) }],
      };
      if (transport.capabilities.binaryHeaders) {
        await producer.send([binary]);
        expect((await transport.admin().fetchWatermarks(t))[0]!.high).toBe(1n);
      } else {
        await expect(producer.send([binary])).rejects.toBeInstanceOf(TypeError);
        expect((await transport.admin().fetchWatermarks(t))[0]!.high).toBe(0n);
      }
    });

    it('places a key on the same partition on both transports (Java-compatible murmur2)', async () => {
      transport = setup();
      const t = await topic(6);
      await transport.producer().send([{ topic: t, key: 'entity-42', value: 'a' }]);
      const marks = await transport.admin().fetchWatermarks(t);
      // murmur2("entity-42") mod 6, as computed by the Java client's DefaultPartitioner.
      const expected = marks.findIndex((m) => m.high === 1n);
      expect(expected).toBe(javaPartition('entity-42', 6));
    });

    it('resumes from the committed offset after the group is rejoined: no committed record again, every uncommitted one again', async () => {
      transport = setup();
      const t = await topic(1);
      await transport.producer().send(messages(t, 100));
      const group = uniqueName('g');
      const first = new Collector();
      const c1 = transport.consumer(testConsumerOptions(group, [t]));
      await c1.start(first.handler);
      await waitFor('first pass', () => first.count >= 100);
      const result = await c1.commit([{ topic: t, partition: 0, offset: 60n }]);
      expect(result.committed).toEqual([{ topic: t, partition: 0, offset: 60n }]);
      expect(result.refused).toEqual([]);
      await c1.close();
      await expect(c1.closed).resolves.toBeUndefined();

      const admin = transport.admin();
      expect(await admin.fetchCommittedOffsets(group, [t])).toEqual([
        { topic: t, partition: 0, offset: 60n },
      ]);

      const second = new Collector();
      const c2 = transport.consumer(testConsumerOptions(group, [t]));
      await c2.start(second.handler);
      await waitFor('second pass', () => second.count >= 40);
      await c2.close();
      expect(second.offsets(0)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(60 + i)));
    });

    it('a commit made in onRevoked while closing is confirmed', async () => {
      transport = setup();
      const t = await topic(2);
      await transport.producer().send(messages(t, 200));
      const group = uniqueName('g');
      const seen = new Collector();
      let hookCommit: unknown;
      const c = transport.consumer(
        testConsumerOptions(group, [t], {
          hooks: {
            onRevoked: async (parts, info) => {
              if (info.reason !== 'close') return;
              hookCommit = await c
                .commit(parts.map((p) => ({ ...p, offset: BigInt(seen.offsets(p.partition).length) })))
                .catch((err: unknown) => err);
            },
          },
        }),
      );
      await c.start(seen.handler);
      await waitFor('200 records', () => seen.count >= 200);
      await c.close();
      // A commit whose confirmation never arrives fails after requestTimeoutMs (10 s here).
      expect(hookCommit).toMatchObject({ refused: [] });
      expect((hookCommit as { committed: unknown[] }).committed).toHaveLength(2);
      const committed = await transport.admin().fetchCommittedOffsets(group, [t]);
      const total = committed.reduce((sum, o) => sum + Number(o.offset), 0);
      expect(total).toBe(200);
    });

    it('pause stops delivery from a partition until resume, which continues exactly where it stopped', async () => {
      transport = setup();
      const t = await topic(2);
      const producer = transport.producer();
      await producer.send(messages(t, 500, { partition: 0, prefix: 'p0' }));
      const collector = new Collector();
      let consumer!: Consumer;
      let pausedAfter = -1;
      let deliveredWhilePaused = 0;
      let paused = false;
      consumer = transport.consumer(testConsumerOptions(uniqueName('g'), [t], { maxBatchRecords: 50 }));
      await consumer.start(async (batch) => {
        if (batch.partition === 0 && paused) deliveredWhilePaused += batch.records.length;
        await collector.handler(batch);
        if (batch.partition === 0 && pausedAfter < 0) {
          consumer.pause([{ topic: t, partition: 0 }]);
          paused = true;
          pausedAfter = collector.offsets(0).length;
        }
      });
      await waitFor('first partition-0 batch', () => pausedAfter > 0);
      // Partition 1 keeps flowing while partition 0 is paused; its records are produced only now, so the
      // consumer fetches (and could have delivered partition 0) the whole time they take to arrive.
      await producer.send(messages(t, 300, { partition: 1, prefix: 'p1' }));
      await waitFor('partition 1 drained', () => collector.offsets(1).length >= 300);
      expect(deliveredWhilePaused).toBe(0);
      expect(collector.offsets(0).length).toBe(pausedAfter);

      paused = false;
      consumer.resume([{ topic: t, partition: 0 }]);
      await waitFor('partition 0 after resume', () => collector.offsets(0).length >= 500);
      await consumer.close();
      expect(contiguous(collector.offsets(0), 0n)).toBe(true);
      expect(collector.offsets(0).length).toBe(500);
      expect(contiguous(collector.offsets(1), 0n)).toBe(true);
    });

    it('seek moves the next delivery of a partition to the given offset', async () => {
      transport = setup();
      const t = await topic(1);
      await transport.producer().send(messages(t, 200));
      const collector = new Collector();
      let consumer!: Consumer;
      let countAtSeek = -1;
      consumer = transport.consumer(testConsumerOptions(uniqueName('g'), [t], { maxBatchRecords: 20 }));
      await consumer.start(async (batch) => {
        await collector.handler(batch);
        if (countAtSeek < 0 && collector.count >= 100) {
          countAtSeek = collector.count;
          consumer.seek({ topic: t, partition: 0, offset: 10n });
        }
      });
      await waitFor('records after the seek', () => countAtSeek > 0 && collector.count >= countAtSeek + 190);
      await consumer.close();
      const offsets = collector.offsets(0);
      expect(contiguous(offsets.slice(0, countAtSeek), 0n)).toBe(true);
      expect(offsets.slice(countAtSeek)).toEqual(Array.from({ length: 190 }, (_, i) => BigInt(10 + i)));
    });

    it('send resolves only once the broker has the records (high watermark and a fresh reader see them at once)', async () => {
      transport = setup();
      const t = await topic(3);
      const producer = transport.producer();
      const admin = transport.admin();
      await producer.send(messages(t, 250, { partition: 2 }));
      const marks = await admin.fetchWatermarks(t);
      expect(marks.map((m) => m.high)).toEqual([0n, 0n, 250n]);
      await producer.send(messages(t, 50, { partition: 2 }));
      expect((await admin.fetchWatermarks(t))[2]!.high).toBe(300n);

      const collector = new Collector();
      const reader = transport.consumer(testConsumerOptions(uniqueName('g'), [t]));
      await reader.start(collector.handler);
      await waitFor('read back', () => collector.count >= 300);
      await reader.close();
      expect(collector.offsets(2)).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i)));
      await producer.flush();
      await producer.close();
    });

    it('rebalance: onRevoked runs on the first member before the second is assigned, commits in it apply, later ones are refused', async () => {
      transport = setup();
      const t = await topic(4);
      await transport.producer().send(messages(t, 400));
      const group = uniqueName('g');
      const events: string[] = [];
      let revokedInHook: TopicPartition[] = [];
      let hookCommit: Awaited<ReturnType<Consumer['commit']>> | undefined;
      const aBatches = new Collector();
      let a!: Consumer;
      a = transport.consumer(
        testConsumerOptions(group, [t], {
          hooks: {
            onAssigned: (ps) => {
              events.push(`A:assigned:${ps.length}`);
            },
            onRevoked: async (ps, info) => {
              events.push(`A:revoked:${ps.length}:${info.reason}`);
              if (info.reason !== 'rebalance' || hookCommit) return;
              revokedInHook = [...ps];
              // Still ours until this returns: the commit must be applied.
              hookCommit = await a.commit(ps.map((p) => ({ ...p, offset: 1n })));
            },
          },
        }),
      );
      await a.start(aBatches.handler);
      await waitFor(
        'A owns all 4 partitions and has records',
        () => a.assignment().length === 4 && aBatches.count > 0,
      );
      const oldEpoch = aBatches.batches[0]!.epoch;

      const b = transport.consumer(
        testConsumerOptions(group, [t], {
          hooks: {
            onAssigned: (ps) => {
              events.push(`B:assigned:${ps.length}`);
            },
          },
        }),
      );
      await b.start(async () => {});
      await waitFor('both members assigned', () => a.assignment().length > 0 && b.assignment().length > 0);

      expect(events.indexOf('A:revoked:4:rebalance')).toBeGreaterThanOrEqual(0);
      expect(events.indexOf('A:revoked:4:rebalance')).toBeLessThan(
        events.findIndex((e) => e.startsWith('B:assigned')),
      );
      expect(revokedInHook).toHaveLength(4);
      expect(hookCommit?.committed).toHaveLength(4);
      expect(hookCommit?.refused).toEqual([]);

      const bOwns = b.assignment()[0]!;
      const late = await a.commit([{ ...bOwns, offset: 3n }]);
      expect(late.committed).toEqual([]);
      expect(late.refused).toEqual([{ ...bOwns, offset: 3n }]);
      const committed = await transport.admin().fetchCommittedOffsets(group, [t]);
      expect(committed.find((c) => c.partition === bOwns.partition)?.offset).toBe(1n);

      // A partition A owns again, but from the new assignment: work from the old one carries the old epoch.
      const aOwns = a.assignment()[0]!;
      const stale = await a.commit([{ ...aOwns, offset: 2n, epoch: oldEpoch }]);
      expect(stale.refused).toHaveLength(1);
      const fresh = await a.commit([{ ...aOwns, offset: 2n }]);
      expect(fresh.committed).toHaveLength(1);

      await b.close();
      await a.close();
    });

    it('a handler rejection is fatal: the consumer closes, onRevoked(close) runs, closed rejects with the error', async () => {
      transport = setup();
      const t = await topic(1);
      await transport.producer().send(messages(t, 10));
      const boom = new Error('handler exploded');
      const reasons: string[] = [];
      const consumer = transport.consumer(
        testConsumerOptions(uniqueName('g'), [t], {
          hooks: {
            onRevoked: (_ps, info) => {
              reasons.push(info.reason);
            },
          },
        }),
      );
      await consumer.start(async () => {
        throw boom;
      });
      await expect(consumer.closed).rejects.toBe(boom);
      expect(reasons).toEqual(['close']);
      expect(consumer.assignment()).toEqual([]);
    });

    it('an unreachable broker fails start, send and admin calls with typed, retriable errors in bounded time', async () => {
      const t = setup({ brokers: ['127.0.0.1:1'], connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
      const producer = t.producer({ deliveryTimeoutMs: 3_000 });
      const sendError = await producer.send(messages('nowhere', 3)).catch((e: unknown) => e);
      expect(isVigilError(sendError)).toBe(true);
      expect(['PRODUCE_FAILED', 'BROKER_UNAVAILABLE']).toContain((sendError as VigilError).code);
      expect((sendError as VigilError).retriable).toBe(true);
      expect((sendError as VigilError).cause).toBeDefined();

      const consumer = t.consumer(testConsumerOptions(uniqueName('g'), ['nowhere']));
      const startError = await consumer.start(async () => {}).catch((e: unknown) => e);
      expect(isVigilError(startError, 'BROKER_UNAVAILABLE')).toBe(true);
      expect((startError as VigilError).retriable).toBe(true);
      await expect(consumer.closed).rejects.toBe(startError);

      const adminError = await t
        .admin()
        .fetchWatermarks('nowhere')
        .catch((e: unknown) => e);
      expect(isVigilError(adminError, 'BROKER_UNAVAILABLE')).toBe(true);
    });

    it('transactions: aborted records stay invisible to read_committed readers, committed ones appear with their offsets', async (ctx) => {
      transport = setup();
      if (!transport.capabilities.transactions) {
        ctx.skip();
        return;
      }
      const input = await topic(1);
      const output = await topic(1);
      await transport.producer().send(messages(input, 10));
      const group = uniqueName('g-eos');
      const admin = transport.admin();
      const tp = transport.transactionalProducer({ transactionalId: uniqueName('txn') });
      let consumer!: Consumer;
      let outcome = 'pending' as 'pending' | 'done' | Error;
      let inputNext = -1n;
      consumer = transport.consumer(testConsumerOptions(group, [input]));
      await consumer.start(async (batch) => {
        if (outcome !== 'pending') return;
        try {
          const aborted = await tp.begin();
          await aborted.send(
            batch.records.map((r) => ({ topic: output, key: r.key, value: `aborted-${r.value}` })),
          );
          await aborted.sendOffsets(consumer, [
            { topic: input, partition: 0, offset: 5n, epoch: batch.epoch },
          ]);
          await aborted.abort();
          expect(await admin.fetchCommittedOffsets(group, [input])).toEqual([
            { topic: input, partition: 0, offset: -1n },
          ]);

          const committed = await tp.begin();
          await committed.send(
            batch.records.map((r) => ({ topic: output, key: r.key, value: `committed-${r.value}` })),
          );
          await committed.sendOffsets(consumer, [
            { topic: input, partition: 0, offset: batch.nextOffset, epoch: batch.epoch },
          ]);
          await committed.commit();
          inputNext = batch.nextOffset;
          outcome = 'done';
        } catch (err) {
          outcome = err as Error;
        }
      });
      await waitFor('both transactions', () => outcome !== 'pending');
      if (outcome instanceof Error) throw outcome;
      await consumer.close();
      const delivered = Number(inputNext);
      expect(delivered).toBeGreaterThan(0);

      await waitFor('offsets committed with the transaction', async () => {
        const c = await admin.fetchCommittedOffsets(group, [input]);
        return c[0]?.offset === inputNext;
      });

      const readCommitted = new Collector();
      const rc = transport.consumer(testConsumerOptions(uniqueName('g-rc'), [output]));
      await rc.start(readCommitted.handler);
      await waitFor('committed output', () => readCommitted.count >= delivered);
      const readAll = new Collector();
      const ru = transport.consumer(
        testConsumerOptions(uniqueName('g-ru'), [output], { isolation: 'read_uncommitted' }),
      );
      await ru.start(readAll.handler);
      await waitFor('all output', () => readAll.count >= 2 * delivered);
      await rc.close();
      await ru.close();

      const values = (c: Collector) => (c.byPartition.get(0) ?? []).map((r) => r.value!.toString());
      expect(values(readCommitted)).toHaveLength(delivered);
      expect(values(readCommitted).every((v) => v.startsWith('committed-'))).toBe(true);
      expect(values(readAll).filter((v) => v.startsWith('aborted-'))).toHaveLength(delivered);
      // The committed transaction's last batch ends in a control record: the final nextOffset steps past it.
      const rcLast = readCommitted.batches[readCommitted.batches.length - 1]!;
      const marks = await admin.fetchWatermarks(output);
      expect(kind === 'kafkajs' ? rcLast.nextOffset : rcLast.nextOffset + 1n).toBe(marks[0]!.high);
      await tp.close();
    });

    it('init() of a new instance with the same transactional id fences the old one: its open transaction cannot commit, and a read_committed reader sees only the new one', async (ctx) => {
      if (!transport.capabilities.transactions) {
        ctx.skip();
        return;
      }
      const output = await topic(1);
      const transactionalId = uniqueName('txn-fence');
      const old = transport.transactionalProducer({ transactionalId });
      const open = await old.begin();
      await open.send([{ topic: output, key: 'k', value: 'from-the-old-instance' }]);

      const successor = transport.transactionalProducer({ transactionalId });
      await successor.init();
      await expect(open.commit()).rejects.toSatisfy((e: unknown) => isVigilError(e, 'PRODUCE_FAILED'));
      const next = await successor.begin();
      await next.send([{ topic: output, key: 'k', value: 'from-the-successor' }]);
      await next.commit();

      const readCommitted = new Collector();
      const rc = transport.consumer(testConsumerOptions(uniqueName('g-fence'), [output]));
      await rc.start(readCommitted.handler);
      await waitFor('the successor’s record', () => readCommitted.count >= 1);
      await new Promise((r) => setTimeout(r, 300));
      await rc.close();
      expect((readCommitted.byPartition.get(0) ?? []).map((r) => r.value!.toString())).toEqual([
        'from-the-successor',
      ]);
      await old.close().catch(() => {});
      await successor.close();
    });

    describe('topic reader (group-less)', () => {
      async function groups(): Promise<string[]> {
        const admin = kafkajsClient(uniqueName('groups')).admin();
        await admin.connect();
        try {
          return (await admin.listGroups()).groups.map((g) => g.groupId).sort();
        } finally {
          await admin.disconnect();
        }
      }

      it('reads every partition from the start up to the high watermark at the call, two readers at once, joining no group and committing nothing', async () => {
        transport = setup();
        const t = await topic(3);
        await transport.producer().send(messages(t, 900));
        const before = await groups();
        const a = new Collector();
        const b = new Collector();
        const ra = transport.topicReader({ topic: t, maxBatchRecords: 50 });
        const rb = transport.topicReader({ topic: t });
        await Promise.all([ra.start(a.handler), rb.start(b.handler)]);
        // Not following: each reader closes itself once caught up.
        await expect(ra.closed).resolves.toBeUndefined();
        await expect(rb.closed).resolves.toBeUndefined();
        const marks = await transport.admin().fetchWatermarks(t);
        for (const c of [a, b]) {
          expect(c.count).toBe(900);
          for (const { partition, high } of marks) {
            expect(c.offsets(partition)).toEqual(Array.from({ length: Number(high) }, (_, i) => BigInt(i)));
          }
        }
        for (const batch of a.batches) expect(batch.records.length).toBeLessThanOrEqual(50);
        expect(a.byPartition.get(0)![0]!.value!.toString()).toMatch(/^value-\d+$/);
        expect(await groups()).toEqual(before);
      });

      it('resolves at once on an empty topic, and in follow mode delivers records written after catching up', async () => {
        transport = setup();
        const t = await topic(2);
        const seen = new Collector();
        const reader = transport.topicReader({ topic: t, follow: true, maxWaitMs: 100 });
        await reader.start(seen.handler);
        expect(seen.count).toBe(0);
        await transport.producer().send(messages(t, 40, { prefix: 'later' }));
        await waitFor('40 later records', () => seen.count >= 40);
        await reader.close();
        await expect(reader.closed).resolves.toBeUndefined();
        expect(seen.count).toBe(40);
        expect(
          [...seen.byPartition.values()].flat().every((r) => r.value!.toString().startsWith('later-')),
        ).toBe(true);
      });

      it('catches up to the watermark of the call, then follows, on a compacted topic', async () => {
        transport = setup();
        const name = uniqueName(`transport-${kind}-compacted`);
        cleanups.push(() => deleteTopic(name));
        await transport
          .admin()
          .createTopics([{ name, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
        await transport.producer().send(messages(name, 30));
        const seen = new Collector();
        const reader = transport.topicReader({ topic: name, follow: true, maxWaitMs: 100 });
        await reader.start(seen.handler);
        expect(seen.offsets(0)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
        await transport.producer().send([{ topic: name, key: 'key-1', value: 'newest' }]);
        await waitFor('the newest record', () => seen.count >= 31);
        await reader.close();
        expect(seen.byPartition.get(0)![30]!.value!.toString()).toBe('newest');
      });

      it('refuses a topic that does not exist', async () => {
        transport = setup();
        const reader = transport.topicReader({ topic: uniqueName('no-such-topic') });
        await expect(reader.start(async () => {})).rejects.toSatisfy((e: unknown) => isVigilError(e));
        await expect(reader.closed).rejects.toBeDefined();
      });
    });
  });
}

/** Java DefaultPartitioner: toPositive(murmur2(utf8(key))) % partitions. */
export function javaPartition(key: string, partitions: number): number {
  const data = Buffer.from(key);
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  const length = data.length;
  let h = (seed ^ length) | 0;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) |
      ((data[i4 + 1]! & 0xff) << 8) |
      ((data[i4 + 2]! & 0xff) << 16) |
      ((data[i4 + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const rest = length & 3;
  const base = length & ~3;
  if (rest === 3) h ^= (data[base + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[base + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[base]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return (h & 0x7fffffff) % partitions;
}
