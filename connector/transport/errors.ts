import { type ErrorCode, isProgrammerError, VigilError } from '../../core/errors.js';

/**
 * Client errors of both transports reduced to the few facts Vigil decides on, read from fields (kafkajs
 * error `name`/`type`/`retriable`, librdkafka numeric `code`/`isRetriable`/`isFatal`), never from message text.
 * Pure: no client is loaded here.
 */
export interface ClientFailure {
  /** The cluster could not be reached or did not answer in time. */
  readonly unavailable: boolean;
  /** The group moved on (rebalance in progress, stale generation, unknown member). */
  readonly rebalance: boolean;
  /** Credentials, TLS trust or ACLs: fix the config, retrying will not help. */
  readonly auth: boolean;
  /** The same operation may succeed later without a change of input or config. */
  readonly retriable: boolean;
  /** librdkafka: the client instance is unusable and must be recreated. */
  readonly fatal: boolean;
  /** librdkafka: the current transaction must be aborted. */
  readonly abortTransaction: boolean;
  /**
   * The broker (or librdkafka, before sending) refuses these records as they are: too large, or not a valid
   * record. Retrying the same bytes can never succeed, and nothing is wrong with the cluster or the config.
   */
  readonly unwritable: boolean;
  /** Client-specific name of the error, for logs and details (`KafkaJSConnectionError`, `ERR__TRANSPORT`, …). */
  readonly clientCode: string;
}

// ---------------------------------------------------------------- kafkajs

const KAFKAJS_UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
]);

const KAFKAJS_UNAVAILABLE_TYPES = new Set([
  'NETWORK_EXCEPTION',
  'REQUEST_TIMED_OUT',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'GROUP_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'NOT_COORDINATOR_FOR_GROUP',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'BROKER_NOT_AVAILABLE',
]);

const KAFKAJS_REBALANCE_TYPES = new Set([
  'REBALANCE_IN_PROGRESS',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'FENCED_INSTANCE_ID',
]);

/** Kafka's record-level refusals (MESSAGE_TOO_LARGE = 10, RECORD_LIST_TOO_LARGE = 18, INVALID_RECORD = 87). */
const KAFKAJS_UNWRITABLE_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']);

const KAFKAJS_AUTH_TYPES = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);

/** Node's TLS verification failures: kafkajs reports them as (retriable) connection errors with this `code`. */
const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown;
}

/** The chain from the outer error to its innermost cause (kafkajs wraps retried failures). */
function causeChain(err: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current: unknown = err;
  while (
    current &&
    typeof current === 'object' &&
    chain.length < 8 &&
    !chain.includes(current as ErrorLike)
  ) {
    chain.push(current as ErrorLike);
    const next: unknown = (current as ErrorLike).cause ?? (current as ErrorLike).originalError;
    current = next;
  }
  return chain;
}

export function classifyKafkajsError(err: unknown): ClientFailure {
  if (isProgrammerError(err)) {
    return failure({ retriable: false, clientCode: (err as Error).name });
  }
  const chain = causeChain(err);
  let unavailable = false;
  let rebalance = false;
  let auth = false;
  let unwritable = false;
  for (const e of chain) {
    const name = typeof e.name === 'string' ? e.name : '';
    const type = typeof e.type === 'string' ? e.type : '';
    const code = typeof e.code === 'string' ? e.code : '';
    if (KAFKAJS_UNAVAILABLE_NAMES.has(name) || KAFKAJS_UNAVAILABLE_TYPES.has(type)) unavailable = true;
    if (KAFKAJS_REBALANCE_TYPES.has(type)) rebalance = true;
    if (KAFKAJS_UNWRITABLE_TYPES.has(type)) unwritable = true;
    if (
      name === 'KafkaJSSASLAuthenticationError' ||
      KAFKAJS_AUTH_TYPES.has(type) ||
      TLS_TRUST_CODES.has(code)
    ) {
      auth = true;
    }
  }
  const inner = chain[chain.length - 1];
  const outer = chain[0];
  const clientCode =
    (typeof inner?.type === 'string' && inner.type) ||
    (typeof inner?.name === 'string' && inner.name) ||
    (typeof outer?.name === 'string' && outer.name) ||
    'unknown';
  // KafkaJSNumberOfRetriesExceeded is "non-retriable" only in the sense that kafkajs stopped retrying; whether
  // the operation can succeed later is the innermost cause's call.
  const innerRetriable = inner?.retriable === true;
  // A rebalance is not retried: the operation belonged to a generation that is ending.
  const retriable = !auth && !rebalance && !unwritable && (unavailable || innerRetriable);
  return failure({ unavailable, rebalance, auth, retriable, unwritable, clientCode });
}

