import { describe, expect, it } from 'vitest';
import { OrderedTurns } from '../../../../connector/pipeline/ordered-turns.js';

describe('OrderedTurns', () => {
  it('runs steps in the order turns were taken, whatever order the work before them finishes in', async () => {
    const turns = new OrderedTurns();
    const ran: number[] = [];
    const taken = [0, 1, 2, 3].map(() => turns.take());
    const delays = [30, 0, 10, 5];
    await Promise.all(
      taken.map(async (turn, i) => {
        await new Promise((r) => setTimeout(r, delays[i]));
        // Turn 2's batch fails before its step: it gives its turn up without running.
        if (i === 2) return turn.release();
        await turn.ready;
        ran.push(i);
        turn.release();
      }),
    );
    expect(ran).toEqual([0, 1, 3]);
  });

  it('a turn released early lets the next one go only after every earlier turn', async () => {
    const turns = new OrderedTurns();
    const first = turns.take();
    const second = turns.take();
    const third = turns.take();
    second.release();
    second.release();
    let thirdReady = false;
    void third.ready.then(() => {
      thirdReady = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(thirdReady).toBe(false);
    first.release();
    await third.ready;
    expect(thirdReady).toBe(true);
  });
});
