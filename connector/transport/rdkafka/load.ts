import { createRequire } from 'node:module';
import type * as RdKafka from 'node-rdkafka';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { type ClientFailure, classifyRdkafkaError, RD } from '../errors.js';

export type RdKafkaModule = typeof RdKafka;

let cached: RdKafkaModule | undefined;

/**
 * node-rdkafka is an optional dependency (a native build): loaded on first use of the rdkafka transport, so a
 * kafkajs-only install never needs it.
 */
export function loadRdkafka(): RdKafkaModule {
  if (cached) return cached;
  try {
    cached = createRequire(import.meta.url)('node-rdkafka') as RdKafkaModule;
  } catch (err) {
    throw new VigilError(
      'DEPENDENCY_MISSING',
      "transport 'rdkafka' needs the optional package node-rdkafka (npm install node-rdkafka), or use transport 'kafkajs'",
      { cause: err },
    );
  }
  return cached;
}

/** librdkafka's rd_kafka_err2str, from node-rdkafka's native binding; undefined if the binding hides it. */
export function loadErr2str(): ((code: number) => string) | undefined {
  loadRdkafka();
  try {
    const binding = createRequire(import.meta.url)('node-rdkafka/librdkafka') as {
      err2str?: (code: number) => string;
    };
    return typeof binding.err2str === 'function' ? binding.err2str : undefined;
  } catch {
    return undefined;
  }
}

/** Promise wrapper for node-rdkafka's `(err) => void` callbacks. */
export function rdCall<T = void>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn((err, value) => (err ? reject(err) : resolve(value as T)));
  });
}

interface Connectable {
  connect(options: { timeout: number }, cb: (err: unknown) => void): unknown;
  on(event: 'event.error', listener: (err: unknown) => void): unknown;
  removeListener(event: 'event.error', listener: (err: unknown) => void): unknown;
}

/**
 * connect() with authentication failures reported as such, and at once: librdkafka reports a refused SASL
 * handshake or an untrusted certificate only as an 'event.error', and connect() itself fails later with a
 * generic transport error or timeout.
 *
 * With `attemptMs`, the deadline is met in attempts, the first that long and each next one twice as long.
 * node-rdkafka's connect() ends in a blocking metadata request on libuv's thread pool, and a process cannot exit
 * while one runs (the pool is joined at exit): a client given up on early (failFast) would otherwise hold a
 * failed start-up open for the whole connection timeout.
 */
export function rdConnect(
  client: Connectable,
  timeoutMs: number,
  options: { failFast?: (err: unknown) => boolean; attemptMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    // A producer-type client delivers error events only when polled; a consumer's come through consume().
    const native = (client as { _client?: { poll?: () => void } })._client;
    const poller =
      typeof native?.poll === 'function'
        ? setInterval(() => {
            try {
              native.poll!();
            } catch {
              // not connected yet or already closed
            }
          }, 50)
        : undefined;
    const finish = (err: unknown) => {
      if (settled) return;
      settled = true;
      clearInterval(poller);
      client.removeListener('event.error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onError = (err: unknown) => {
      if (classifyRd(err).auth || options.failFast?.(withCode(err))) finish(withCode(err));
    };
    client.on('event.error', onError);
    const attempt = (attemptMs: number | undefined) => {
      const left = deadline - Date.now();
      const timeout = Math.max(1, Math.min(left, attemptMs ?? left));
      client.connect({ timeout }, (err) => {
        const retry = err && !settled && attemptMs !== undefined && deadline > Date.now() && isTimeout(err);
        // Doubling, so that a slow but working cluster (a TLS handshake on a loaded host) still connects.
        if (retry) attempt(attemptMs * 2);
        else finish(err ? withCode(err) : undefined);
      });
    };
    attempt(options.attemptMs);
  });
}

/** The metadata request of an attempt ran out of time (librdkafka may say either). */
function isTimeout(err: unknown): boolean {
  const code = rdErrorCode(err);
  return code === RD.ERR__TIMED_OUT || code === RD.ERR__TRANSPORT;
}

let reverseErrorTable: Map<string, number> | undefined;

/**
 * node-rdkafka turns some errors (delivery reports, client error events) into plain Errors whose only content
 * is librdkafka's error string, lower-cased after its "Local: "/"Broker: " prefix, with code -1. librdkafka's own
 * err2str table maps the string back to the numeric code, so classification still works from codes.
 */
export function rdErrorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (typeof e?.code === 'number' && e.code !== -1) return e.code;
  if (!reverseErrorTable) {
    reverseErrorTable = new Map();
    const err2str = loadErr2str();
    for (const code of Object.values(loadRdkafka().CODES.ERRORS) as number[]) {
      const text = err2str?.(code);
      if (!text) continue;
      const parts = text.split(': ');
      reverseErrorTable.set((parts.length > 1 ? parts[1]! : text).toLowerCase(), code);
    }
  }
  return typeof e?.message === 'string' ? reverseErrorTable.get(e.message.toLowerCase()) : undefined;
}

/** The error with its numeric librdkafka code restored where node-rdkafka dropped it. */
function withCode(err: unknown): unknown {
  const code = rdErrorCode(err);
  if (code === undefined || (err as { code?: unknown }).code === code) return err;
  return Object.assign(err as object, { code });
}

/** classifyRdkafkaError, after restoring the code node-rdkafka may have dropped. */
export function classifyRd(err: unknown): ClientFailure {
  const code = rdErrorCode(err);
  return classifyRdkafkaError(
    code === undefined
      ? err
      : {
          ...(err as object),
          code,
          isRetriable: (err as { isRetriable?: unknown }).isRetriable,
          isFatal: (err as { isFatal?: unknown }).isFatal,
        },
  );
}

/**
 * librdkafka repeats a connection error every few hundred milliseconds while a broker is down. Logs each
 * distinct error at most once per interval, with the number suppressed meanwhile.
 */
export function errorLogThrottle(intervalMs = 10_000): (clientCode: string) => number | undefined {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (clientCode) => {
    const now = Date.now();
    const entry = last.get(clientCode);
    if (entry && now - entry.at < intervalMs) {
      entry.suppressed++;
      return undefined;
    }
    last.set(clientCode, { at: now, suppressed: 0 });
    return entry?.suppressed ?? 0;
  };
}

/**
 * A client's `event.error`: a transient one (a broker restarting, a connection dropped; librdkafka recovers by
 * itself) is logged, throttled per error code, and true is returned; a fatal one is left to the caller (false).
 */
export function logTransientError(
  err: RdKafka.LibrdKafkaError,
  throttle: (clientCode: string) => number | undefined,
  log: Logger,
  what: string,
): boolean {
  const failure = classifyRd(err);
  if (failure.fatal) return false;
  const suppressed = throttle(failure.clientCode);
  if (suppressed !== undefined) {
    log.warn(
      { err: { code: err.code, message: err.message }, clientCode: failure.clientCode, suppressed },
      `${what} error`,
    );
  }
  return true;
}
