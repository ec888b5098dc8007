/**
 * Cooperative chunking for the synchronous hot path. Scoring and feature extraction are synchronous by design
 * (no await per record), so a large batch would otherwise hold the event loop long enough to delay consumer
 * heartbeats and timers; yielding with setImmediate between chunks lets I/O callbacks run in between.
 */

/** Resolves on the next turn of the event loop, after pending I/O callbacks (setImmediate, not a microtask). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface ChunkOptions {
  /** Called between chunks; default yieldToEventLoop. Injected in tests. */
  yieldFn?: () => Promise<void>;
  /** Checked before each chunk: once aborted, no further chunk starts (the promise still resolves). */
  signal?: AbortSignal;
}

/**
 * Runs `fn(start, end)` over [0, total) in chunks of at most `chunkSize`, yielding to the event loop between
 * chunks (not after the last). Returns how many items were covered (less than `total` only when aborted).
 */
export async function forEachChunk(
  total: number,
  chunkSize: number,
  fn: (start: number, end: number) => void,
  options: ChunkOptions = {},
): Promise<number> {
  if (!(chunkSize >= 1) || !Number.isInteger(chunkSize))
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const yieldFn = options.yieldFn ?? yieldToEventLoop;
  let start = 0;
  while (start < total) {
    if (options.signal?.aborted) return start;
    const end = Math.min(total, start + chunkSize);
    fn(start, end);
    start = end;
    if (start < total) await yieldFn();
  }
  return start;
}