// ---------------------------------------------------------------- librdkafka

/** librdkafka error codes Vigil branches on (rdkafkacpp.h; stable across releases). */
export const RD = {
  ERR__TRANSPORT: -195,
  ERR__RESOLVE: -193,
  ERR__MSG_TIMED_OUT: -192,
  ERR__ALL_BROKERS_DOWN: -187,
  ERR__TIMED_OUT: -185,
  ERR__QUEUE_FULL: -184,
  ERR__SSL: -181,
  ERR__WAIT_COORD: -180,
  ERR__ASSIGN_PARTITIONS: -175,
  ERR__REVOKE_PARTITIONS: -174,
  ERR__STATE: -172,
  ERR__AUTHENTICATION: -169,
  ERR__TIMED_OUT_QUEUE: -166,
  ERR__FATAL: -150,
  ERR__FENCED: -144,
  ERR__ASSIGNMENT_LOST: -142,
  ERR_LEADER_NOT_AVAILABLE: 5,
  ERR_NOT_LEADER_FOR_PARTITION: 6,
  ERR_REQUEST_TIMED_OUT: 7,
  ERR_MSG_SIZE_TOO_LARGE: 10,
  ERR_NETWORK_EXCEPTION: 13,
  ERR_COORDINATOR_LOAD_IN_PROGRESS: 14,
  ERR_COORDINATOR_NOT_AVAILABLE: 15,
  ERR_NOT_COORDINATOR: 16,
  ERR_NOT_ENOUGH_REPLICAS: 19,
  ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  ERR_RECORD_LIST_TOO_LARGE: 18,
  ERR_ILLEGAL_GENERATION: 22,
  ERR_UNKNOWN_MEMBER_ID: 25,
  ERR_REBALANCE_IN_PROGRESS: 27,
  ERR_TOPIC_AUTHORIZATION_FAILED: 29,
  ERR_GROUP_AUTHORIZATION_FAILED: 30,
  ERR_CLUSTER_AUTHORIZATION_FAILED: 31,
  ERR_TOPIC_ALREADY_EXISTS: 36,
  ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 53,
  ERR_SASL_AUTHENTICATION_FAILED: 58,
  ERR_FENCED_INSTANCE_ID: 82,
  ERR_PRODUCER_FENCED: 90,
  ERR_INVALID_RECORD: 87,
  ERR_STALE_MEMBER_EPOCH: 113,
} as const;

const RD_NAMES: ReadonlyMap<number, string> = new Map(Object.entries(RD).map(([name, code]) => [code, name]));

const RD_UNAVAILABLE = new Set<number>([
  RD.ERR__TRANSPORT,
  RD.ERR__RESOLVE,
  RD.ERR__MSG_TIMED_OUT,
  RD.ERR__ALL_BROKERS_DOWN,
  RD.ERR__TIMED_OUT,
  RD.ERR__TIMED_OUT_QUEUE,
  RD.ERR__WAIT_COORD,
  RD.ERR_LEADER_NOT_AVAILABLE,
  RD.ERR_NOT_LEADER_FOR_PARTITION,
  RD.ERR_REQUEST_TIMED_OUT,
  RD.ERR_NETWORK_EXCEPTION,
  RD.ERR_COORDINATOR_LOAD_IN_PROGRESS,
  RD.ERR_COORDINATOR_NOT_AVAILABLE,
  RD.ERR_NOT_COORDINATOR,
]);

const RD_REBALANCE = new Set<number>([
  RD.ERR_ILLEGAL_GENERATION,
  RD.ERR_UNKNOWN_MEMBER_ID,
  RD.ERR_REBALANCE_IN_PROGRESS,
  RD.ERR_FENCED_INSTANCE_ID,
  RD.ERR_STALE_MEMBER_EPOCH,
  RD.ERR__ASSIGNMENT_LOST,
]);

const RD_AUTH = new Set<number>([
  RD.ERR__SSL,
  RD.ERR__AUTHENTICATION,
  RD.ERR_TOPIC_AUTHORIZATION_FAILED,
  RD.ERR_GROUP_AUTHORIZATION_FAILED,
  RD.ERR_CLUSTER_AUTHORIZATION_FAILED,
  RD.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  RD.ERR_SASL_AUTHENTICATION_FAILED,
]);

