import { isRetriable } from './errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Multiplier applied to the delay after each failed attempt. */
  factor: number;
  /** Fraction of each delay drawn at random, so that many clients do not retry in step. */
  jitter: number;
  /** Decides whether an error is worth another attempt; defaults to the VigilError retry decision. */
  shouldRetry?: (err: unknown) => boolean;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  random?: () => number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxAttempts: 8,
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 0.2,
};

/** The delay before attempt `attempt + 1` (attempt counts from 1): exponential, capped, with jitter. */
export function backoffDelay(
  attempt: number,
  opts: RetryOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * opts.factor ** (attempt - 1));
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base - spread + 2 * spread * random()));
}

export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  options: Partial<RetryOptions> = {},
): Promise<T> {
  const opts: RetryOptions = { ...DEFAULT_RETRY, ...options };
  const shouldRetry = opts.shouldRetry ?? isRetriable;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.maxAttempts || !shouldRetry(err) || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, opts, opts.random);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
