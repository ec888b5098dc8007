import { describe, expect, it } from 'vitest';
import { resolveConsumerOptions } from '../../../../connector/transport/consumer-options.js';
import { isVigilError } from '../../../../core/errors.js';

describe('resolveConsumerOptions', () => {
  it('fills defaults and freezes the result', () => {
    const o = resolveConsumerOptions({ groupId: 'g', topics: ['t'] });
    expect(o).toMatchObject({
      startFrom: 'earliest',
      isolation: 'read_committed',
      maxBatchRecords: 500,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      maxPollIntervalMs: 300_000,
      maxBufferedRecordsPerPartition: 2_000,
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('refuses bad values, naming the key', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ groupId: '' }, 'consumer.groupId'],
      [{ topics: [] }, 'consumer.topics'],
      [{ maxBatchRecords: 0 }, 'consumer.maxBatchRecords'],
      [{ heartbeatIntervalMs: 30_000 }, 'consumer.heartbeatIntervalMs'],
      [{ maxPollIntervalMs: 1_000 }, 'consumer.maxPollIntervalMs'],
      [
        { maxBatchRecords: 100, maxBufferedRecordsPerPartition: 50 },
        'consumer.maxBufferedRecordsPerPartition',
      ],
      [{ startFrom: 'middle' }, 'consumer.startFrom'],
      [{ isolation: 'serializable' }, 'consumer.isolation'],
    ];
    for (const [patch, key] of bad) {
      try {
        resolveConsumerOptions({ groupId: 'g', topics: ['t'], ...patch } as never);
        throw new Error(`accepted ${JSON.stringify(patch)}`);
      } catch (err) {
        expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
        expect((err as { details: { key: string } }).details.key).toBe(key);
      }
    }
  });
});
