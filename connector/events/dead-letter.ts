import { createHash } from 'node:crypto';
import type { ErrorCode, VigilError } from '../../core/errors.js';
import type { FeatureFailure } from '../../schemas/features/extractor.js';
import type { DeadLetter } from '../../schemas/types.js';
import type { SourceCoordinates } from './anomaly-event.js';

/**
 * Builds dead letters (schemas/dead_letter.avsc) and the Kafka headers that go with them, so a dead-letter
 * topic can be filtered and routed on headers without decoding bodies. Pure: the caller passes the time.
 */

/** Where in the pipeline the record was refused. A string in the schema, so new stages need no schema change. */
export type DeadLetterStage = 'decode' | 'features' | 'score' | 'emit';

export const DEAD_LETTER_HEADERS = {
  topic: 'vigil.source.topic',
  partition: 'vigil.source.partition',
  offset: 'vigil.source.offset',
  reason: 'vigil.reason',
  stage: 'vigil.stage',
} as const;

/** Set ('true') on a dead letter that left the original value (and a long key) out: it could not be written. */
export const ORIGINAL_OMITTED_HEADER = 'vigil.original.omitted';

/** Keys at most this long are kept in a dead letter that leaves the original out; longer ones are hashed too. */
const MAX_KEPT_KEY_BYTES = 1024;

export interface DeadLetterContext {
  readonly source: SourceCoordinates;
  /** The original record's Kafka timestamp (epoch ms), when it had one. */
  readonly timestamp: number | null;
  readonly key: Buffer | null;
  /** The original value bytes (null for a tombstone). */
  readonly value: Buffer | null;
  /** When the record was refused (epoch ms). */
  readonly failedAt: number;
}

export interface DeadLetterInput extends DeadLetterContext {
  readonly stage: DeadLetterStage;
  /** A code of core/errors.ts, e.g. DECODE_FAILED, NON_FINITE. */
  readonly code: ErrorCode;
  readonly message: string;
  /** Structured context; values are written as text. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface DeadLetterMessage {
  /** The record's Kafka key on the dead-letter topic: the original key, so it lands by the same key. */
  readonly key: Buffer | null;
  readonly value: DeadLetter;
  readonly headers: Readonly<Record<string, string>>;
}

/** Longest detail value kept; dead letters are for people and tools, not for shipping whole payloads twice. */
const MAX_DETAIL_CHARS = 1024;
const MAX_MESSAGE_CHARS = 4096;

export function buildDeadLetter(input: DeadLetterInput): DeadLetterMessage {
  const value: DeadLetter = {
    reason_code: input.code,
    reason_message: truncate(input.message, MAX_MESSAGE_CHARS),
    stage: input.stage,
    source_topic: input.source.topic,
    source_partition: input.source.partition,
    source_offset: input.source.offset,
    source_timestamp: input.timestamp,
    original_key: input.key,
    original_value: input.value,
    failed_at: input.failedAt,
    details: detailsAsText(input.details ?? {}),
  };
  const headers = {
    [DEAD_LETTER_HEADERS.topic]: input.source.topic,
    [DEAD_LETTER_HEADERS.partition]: String(input.source.partition),
    [DEAD_LETTER_HEADERS.offset]: String(input.source.offset),
    [DEAD_LETTER_HEADERS.reason]: input.code,
    [DEAD_LETTER_HEADERS.stage]: input.stage,
  };
  return { key: input.key, value, headers };
}

/** A dead letter for an error raised on purpose (decode, schema, …): its code, message and details. */
export function deadLetterFromError(
  err: VigilError,
  stage: DeadLetterStage,
  ctx: DeadLetterContext,
): DeadLetterMessage {
  return buildDeadLetter({ ...ctx, stage, code: err.code, message: err.message, details: err.details });
}

/** A dead letter for a record the feature extractor refused: the extractor's reason (NON_FINITE, …) is the code. */
export function deadLetterFromFeatureFailure(
  failure: FeatureFailure,
  ctx: DeadLetterContext,
): DeadLetterMessage {
  return buildDeadLetter({
    ...ctx,
    stage: 'features',
    code: failure.reason,
    message: failure.message,
    details: { path: failure.path, feature: failure.feature },
  });
}

function detailsAsText(details: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(details)) {
    if (v === undefined) continue;
    let text: string;
    if (typeof v === 'string') text = v;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === null)
      text = String(v);
    else if (v instanceof Error) text = v.message;
    else {
      try {
        text = JSON.stringify(v) ?? String(v);
      } catch {
        text = String(v);
      }
    }
    out[k] = truncate(text, MAX_DETAIL_CHARS);
  }
  return out;
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/**
 * The same dead letter without the original key and value, for when it is too large for the dead-letter topic
 * (a value near the broker's `message.max.bytes` is accepted on input, and the dead letter adds to it). The
 * source coordinates, sizes and SHA-256 digests stay, so the record can be found where it still is, in its
 * source partition at its offset, and checked byte for byte. Null when there is nothing left to take out.
 */
export function withoutOriginal(letter: DeadLetterMessage, why: string): DeadLetterMessage | null {
  const v = letter.value;
  const keyKept = v.original_key !== null && v.original_key.length <= MAX_KEPT_KEY_BYTES;
  if (v.original_value === null && (v.original_key === null || keyKept)) return null;
  const details: Record<string, string> = { ...v.details, original_omitted: truncate(why, MAX_DETAIL_CHARS) };
  Object.assign(details, digestDetails('value', v.original_value));
  if (!keyKept) Object.assign(details, digestDetails('key', v.original_key));
  const key = keyKept ? v.original_key : null;
  return {
    key,
    value: { ...v, original_key: key, original_value: null, details },
    headers: { ...letter.headers, [ORIGINAL_OMITTED_HEADER]: 'true' },
  };
}

/**
 * A dead letter for a record whose output (anomaly event or score) the broker refused for good: it replaces
 * that output, so the record is accounted for. Carries no original bytes (the output was refused for its size
 * or form, and the record is still in its source partition), only their sizes and digests.
 */
export function deadLetterForUnwritableOutput(
  ctx: DeadLetterContext,
  output: string,
  reason: string,
  extra: Readonly<Record<string, unknown>> = {},
): DeadLetterMessage {
  const letter = buildDeadLetter({
    ...ctx,
    stage: 'emit',
    code: 'OUTPUT_UNWRITABLE',
    message: `the ${output} output of this record cannot be written: ${reason}`,
    details: { output, ...extra },
  });
  return withoutOriginal(letter, reason) ?? letter;
}

function digestDetails(what: 'key' | 'value', bytes: Buffer | null): Record<string, string> {
  if (bytes === null) return {};
  return {
    [`original_${what}_bytes`]: String(bytes.length),
    [`original_${what}_sha256`]: createHash('sha256').update(bytes).digest('hex'),
  };
}
