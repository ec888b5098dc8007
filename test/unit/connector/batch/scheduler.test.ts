import { describe, expect, it } from 'vitest';
import { type Batch, MicroBatcher } from '../../../../connector/batch/micro-batcher.js';
import { BatchScheduler, type Clock } from '../../../../connector/batch/scheduler.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  time = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get pending(): number {
    return this.timers.size;
  }
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].fn();
    }
    this.time = until;
  }
}

function setup(maxRecords = 3, lingerMs = 100) {
  const clock = new FakeClock();
  const batches: Batch<number>[] = [];
  const batcher = new MicroBatcher<number>({ maxRecords, maxBytes: 1 << 20, lingerMs, maxBuffered: 1000 });
  const s = new BatchScheduler(batcher, clock, (b) => batches.push(b));
  return { clock, batches, s, batcher };
}

describe('BatchScheduler', () => {
  it('hands over full batches at once, from add', () => {
    const { s, batches } = setup();
    for (const v of [1, 2, 3, 4]) s.add('p', v, 1);
    expect(batches.map((b) => b.items.map((i) => i.value))).toEqual([[1, 2, 3]]);
  });

  it('hands over a partial batch when the linger runs out, with one timer armed', () => {
    const { s, batches, clock } = setup();
    s.add('p', 1, 1);
    clock.advance(60);
    s.add('p', 2, 1);
    expect(clock.pending).toBe(1);
    clock.advance(39);
    expect(batches).toHaveLength(0);
    clock.advance(1);
    expect(batches).toHaveLength(1);
    expect(batches[0]!.reason).toBe('linger');
    expect(batches[0]!.items.map((i) => i.value)).toEqual([1, 2]);
    expect(clock.pending).toBe(0);
  });

  it('re-arms for the records left after a full batch', () => {
    const { s, batches, clock } = setup();
    for (const v of [1, 2, 3]) s.add('p', v, 1);
    clock.advance(10);
    s.add('p', 4, 1);
    expect(batches).toHaveLength(1);
    clock.advance(100);
    expect(batches.map((b) => b.items.length)).toEqual([3, 1]);
  });

  it('clears the timer when a full batch empties the queue', () => {
    const { s, clock } = setup();
    s.add('p', 1, 1);
    expect(clock.pending).toBe(1);
    s.add('p', 2, 1);
    s.add('p', 3, 1);
    expect(clock.pending).toBe(0);
  });

  it('flush hands over everything now; close stops the timer and further adds', () => {
    const { s, batches, clock } = setup();
    s.add('p', 1, 1);
    s.flush();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.reason).toBe('flush');
    s.add('p', 2, 1);
    s.close();
    expect(clock.pending).toBe(0);
    clock.advance(1000);
    expect(batches).toHaveLength(1);
    expect(() => s.add('p', 3, 1)).toThrow(/after close/);
  });

  it("flush('idle') hands over what is queued now, labelled idle, and disarms the linger timer", () => {
    const { s, batches, clock } = setup();
    s.add('p', 1, 1);
    expect(clock.pending).toBe(1);
    s.flush('idle');
    expect(batches.map((b) => b.reason)).toEqual(['idle']);
    expect(clock.pending).toBe(0);
  });
});
