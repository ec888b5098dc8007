import { describe, expect, it } from 'vitest';
import { CatchUp, resolveTopicReaderOptions } from '../../../../connector/transport/catch-up.js';
import { isVigilError } from '../../../../core/errors.js';

describe('CatchUp', () => {
  it('is caught up at once when every partition is empty', () => {
    const c = new CatchUp([
      { partition: 0, start: 5n, end: 5n },
      { partition: 1, start: 0n, end: 0n },
    ]);
    expect(c.caughtUp).toBe(true);
    expect(c.isDone(0)).toBe(true);
  });

  it('is caught up only when every partition reached its end, across compaction gaps', () => {
    const c = new CatchUp([
      { partition: 0, start: 0n, end: 10n },
      { partition: 1, start: 3n, end: 4n },
    ]);
    expect(c.caughtUp).toBe(false);
    c.advance(1, 4n);
    expect(c.isDone(1)).toBe(true);
    expect(c.caughtUp).toBe(false);
    c.advance(0, 7n);
    expect(c.caughtUp).toBe(false);
    // offsets 7..9 compacted away: the next record delivered is at 12
    c.advance(0, 13n);
    expect(c.caughtUp).toBe(true);
    expect(c.position(0)).toBe(13n);
  });

  it('never moves a partition backwards by advance, and counts a reset below the end as pending again', () => {
    const c = new CatchUp([{ partition: 0, start: 0n, end: 10n }]);
    c.advance(0, 10n);
    c.advance(0, 2n);
    expect(c.position(0)).toBe(10n);
    expect(c.caughtUp).toBe(true);
    c.reset(0, 4n);
    expect(c.caughtUp).toBe(false);
    c.reset(0, 11n);
    expect(c.caughtUp).toBe(true);
  });

  it('refuses a partition it was not given', () => {
    const c = new CatchUp([{ partition: 0, start: 0n, end: 1n }]);
    expect(() => c.position(3)).toThrow(RangeError);
  });
});

describe('resolveTopicReaderOptions', () => {
  it('applies defaults and refuses bad values naming the key', () => {
    expect(resolveTopicReaderOptions({ topic: 't' })).toEqual({
      topic: 't',
      follow: false,
      maxBatchRecords: 500,
      maxWaitMs: 500,
    });
    try {
      resolveTopicReaderOptions({ topic: 't', maxBatchRecords: 0 });
      expect.unreachable();
    } catch (err) {
      expect(isVigilError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('topicReader.maxBatchRecords');
    }
    expect(() => resolveTopicReaderOptions({ topic: '' })).toThrow(/topicReader.topic/);
  });
});
