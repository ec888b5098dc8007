import { describe, expect, it } from 'vitest';
import {
  headersFromKafkajs,
  headersFromRdkafka,
  headersToKafkajs,
  headersToRdkafka,
  NO_HEADERS,
  offsetToNumber,
  validateCommitOffsets,
  validateProduceMessages,
  validateTextHeaders,
} from '../../../../connector/transport/records.js';

describe('headers', () => {
  it('kafkajs: repeated keys come back as separate headers, in order; none shares the frozen empty list', () => {
    expect(headersFromKafkajs({})).toBe(NO_HEADERS);
    expect(headersFromKafkajs(undefined)).toBe(NO_HEADERS);
    const h = headersFromKafkajs({
      a: [Buffer.from('1'), Buffer.from('2')],
      b: Buffer.from('3'),
      c: undefined,
    });
    expect(h.map((x) => [x.key, x.value?.toString() ?? null])).toEqual([
      ['a', '1'],
      ['a', '2'],
      ['b', '3'],
      ['c', null],
    ]);
    expect(Object.isFrozen(NO_HEADERS)).toBe(true);
  });

  it('rdkafka: a list of one-key objects', () => {
    expect(headersFromRdkafka(undefined)).toBe(NO_HEADERS);
    expect(
      headersFromRdkafka([{ a: Buffer.from('1') }, { a: Buffer.from('2') }]).map((x) => x.value?.toString()),
    ).toEqual(['1', '2']);
  });

  it('to kafkajs: repeated keys become arrays; null becomes an empty value', () => {
    expect(headersToKafkajs(undefined)).toBeUndefined();
    expect(
      headersToKafkajs([
        { key: 'a', value: '1' },
        { key: 'a', value: Buffer.from('2') },
        { key: 'a', value: '3' },
        { key: 'n', value: null },
      ]),
    ).toEqual({ a: ['1', Buffer.from('2'), '3'], n: Buffer.alloc(0) });
  });

  it('to rdkafka: order and repeats kept', () => {
    expect(
      headersToRdkafka([
        { key: 'a', value: '1' },
        { key: 'a', value: '2' },
      ]),
    ).toEqual([{ a: '1' }, { a: '2' }]);
  });

  it('rdkafka refuses header values it would corrupt (not UTF-8, or a NUL byte)', () => {
    const msg = (value: Buffer | string) => [
      { topic: 't', key: null, value: null, headers: [{ key: 'h', value }] },
    ];
    expect(() => validateTextHeaders(msg('plain text é'))).not.toThrow();
    expect(() => validateTextHeaders(msg(Buffer.from('utf8 ✓')))).not.toThrow();
    expect(() => validateTextHeaders(msg(Buffer.from([0xff, 0xfe])))).toThrow(TypeError);
    expect(() => validateTextHeaders(msg(Buffer.from([0x61, 0x00, 0x62])))).toThrow(TypeError);
    expect(() => validateTextHeaders(msg('a\u0000b'))).toThrow(TypeError);
  });
});

describe('input validation', () => {
  it('commit offsets: non-negative bigint, one entry per partition', () => {
    expect(() => validateCommitOffsets([{ topic: 't', partition: 0, offset: 1n }])).not.toThrow();
    expect(() =>
      validateCommitOffsets([{ topic: 't', partition: 0, offset: 1 as unknown as bigint }]),
    ).toThrow(RangeError);
    expect(() => validateCommitOffsets([{ topic: 't', partition: 0, offset: -1n }])).toThrow(RangeError);
    expect(() => validateCommitOffsets([{ topic: 't', partition: -1, offset: 1n }])).toThrow(RangeError);
    expect(() => validateCommitOffsets([{ topic: '', partition: 0, offset: 1n }])).toThrow(TypeError);
    expect(() =>
      validateCommitOffsets([
        { topic: 't', partition: 0, offset: 1n },
        { topic: 't', partition: 0, offset: 2n },
      ]),
    ).toThrow(/more than once/);
  });

  it('produce messages: topic and partition checked before anything is sent', () => {
    expect(() =>
      validateProduceMessages([{ topic: 't', key: null, value: 'v', partition: 2 }]),
    ).not.toThrow();
    expect(() => validateProduceMessages([{ topic: '', key: null, value: 'v' }])).toThrow(TypeError);
    expect(() => validateProduceMessages([{ topic: 't', key: null, value: 'v', partition: 1.5 }])).toThrow(
      RangeError,
    );
  });

  it('offsets beyond 2^53 are refused rather than rounded for node-rdkafka', () => {
    expect(offsetToNumber(9_007_199_254_740_991n)).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => offsetToNumber(9_007_199_254_740_992n)).toThrow(RangeError);
  });
});
