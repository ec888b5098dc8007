import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { deadLetterFromError } from '../../../../connector/events/dead-letter.js';
import { deliver, fitToLimit } from '../../../../connector/pipeline/delivery.js';
import { plainAvroOutputCodec } from '../../../../connector/pipeline/output-codec.js';
import {
  buildOutputs,
  type Item,
  messageSize,
  type Outbound,
} from '../../../../connector/pipeline/outputs.js';
import {
  classifyKafkajsError,
  classifyRdkafkaError,
  RD,
  toVigilError,
} from '../../../../connector/transport/errors.js';
import type { ProduceMessage } from '../../../../connector/transport/types.js';
import { isVigilError, VigilError } from '../../../../core/errors.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import type { DeadLetter } from '../../../../schemas/types.js';

const deadLetterType = loadSchema('dead_letter');
const codec = plainAvroOutputCodec();
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error') as {
  createErrorFromCode: (code: number) => Error;
};

/** Dead-letter outbounds for records of the given value sizes, at offsets 0, 1, ... of topic `in`. */
function letters(sizes: readonly number[]): Outbound[] {
  const items: Item[] = sizes.map((size, offset) => {
    const value = Buffer.alloc(size, offset % 251);
    const record = {
      topic: 'in',
      partition: 2,
      offset: BigInt(offset),
      key: Buffer.from(`k${offset}`),
      value,
      headers: [],
      timestamp: 1,
    };
    const dead = deadLetterFromError(new VigilError('DECODE_FAILED', 'bad bytes'), 'decode', {
      source: { topic: 'in', partition: 2, offset },
      timestamp: 1,
      key: record.key,
      value,
      failedAt: 2,
    });
    return {
      record,
      offset,
      generation: 1,
      rows: null,
      row: 0,
      entity: '',
      eventTime: 1,
      fetchedAt: 1,
      dead,
    };
  });
  return buildOutputs({
    topics: { anomaliesTopic: 'a', deadLetterTopic: 'dlq' },
    codec,
    model: { id: 'm', version: '1', featureNames: [] },
    items,
    scoredItems: [],
    scores: null,
    rows: new Float32Array(0),
    detectedAt: 2,
    maxContributions: 10,
    keyByEntity: false,
  }).outbounds;
}

/** A broker that refuses any request holding a message over `limit`, the way `refusal` reports it. */
function broker(limit: number, refusal: () => unknown) {
  const written: ProduceMessage[] = [];
  let requests = 0;
  const send = async (messages: readonly ProduceMessage[]) => {
    requests++;
    if (messages.some((m) => messageSize(m) > limit)) throw refusal();
    written.push(...messages);
  };
  return { send, written, requests: () => requests };
}

const kafkajsTooLarge = () => {
  const e = createErrorFromCode(10);
  return toVigilError('PRODUCE_FAILED', 'send failed', e, classifyKafkajsError(e));
};
const rdkafkaTooLarge = () => {
  const e = { code: RD.ERR_MSG_SIZE_TOO_LARGE, message: 'Broker: Message size too large' };
  return toVigilError('PRODUCE_FAILED', 'send failed', e, classifyRdkafkaError(e));
};

const body = (m: ProduceMessage) => deadLetterType.fromBuffer(m.value as Buffer) as DeadLetter;

describe('fitToLimit', () => {
  it('replaces only the outputs over the limit, by a dead letter with the coordinates, size and digest', () => {
    const out = letters([10, 5000, 20]);
    const replaced: string[] = [];
    const fitted = fitToLimit(out, 2000, (from, _to, reason) => replaced.push(`${from.output}: ${reason}`));
    expect(fitted[0]).toBe(out[0]);
    expect(fitted[2]).toBe(out[2]);
    expect(replaced).toHaveLength(1);
    expect(replaced[0]).toMatch(/^dead_letters: about \d+ bytes, over the 2000-byte limit/);
    const slim = body(fitted[1]!.message);
    expect(slim.original_value).toBeNull();
    expect(slim.source_offset).toBe(1);
    expect(slim.source_partition).toBe(2);
    expect(slim.original_key?.toString()).toBe('k1');
    expect(slim.details.original_value_bytes).toBe('5000');
    expect(slim.details.original_value_sha256).toBe(
      createHash('sha256').update(Buffer.alloc(5000, 1)).digest('hex'),
    );
    expect(messageSize(fitted[1]!.message)).toBeLessThan(2000);
  });
});

describe('deliver', () => {
  for (const [client, refusal] of [
    ['kafkajs', kafkajsTooLarge],
    ['rdkafka', rdkafkaTooLarge],
  ] as const) {
    it(`isolates a refused message by halving and writes every other one once (${client} error shape)`, async () => {
      const out = letters([10, 11, 12, 13, 9000, 14, 15, 16]);
      const b = broker(4000, refusal);
      const replaced: Outbound[] = [];
      await deliver(b.send, out, {
        maxMessageBytes: 1_000_000,
        retry: { maxAttempts: 3, initialDelayMs: 1 },
        onReplaced: (from) => replaced.push(from),
      });
      expect(replaced.map((r) => r.message)).toEqual([out[4]!.message]);
      const offsets = b.written.map((m) => body(m).source_offset).sort((x, y) => x - y);
      expect(offsets).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(body(b.written.find((m) => body(m).source_offset === 4)!).original_value).toBeNull();
      // 8 → 4 + 4 → 2 + 2 → 1 + 1: a handful of requests, not one per message.
      expect(b.requests()).toBeLessThanOrEqual(8);
    });
  }

  it('retries what a retry can fix, and says which outputs the failed request held', async () => {
    const out = letters([10, 11]);
    let calls = 0;
    const seen: string[][] = [];
    await deliver(
      async () => {
        if (calls++ === 0)
          throw toVigilError('PRODUCE_FAILED', 'x', {}, classifyRdkafkaError({ code: RD.ERR__TRANSPORT }));
      },
      out,
      {
        maxMessageBytes: 1_000_000,
        retry: { maxAttempts: 3, initialDelayMs: 1 },
        onRetry: (_e, _a, _d, outputs) => seen.push([...outputs]),
      },
    );
    expect(calls).toBe(2);
    expect(seen).toEqual([['dead_letters']]);
  });

  it('stops on a failure no record causes (authorization), without replacing anything', async () => {
    const out = letters([10, 11]);
    const auth = { code: RD.ERR_TOPIC_AUTHORIZATION_FAILED };
    const replaced: Outbound[] = [];
    const err = await deliver(
      async () => {
        throw toVigilError('PRODUCE_FAILED', 'x', auth, classifyRdkafkaError(auth));
      },
      out,
      {
        maxMessageBytes: 1_000_000,
        retry: { maxAttempts: 2, initialDelayMs: 1 },
        onReplaced: (f) => replaced.push(f),
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
    expect(replaced).toEqual([]);
  });

  it('stops with OUTPUT_UNWRITABLE when even the smallest form is refused', async () => {
    const b = broker(50, kafkajsTooLarge);
    const err = await deliver(b.send, letters([10]), {
      maxMessageBytes: 1_000_000,
      retry: { maxAttempts: 1 },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVigilError(err, 'OUTPUT_UNWRITABLE')).toBe(true);
    expect(b.written).toEqual([]);
  });
});
