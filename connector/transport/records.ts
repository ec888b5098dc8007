import { isUtf8 } from 'node:buffer';
import type { CommitOffset, ProduceHeader, ProduceMessage, RecordHeader } from './types.js';

/** Shared by every record without headers, so the common case allocates nothing. */
export const NO_HEADERS: readonly RecordHeader[] = Object.freeze([]);

/** kafkajs decodes headers into an object; a repeated key becomes an array (in record order). */
export function headersFromKafkajs(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): readonly RecordHeader[] {
  if (!headers) return NO_HEADERS;
  let out: RecordHeader[] | undefined;
  for (const key in headers) {
    const value = headers[key];
    out ??= [];
    if (Array.isArray(value)) {
      for (const v of value) out.push({ key, value: toBuffer(v) });
    } else {
      out.push({ key, value: value === undefined ? null : toBuffer(value) });
    }
  }
  return out ?? NO_HEADERS;
}

/** node-rdkafka hands headers over as a list of one-key objects. */
export function headersFromRdkafka(
  headers: ReadonlyArray<Record<string, unknown>> | undefined,
): readonly RecordHeader[] {
  if (!headers || headers.length === 0) return NO_HEADERS;
  const out: RecordHeader[] = [];
  for (const h of headers) {
    for (const key in h) {
      const value = h[key];
      out.push({ key, value: value == null ? null : toBuffer(value as Buffer | string) });
    }
  }
  return out;
}

function toBuffer(v: Buffer | string | Uint8Array): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** kafkajs wants an object; repeated keys become arrays, which kafkajs writes as repeated headers in order. */
export function headersToKafkajs(
  headers: readonly ProduceHeader[] | undefined,
): Record<string, Buffer | string | (Buffer | string)[]> | undefined {
  if (!headers || headers.length === 0) return undefined;
  const out: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const { key, value } of headers) {
    // kafkajs cannot write a null header value; an empty one is the closest it can say.
    const v = value ?? Buffer.alloc(0);
    const existing = out[key];
    if (existing === undefined) out[key] = v;
    else if (Array.isArray(existing)) existing.push(v);
    else out[key] = [existing, v];
  }
  return out;
}

/** node-rdkafka's produce() takes headers as a list of one-key objects. */
export function headersToRdkafka(
  headers: readonly ProduceHeader[] | undefined,
): Array<Record<string, Buffer | string>> | undefined {
  if (!headers || headers.length === 0) return undefined;
  // node-rdkafka cannot write a null header value either.
  return headers.map(({ key, value }) => ({ [key]: value ?? Buffer.alloc(0) }));
}

/** Programmer errors (not retriable) for malformed produce input, found before anything is sent. */
export function validateProduceMessages(messages: readonly ProduceMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError('send() takes an array of messages');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    if (typeof m.topic !== 'string' || m.topic.length === 0) {
      throw new TypeError(`messages[${i}].topic must be a non-empty string`);
    }
    if (m.partition !== undefined && (!Number.isInteger(m.partition) || m.partition < 0)) {
      throw new RangeError(`messages[${i}].partition must be a non-negative integer`);
    }
  }
}

/**
 * node-rdkafka converts each header value to a JS string and then to a NUL-terminated C string, so a value that
 * is not UTF-8, or holds a NUL byte, arrives changed or cut short. Refuse such values before sending instead of
 * corrupting them (capabilities.binaryHeaders is false on that transport).
 */
export function validateTextHeaders(messages: readonly ProduceMessage[]): void {
  for (let i = 0; i < messages.length; i++) {
    const headers = messages[i]!.headers;
    if (!headers) continue;
    for (const { key, value } of headers) {
      if (value === null) continue;
      const ok = typeof value === 'string' ? !value.includes('\u0000') : isUtf8(value) && !value.includes(0);
      if (!ok) {
        throw new TypeError(
          `messages[${i}] header '${key}': the rdkafka transport can only write UTF-8 header values without NUL bytes`,
        );
      }
    }
  }
}

/** Programmer errors for malformed commit input; a partition named twice is ambiguous and refused. */
export function validateCommitOffsets(offsets: readonly CommitOffset[]): void {
  if (!Array.isArray(offsets)) throw new TypeError('commit() takes an array of offsets');
  const seen = new Set<string>();
  for (let i = 0; i < offsets.length; i++) {
    const o = offsets[i]!;
    if (typeof o.topic !== 'string' || o.topic.length === 0) {
      throw new TypeError(`offsets[${i}].topic must be a non-empty string`);
    }
    if (!Number.isInteger(o.partition) || o.partition < 0) {
      throw new RangeError(`offsets[${i}].partition must be a non-negative integer`);
    }
    if (typeof o.offset !== 'bigint' || o.offset < 0n) {
      throw new RangeError(`offsets[${i}].offset must be a non-negative bigint`);
    }
    const key = `${o.topic}\u0000${o.partition}`;
    if (seen.has(key)) throw new RangeError(`offsets name ${o.topic}[${o.partition}] more than once`);
    seen.add(key);
  }
}

/** bigint offset → the double node-rdkafka takes; refuses what a double cannot hold exactly. */
export function offsetToNumber(offset: bigint): number {
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`offset ${offset} exceeds 2^53, which node-rdkafka cannot represent exactly`);
  }
  return Number(offset);
}
