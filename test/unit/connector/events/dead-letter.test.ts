import { describe, expect, it } from 'vitest';
import {
  buildDeadLetter,
  DEAD_LETTER_HEADERS,
  deadLetterFromError,
  deadLetterFromFeatureFailure,
} from '../../../../connector/events/dead-letter.js';
import { VigilError } from '../../../../core/errors.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import { compileFeatures, type FeatureFailure } from '../../../../schemas/features/extractor.js';

const ctx = {
  source: { topic: 'card-transactions', partition: 5, offset: 77 },
  timestamp: 1_714_953_600_000,
  key: Buffer.from('card-1'),
  value: Buffer.from([0, 0, 0, 0, 1, 2, 3]),
  failedAt: 1_714_953_601_000,
};

describe('buildDeadLetter', () => {
  it('fills the dead-letter record and the routing headers', () => {
    const m = buildDeadLetter({
      ...ctx,
      stage: 'decode',
      code: 'DECODE_FAILED',
      message: 'bad body',
      details: { schemaId: 4 },
    });
    expect(m.key?.toString()).toBe('card-1');
    expect(m.value).toEqual({
      reason_code: 'DECODE_FAILED',
      reason_message: 'bad body',
      stage: 'decode',
      source_topic: 'card-transactions',
      source_partition: 5,
      source_offset: 77,
      source_timestamp: 1_714_953_600_000,
      original_key: ctx.key,
      original_value: ctx.value,
      failed_at: 1_714_953_601_000,
      details: { schemaId: '4' },
    });
    expect(m.headers).toEqual({
      'vigil.source.topic': 'card-transactions',
      'vigil.source.partition': '5',
      'vigil.source.offset': '77',
      'vigil.reason': 'DECODE_FAILED',
      'vigil.stage': 'decode',
    });
    expect(Object.values(DEAD_LETTER_HEADERS)).toEqual(Object.keys(m.headers));
  });

  it('writes details as text, bounded, and skips undefined values', () => {
    const m = buildDeadLetter({
      ...ctx,
      stage: 'emit',
      code: 'PRODUCE_FAILED',
      message: 'x'.repeat(10_000),
      details: {
        obj: { a: [1, 2] },
        flag: true,
        gone: undefined,
        nil: null,
        long: 'y'.repeat(5000),
        err: new Error('boom'),
      },
    });
    expect(m.value.details).toMatchObject({ obj: '{"a":[1,2]}', flag: 'true', nil: 'null', err: 'boom' });
    expect('gone' in m.value.details).toBe(false);
    expect(m.value.details['long']!.length).toBe(1024);
    expect(m.value.reason_message.length).toBe(4096);
  });

  it('is a valid record of schemas/dead_letter.avsc, tombstones and missing timestamps included', () => {
    const type = loadSchema('dead_letter');
    const m = buildDeadLetter({ ...ctx, stage: 'features', code: 'FEATURE_INVALID', message: 'm' });
    expect(type.isValid(m.value)).toBe(true);
    const bare = buildDeadLetter({
      ...ctx,
      key: null,
      value: null,
      timestamp: null,
      stage: 'decode',
      code: 'DECODE_FAILED',
      message: 'm',
    });
    expect(type.isValid(bare.value)).toBe(true);
    expect(bare.key).toBeNull();
  });
});

describe('deadLetterFromError', () => {
  it('carries the error code, message and details', () => {
    const err = new VigilError('SCHEMA_NOT_FOUND', 'schema id 99 is unknown', { details: { schemaId: 99 } });
    const m = deadLetterFromError(err, 'decode', ctx);
    expect(m.value).toMatchObject({
      reason_code: 'SCHEMA_NOT_FOUND',
      reason_message: 'schema id 99 is unknown',
      stage: 'decode',
    });
    expect(m.value.details).toEqual({ schemaId: '99' });
    expect(m.headers['vigil.reason']).toBe('SCHEMA_NOT_FOUND');
  });
});

describe('deadLetterFromFeatureFailure', () => {
  it('uses the extractor reason as the code, with the path and feature in the details', () => {
    const x = compileFeatures({ fields: [{ kind: 'numeric', path: 'amount' }] });
    const failure = x.extract({ amount: Number.NaN }) as FeatureFailure;
    const m = deadLetterFromFeatureFailure(failure, ctx);
    expect(m.value).toMatchObject({
      reason_code: 'NON_FINITE',
      stage: 'features',
      reason_message: failure.message,
    });
    expect(m.value.details).toEqual({ path: 'amount', feature: 'amount' });
    expect(m.headers['vigil.reason']).toBe('NON_FINITE');
    expect(m.headers['vigil.stage']).toBe('features');
  });
});