/**
 * Records refused as they are. librdkafka raises MSG_SIZE_TOO_LARGE itself, from produce(), for a message over
 * its own `message.max.bytes` (1 000 000 by default, below the broker's 1 048 588), and passes the broker's on
 * in delivery reports.
 */
const RD_UNWRITABLE = new Set<number>([
  RD.ERR_MSG_SIZE_TOO_LARGE,
  RD.ERR_RECORD_LIST_TOO_LARGE,
  RD.ERR_INVALID_RECORD,
]);

/** Retriable per Kafka's own table, where librdkafka does not say (delivery reports carry no flags). */
const RD_RETRIABLE = new Set<number>([
  RD.ERR_NOT_ENOUGH_REPLICAS,
  RD.ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  RD.ERR__QUEUE_FULL,
]);

interface RdErrorLike {
  code?: unknown;
  isRetriable?: unknown;
  isFatal?: unknown;
  isTxnRequiresAbort?: unknown;
}

export function classifyRdkafkaError(err: unknown): ClientFailure {
  if (isProgrammerError(err)) {
    return failure({ retriable: false, clientCode: (err as Error).name });
  }
  const e = (err ?? {}) as RdErrorLike;
  const code = typeof e.code === 'number' ? e.code : Number.NaN;
  const unavailable = RD_UNAVAILABLE.has(code);
  const rebalance = RD_REBALANCE.has(code);
  const auth = RD_AUTH.has(code);
  const unwritable = RD_UNWRITABLE.has(code);
  const fenced =
    code === RD.ERR_PRODUCER_FENCED || code === RD.ERR__FENCED || code === RD.ERR_FENCED_INSTANCE_ID;
  const fatal = e.isFatal === true || code === RD.ERR__FATAL || fenced;
  const abortTransaction = e.isTxnRequiresAbort === true;
  // A fatal error kills the client instance, not the operation: a fresh client can retry it, unless another
  // instance took over our identity (fenced). A rebalance is not retried: its generation is ending.
  const retriable =
    !auth &&
    !fenced &&
    !rebalance &&
    !unwritable &&
    (e.isRetriable === true || unavailable || RD_RETRIABLE.has(code) || fatal);
  return failure({
    unavailable,
    rebalance,
    auth,
    retriable,
    fatal,
    abortTransaction,
    unwritable,
    clientCode: RD_NAMES.get(code) ?? (Number.isNaN(code) ? 'unknown' : `librdkafka(${code})`),
  });
}

// ---------------------------------------------------------------- to VigilError

function failure(f: Partial<ClientFailure> & { clientCode: string }): ClientFailure {
  return {
    unavailable: false,
    rebalance: false,
    auth: false,
    retriable: false,
    fatal: false,
    abortTransaction: false,
    unwritable: false,
    ...f,
  };
}

/**
 * The VigilError for a failed operation. `code` is the operation's own (PRODUCE_FAILED, COMMIT_FAILED) unless
 * it is BROKER_UNAVAILABLE; authentication and TLS-trust failures become CONFIG_INVALID because no retry fixes
 * them. `retriable` always comes from the classification.
 */
export function toVigilError(
  code: Extract<ErrorCode, 'PRODUCE_FAILED' | 'COMMIT_FAILED' | 'BROKER_UNAVAILABLE'>,
  message: string,
  cause: unknown,
  f: ClientFailure,
  details: Record<string, unknown> = {},
): VigilError {
  if (cause instanceof VigilError) return cause;
  const finalCode: ErrorCode = f.auth ? 'CONFIG_INVALID' : code;
  const suffix = f.auth ? ' (authentication, TLS trust or authorization: check security settings)' : '';
  return new VigilError(finalCode, `${message}: ${errorMessage(cause)}${suffix}`, {
    cause,
    retriable: f.retriable,
    details: {
      ...details,
      clientCode: f.clientCode,
      brokerUnavailable: f.unavailable,
      rebalance: f.rebalance,
      ...(f.fatal ? { fatal: true } : {}),
      ...(f.abortTransaction ? { abortTransaction: true } : {}),
      ...(f.unwritable ? { unwritable: true } : {}),
    },
  });
}

/** A produce failure no retry can fix because of the records themselves (see ClientFailure.unwritable). */
export function isUnwritable(err: unknown): boolean {
  return err instanceof VigilError && err.details.unwritable === true;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}
