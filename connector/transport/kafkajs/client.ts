import { readFileSync } from 'node:fs';
import { Kafka, type LogEntry, logLevel } from 'kafkajs';
import { VigilError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { kafkajsConnectionConfig } from '../security.js';
import type { TransportOptions } from '../types.js';

const IDEMPOTENT_RETRY_WARNING = 'Limiting retries for the idempotent producer may invalidate EoS guarantees';

/**
 * Error responses that are part of normal operation: kafkajs's connection logs every error response at ERROR
 * ("Response GroupCoordinator(...)") before its own retry, or Vigil's caller, handles it. These are retried
 * or expected (a topic that already exists), and whoever gives up on them logs that; so they go to debug.
 * Others (authorisation, fencing, a message too large) stay errors.
 */
const EXPECTED_RESPONSE_ERRORS = [
  'The coordinator is loading',
  'The coordinator is not available',
  'The group coordinator is not available',
  'This is not the correct coordinator',
  'Topic creation errors',
  'Topic with this name already exists',
  'This server does not host this topic-partition',
  'This server is not the leader for that topic-partition',
  'There is no leader for this topic-partition',
  'The group is rebalancing',
  'The producer attempted to update a transaction while another concurrent operation',
];

const SEND_FAILED = 'Failed to send messages: ';
// The consumer's runner logs a retriable failure as a "Crash" before it restarts; Vigil's transport logs the
// restart itself (a warning with the attempt), so kafkajs's copy of an expected condition is debug too.
const CRASH = 'Crash: KafkaJSProtocolError: ';

export function isExpectedResponseError(message: string, error: unknown): boolean {
  // The producer's retry logs the same conditions as "Failed to send messages: <error>".
  const text = message.startsWith('Response ')
    ? error
    : message.startsWith(SEND_FAILED)
      ? message.slice(SEND_FAILED.length)
      : message.startsWith(CRASH)
        ? message.slice(CRASH.length)
        : undefined;
  return typeof text === 'string' && EXPECTED_RESPONSE_ERRORS.some((e) => text.startsWith(e));
}

function readPem(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new VigilError('CONFIG_INVALID', `cannot read TLS file ${path}`, { cause: err, details: { path } });
  }
}

/**
 * A kafkajs client with Vigil's security mapping, its logs routed into pino, and bounded connection retries
 * (kafkajs's own default waits up to ~30 s between tries; the transport does its own restarting above this).
 */
export function createKafka(options: TransportOptions, logger: Logger): Kafka {
  const config = kafkajsConnectionConfig(options, readPem);
  const log = logger.child({ client: 'kafkajs' });
  // kafkajs logs every failed reconnect (several a second while a broker is down): same line at most every 10 s.
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return new Kafka({
    ...config,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log: entry }: LogEntry) => {
        const { message, timestamp: _ts, ...extra } = entry;
        const key = `${namespace}\u0000${message}`;
        const now = Date.now();
        const seen = lastLogged.get(key);
        if (seen && now - seen.at < 10_000) {
          seen.suppressed++;
          return;
        }
        if (lastLogged.size > 1_000) lastLogged.clear();
        lastLogged.set(key, { at: now, suppressed: 0 });
        const fields = {
          ns: namespace,
          ...extra,
          ...(seen?.suppressed ? { suppressed: seen.suppressed } : {}),
        };
        // Vigil bounds the idempotent producer's retries on purpose (send() must fail in bounded time and the
        // client is then replaced); kafkajs warns about that on every producer.
        if (message === IDEMPOTENT_RETRY_WARNING || isExpectedResponseError(message, extra['error']))
          log.debug(fields, message);
        else if (level === logLevel.ERROR) log.error(fields, message);
        else if (level === logLevel.WARN) log.warn(fields, message);
        else if (level === logLevel.INFO) log.info(fields, message);
        else log.debug(fields, message);
      },
    retry: { initialRetryTime: 100, retries: 5, maxRetryTime: 5_000 },
  });
}
