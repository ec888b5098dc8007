/**
 * Vigil's closed set of error codes. Every error Vigil raises on purpose is a VigilError carrying one of
 * these codes; callers branch on `code` and `retriable`, never on message text.
 *
 * `retriable` says whether trying the same operation again can succeed without a change of input or config
 * (a broker that is restarting, a registry that timed out). Programmer errors and bad input are never retriable.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: {
    retriable: false,
    summary: 'A configuration value is missing, malformed or out of range.',
  },
  DEPENDENCY_MISSING: {
    retriable: false,
    summary: 'A required external program or package is not installed.',
  },
  BROKER_UNAVAILABLE: { retriable: true, summary: 'The Kafka broker could not be reached or is not ready.' },
  TOPIC_NOT_FOUND: {
    retriable: false,
    summary: 'A topic Vigil reads or writes does not exist (and is not to be created).',
  },
  BROKER_START_FAILED: { retriable: false, summary: 'The local Kafka broker failed to start.' },
  PORT_IN_USE: { retriable: false, summary: 'A TCP port Vigil needs is already taken by another process.' },
  DOWNLOAD_FAILED: { retriable: true, summary: 'A package or artifact could not be downloaded.' },
  SCHEMA_INVALID: {
    retriable: false,
    summary: 'An Avro schema could not be parsed or is not what was expected.',
  },
  REGISTRY_UNAVAILABLE: { retriable: true, summary: 'The schema registry could not be reached.' },
  SCHEMA_INCOMPATIBLE: {
    retriable: false,
    summary:
      'A registry subject Vigil writes to holds schemas its own is not compatible with, under the subject’s compatibility rule.',
  },
  SCHEMA_NOT_FOUND: {
    retriable: false,
    summary: 'The schema id named by a record is unknown to the registry.',
  },
  DECODE_FAILED: { retriable: false, summary: 'A record could not be decoded with its writer schema.' },
  FEATURE_INVALID: {
    retriable: false,
    summary: 'A decoded record cannot be turned into a valid feature vector.',
  },
  // The feature extractor's reasons (schemas/features/codegen.ts FEATURE_FAILURE_REASONS), one code each so a
  // dead letter's reason and the metric's label say which without decoding details.
  MISSING_VALUE: {
    retriable: false,
    summary: 'A feature field is absent or null and its mapping says `missing: fail`.',
  },
  NON_FINITE: {
    retriable: false,
    summary: 'A numeric feature is NaN or ±Infinity (in the record or after its transform).',
  },
  TYPE_MISMATCH: {
    retriable: false,
    summary: 'A feature field holds a value of the wrong type (a string where a number is mapped).',
  },
  UNKNOWN_CATEGORY: {
    retriable: false,
    summary: 'An enum feature holds a value outside its categories and its mapping says `unknown: fail`.',
  },
  PRODUCE_FAILED: { retriable: true, summary: 'A record could not be produced (acknowledged) to Kafka.' },
  COMMIT_FAILED: { retriable: true, summary: 'Consumer offsets could not be committed.' },
  OUTPUT_UNWRITABLE: {
    retriable: false,
    summary:
      'An output the broker refuses for good (too large, not a valid record) was replaced by a dead letter naming it.',
  },
  MODEL_INVALID: {
    retriable: false,
    summary: 'A model artifact failed a load check (shape, checksum, version).',
  },
  MODEL_FEATURE_MISMATCH: {
    retriable: false,
    summary:
      'A model was trained on other features (columns, order or mapping) than the configured feature mapping yields.',
  },
  MODEL_NOT_TRAINED: {
    retriable: false,
    summary: 'A model was used for scoring before it was trained or loaded.',
  },
  TRAINING_FAILED: { retriable: false, summary: 'Training did not produce a usable model.' },
  BACKEND_UNAVAILABLE: {
    retriable: false,
    summary: 'The requested TensorFlow.js backend cannot be initialised.',
  },
  INPUT_INVALID: { retriable: false, summary: 'An input file or argument is not in the expected form.' },
  SHUTDOWN: { retriable: false, summary: 'The operation was abandoned because Vigil is shutting down.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface VigilErrorOptions {
  cause?: unknown;
  /** Structured context (key names, values, topic/partition/offset) for logs and dead letters. */
  details?: Record<string, unknown>;
  /** Override the code's default retry decision where the caller knows better. */
  retriable?: boolean;
}

export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: VigilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      retriable: this.retriable,
      details: this.details,
    };
  }
}

export function isVigilError(err: unknown, code?: ErrorCode): err is VigilError {
  return err instanceof VigilError && (code === undefined || err.code === code);
}

/** Programmer errors are never retried, whatever else is true (kafkajs's rule, for the same reason). */
export function isProgrammerError(err: unknown): boolean {
  return (
    err instanceof TypeError ||
    err instanceof RangeError ||
    err instanceof SyntaxError ||
    err instanceof ReferenceError
  );
}

export function isRetriable(err: unknown): boolean {
  if (isProgrammerError(err)) return false;
  if (err instanceof VigilError) return err.retriable;
  return false;
}
