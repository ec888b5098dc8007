import { VigilError } from '../core/errors.js';

/**
 * Confluent Schema Registry wire format: magic byte 0, the schema id as a 4-byte big-endian integer, then the
 * Avro body. https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format
 */
export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;
const MAX_SCHEMA_ID = 0xffffffff;

export interface Unframed {
  schemaId: number;
  /** A view on the input buffer (no copy). */
  body: Buffer;
}

function checkSchemaId(schemaId: number): void {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > MAX_SCHEMA_ID) {
    throw new RangeError(`schema id must be an integer in [0, ${MAX_SCHEMA_ID}], got ${schemaId}`);
  }
}

/** Writes the 5-byte header at `pos`; returns the position after it. */
export function writeHeader(buf: Buffer, pos: number, schemaId: number): number {
  checkSchemaId(schemaId);
  buf[pos] = MAGIC_BYTE;
  buf.writeUInt32BE(schemaId, pos + 1);
  return pos + HEADER_LENGTH;
}

/** A new buffer holding header and body. */
export function frame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  writeHeader(out, 0, schemaId);
  out.set(body, HEADER_LENGTH);
  return out;
}

/** The schema id of a framed record; DECODE_FAILED when the buffer is too short or the magic byte is wrong. */
export function readSchemaId(buf: Uint8Array | null | undefined): number {
  if (buf == null || buf.length < HEADER_LENGTH) {
    throw new VigilError(
      'DECODE_FAILED',
      `record is ${buf == null ? 'empty' : `${buf.length} bytes`}, shorter than the ${HEADER_LENGTH}-byte schema registry header`,
      { details: { reason: 'short_buffer', length: buf?.length ?? 0 } },
    );
  }
  if (buf[0] !== MAGIC_BYTE) {
    throw new VigilError(
      'DECODE_FAILED',
      `record starts with byte ${buf[0]}, not the magic byte ${MAGIC_BYTE}`,
      {
        details: { reason: 'bad_magic_byte', magicByte: buf[0] },
      },
    );
  }
  // Manual big-endian read: works on any Uint8Array, not only Buffer.
  return ((buf[1]! << 24) >>> 0) + (buf[2]! << 16) + (buf[3]! << 8) + buf[4]!;
}

/** Splits a framed record into schema id and body (a view, no copy). */
export function unframe(buf: Buffer): Unframed {
  const schemaId = readSchemaId(buf);
  return { schemaId, body: buf.subarray(HEADER_LENGTH) };
}
