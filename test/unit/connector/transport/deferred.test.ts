import { describe, expect, it } from 'vitest';
import { deferred, InFlight } from '../../../../connector/transport/deferred.js';

describe('InFlight', () => {
  it('settles once every tracked promise has settled, rejected ones included', async () => {
    const inFlight = new InFlight();
    const a = deferred<number>();
    const b = deferred<number>();
    expect(await inFlight.track(Promise.resolve(1))).toBe(1);
    inFlight.track(a.promise);
    inFlight.track(b.promise).catch(() => {});
    let settled = false;
    const all = inFlight.settle().then(() => {
      settled = true;
    });
    a.resolve(2);
    await Promise.resolve();
    expect(settled).toBe(false);
    b.reject(new Error('send failed'));
    await all;
    expect(settled).toBe(true);
  });

  it('rejects with the given error when the tracked promises outlast the timeout', async () => {
    const inFlight = new InFlight();
    inFlight.track(new Promise(() => {}));
    await expect(inFlight.settle(20, () => new Error('flush timed out'))).rejects.toThrow('flush timed out');
    // Nothing tracked: resolves at once, timeout or not.
    await expect(new InFlight().settle(20)).resolves.toBeUndefined();
  });
});
