import { describe, expect, it } from 'vitest';
import {
  type Batch,
  MicroBatcher,
  type MicroBatchOptions,
} from '../../../../connector/batch/micro-batcher.js';

const opts = (o: Partial<MicroBatchOptions> = {}): MicroBatchOptions => ({
  maxRecords: 3,
  maxBytes: 1000,
  lingerMs: 50,
  maxBuffered: 10,
  ...o,
});

const values = <T>(b: Batch<T> | undefined) => b?.items.map((i) => i.value);

describe('MicroBatcher batching', () => {
  it('closes a batch at maxRecords', () => {
    const b = new MicroBatcher<number>(opts());
    b.add('t:0', 1, 10, 0);
    b.add('t:0', 2, 10, 0);
    expect(b.poll(0)).toBeUndefined();
    b.add('t:1', 3, 10, 0);
    b.add('t:1', 4, 10, 0);
    const batch = b.poll(0)!;
    expect(values(batch)).toEqual([1, 2, 3]);
    expect(batch.reason).toBe('records');
    expect(batch.bytes).toBe(30);
    expect(b.poll(0)).toBeUndefined();
    expect(b.queued).toBe(1);
  });

  it('closes a batch at maxBytes without exceeding it', () => {
    const b = new MicroBatcher<string>(opts({ maxRecords: 100, maxBytes: 100 }));
    b.add('p', 'a', 40, 0);
    b.add('p', 'b', 40, 0);
    expect(b.poll(0)).toBeUndefined();
    b.add('p', 'c', 40, 0);
    const batch = b.poll(0)!;
    expect(batch.reason).toBe('bytes');
    expect(values(batch)).toEqual(['a', 'b']);
    expect(b.queuedSize).toBe(40);
  });

  it('sends a record larger than maxBytes alone instead of stalling', () => {
    const b = new MicroBatcher<string>(opts({ maxBytes: 100 }));
    b.add('p', 'huge', 500, 0);
    b.add('p', 'small', 1, 0);
    expect(values(b.poll(0))).toEqual(['huge']);
  });

  it('closes a partial batch once the oldest record has lingered', () => {
    const b = new MicroBatcher<number>(opts());
    b.add('p', 1, 1, 1000);
    expect(b.deadline()).toBe(1050);
    b.add('p', 2, 1, 1030);
    expect(b.poll(1049)).toBeUndefined();
    const batch = b.poll(1050)!;
    expect(batch.reason).toBe('linger');
    expect(values(batch)).toEqual([1, 2]);
    expect(b.deadline()).toBeUndefined();
  });

  it('restarts the linger from the oldest record left after a full batch', () => {
    const b = new MicroBatcher<number>(opts());
    for (const v of [1, 2, 3]) b.add('p', v, 1, 0);
    b.add('p', 4, 1, 20);
    expect(values(b.poll(20))).toEqual([1, 2, 3]);
    expect(b.deadline()).toBe(70);
  });

  it('keeps arrival order across partitions', () => {
    const b = new MicroBatcher<string>(opts({ maxRecords: 10 }));
    b.add('a', 'a1', 1, 0);
    b.add('b', 'b1', 1, 0);
    b.add('a', 'a2', 1, 0);
    expect(b.flush().flatMap((x) => values(x)!)).toEqual(['a1', 'b1', 'a2']);
  });

  it('flushes everything, in batches within the limits', () => {
    const b = new MicroBatcher<number>(opts());
    for (let i = 0; i < 7; i++) b.add('p', i, 1, 0);
    const batches = b.flush();
    expect(batches.map((x) => x.items.length)).toEqual([3, 3, 1]);
    expect(batches.every((x) => x.reason === 'flush')).toBe(true);
    expect(b.queued).toBe(0);
  });

  it("an idle flush is labelled 'idle' and releases like any other batch", () => {
    const b = new MicroBatcher<number>(opts());
    for (let i = 0; i < 4; i++) b.add('p', i, 1, 0);
    const batches = b.flush('idle');
    expect(batches.map((x) => [x.items.length, x.reason])).toEqual([
      [3, 'idle'],
      [1, 'idle'],
    ]);
    expect(b.held).toBe(4);
    for (const x of batches) b.release(x);
    expect(b.held).toBe(0);
  });

  it('handles a long stream without losing or reordering records', () => {
    const b = new MicroBatcher<number>(opts({ maxRecords: 7, maxBuffered: 1_000_000 }));
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      b.add(`p${i % 3}`, i, 1, i);
      for (let x = b.poll(i); x !== undefined; x = b.poll(i)) {
        out.push(...values(x)!);
        b.release(x);
      }
    }
    for (const x of b.flush()) out.push(...values(x)!);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('refuses invalid options', () => {
    expect(() => new MicroBatcher(opts({ maxRecords: 0 }))).toThrow(RangeError);
    expect(() => new MicroBatcher(opts({ lingerMs: -1 }))).toThrow(RangeError);
    expect(() => new MicroBatcher(opts({ resumeRatio: 1 }))).toThrow(RangeError);
  });
});

describe('MicroBatcher backpressure', () => {
  it('counts records as held until their batch is released', () => {
    const b = new MicroBatcher<number>(opts({ maxBuffered: 4 }));
    for (let i = 0; i < 3; i++) b.add('p', i, 10, 0);
    const batch = b.poll(0)!;
    expect(b.queued).toBe(0);
    expect(b.held).toBe(3);
    expect(b.heldSize).toBe(30);
    b.release(batch);
    expect(b.held).toBe(0);
    expect(() => b.release(batch)).toThrow(TypeError);
  });

  it('pauses at the high-water mark and resumes only below the low-water mark', () => {
    const b = new MicroBatcher<number>(opts({ maxRecords: 2, maxBuffered: 4, resumeRatio: 0.5 }));
    b.assign('a');
    b.assign('b');
    for (let i = 0; i < 3; i++) b.add('a', i, 1, 0);
    expect(b.shouldPause('a')).toBe(false);
    b.add('b', 9, 1, 0);
    expect(b.shouldPause('a')).toBe(true);
    // The global limit pauses every partition, including one that holds nothing.
    b.assign('c');
    expect(b.backpressure()).toEqual({ pause: ['a', 'b', 'c'], resume: [] });
    expect(b.backpressure()).toEqual({ pause: [], resume: [] });
    const first = b.poll(0)!;
    b.release(first);
    // 2 held: below the high mark but not below the low mark (2): still paused.
    expect(b.held).toBe(2);
    expect(b.backpressure()).toEqual({ pause: [], resume: [] });
    const second = b.poll(0)!;
    b.release(second);
    expect(b.backpressure()).toEqual({ pause: [], resume: ['a', 'b', 'c'] });
    expect(b.pausedPartitions()).toEqual([]);
  });

  it('pauses on bytes held', () => {
    const b = new MicroBatcher<number>(opts({ maxBufferedBytes: 100 }));
    b.add('p', 1, 60, 0);
    expect(b.shouldPause('p')).toBe(false);
    b.add('p', 2, 40, 0);
    expect(b.shouldPause('p')).toBe(true);
  });

  it('pauses only the partition that fills its own share', () => {
    const b = new MicroBatcher<number>(
      opts({ maxRecords: 100, maxBuffered: 100, maxBufferedPerPartition: 3 }),
    );
    b.assign('quiet');
    for (let i = 0; i < 3; i++) b.add('busy', i, 1, 0);
    expect(b.backpressure()).toEqual({ pause: ['busy'], resume: [] });
    expect(b.shouldPause('quiet')).toBe(false);
    expect(b.isResumable('busy')).toBe(false);
  });

  it('on revoke drops the queued records, forgets the accounts and ignores later releases', () => {
    const b = new MicroBatcher<string>(opts({ maxRecords: 2, maxBuffered: 100 }));
    b.add('a', 'a1', 5, 0);
    b.add('a', 'a2', 5, 0);
    b.add('b', 'b1', 5, 0);
    b.add('a', 'a3', 5, 0);
    const inFlight = b.poll(0)!;
    expect(values(inFlight)).toEqual(['a1', 'a2']);
    expect(b.revoke('a')).toBe(1);
    expect(b.heldFor('a')).toBe(0);
    expect(b.held).toBe(1);
    expect(b.heldSize).toBe(5);
    expect(b.flush().flatMap((x) => values(x)!)).toEqual(['b1']);
    // The partition comes back and fetches again; the old batch finishing must not touch the new accounts.
    b.add('a', 'a1-again', 5, 10);
    b.release(inFlight);
    expect(b.heldFor('a')).toBe(1);
    expect(b.held).toBe(2);
  });

  it('stops reporting a revoked partition as paused', () => {
    const b = new MicroBatcher<number>(opts({ maxBuffered: 1 }));
    b.add('a', 1, 1, 0);
    expect(b.backpressure().pause).toEqual(['a']);
    b.revoke('a');
    expect(b.pausedPartitions()).toEqual([]);
    expect(b.backpressure()).toEqual({ pause: [], resume: [] });
  });
});
