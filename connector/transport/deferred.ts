export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * A deferred whose rejection is never reported as unhandled: `Consumer.closed` may legitimately have no
 * listener, and Node would otherwise kill the process for a rejection nobody asked about.
 */
export function quietDeferred<T>(): Deferred<T> {
  const d = deferred<T>();
  d.promise.catch(() => {});
  return d;
}

/** Waits for every promise to settle; never rejects. */
export async function settleAll(promises: Iterable<Promise<unknown> | null | undefined>): Promise<void> {
  const list = [...promises].filter((p): p is Promise<unknown> => p != null);
  if (list.length > 0) await Promise.allSettled(list);
}

/** Rejects with `onTimeout()` if `promise` has not settled after `ms`; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Promises still running (sends a close must wait for), forgotten as each settles. */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    const forget = () => this.running.delete(p);
    p.then(forget, forget);
    return p;
  }

  /** Resolves once every tracked promise has settled; with `timeoutMs`, rejects with `onTimeout()` after it. */
  async settle(timeoutMs?: number, onTimeout: () => unknown = () => new Error('timed out')): Promise<void> {
    const all = settleAll(this.running);
    if (timeoutMs === undefined) return all;
    await withTimeout(all, timeoutMs, onTimeout);
  }
}
