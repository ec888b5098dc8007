import { describe, expect, it } from 'vitest';
import { isVigilError, type VigilError } from '../../../core/errors.js';
import {
  frame,
  HEADER_LENGTH,
  MAGIC_BYTE,
  readSchemaId,
  unframe,
  writeHeader,
} from '../../../schemas/wire-format.js';

function decodeError(fn: () => unknown): VigilError {
  try {
    fn();
  } catch (err) {
    if (isVigilError(err)) return err;
    throw err;
  }
  throw new Error('expected a VigilError');
}

describe('Confluent wire format', () => {
  it('frames as magic byte 0 then the schema id big-endian, then the body', () => {
    const framed = frame(0x01020304, Buffer.from([9, 8, 7]));
    expect([...framed]).toEqual([MAGIC_BYTE, 1, 2, 3, 4, 9, 8, 7]);
    const { schemaId, body } = unframe(framed);
    expect(schemaId).toBe(0x01020304);
    expect([...body]).toEqual([9, 8, 7]);
  });

  it('round-trips ids up to 2^32 - 1 (read as unsigned)', () => {
    for (const id of [0, 1, 255, 65_536, 2 ** 31, 2 ** 32 - 1]) {
      expect(readSchemaId(frame(id, Buffer.alloc(0)))).toBe(id);
    }
  });

  it('writes the header in place at an offset', () => {
    const buf = Buffer.alloc(12, 0xff);
    expect(writeHeader(buf, 3, 77)).toBe(3 + HEADER_LENGTH);
    expect(readSchemaId(buf.subarray(3))).toBe(77);
    expect(buf[2]).toBe(0xff);
  });

  it('refuses ids outside the 32-bit unsigned range', () => {
    expect(() => frame(-1, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => frame(2 ** 32, Buffer.alloc(0))).toThrow(RangeError);
    expect(() => frame(1.5, Buffer.alloc(0))).toThrow(RangeError);
  });

  it('a buffer shorter than the header is DECODE_FAILED (short_buffer)', () => {
    for (const buf of [Buffer.alloc(0), Buffer.from([0, 0, 0, 1]), null]) {
      const err = decodeError(() => readSchemaId(buf));
      expect(err.code).toBe('DECODE_FAILED');
      expect(err.details.reason).toBe('short_buffer');
      expect(err.retriable).toBe(false);
    }
  });

  it('a wrong magic byte is DECODE_FAILED (bad_magic_byte) naming the byte', () => {
    const err = decodeError(() => unframe(Buffer.from([1, 0, 0, 0, 1, 2])));
    expect(err.code).toBe('DECODE_FAILED');
    expect(err.details).toMatchObject({ reason: 'bad_magic_byte', magicByte: 1 });
  });

  it('a header with an empty body is valid framing (the body decoder decides)', () => {
    expect(unframe(frame(5, Buffer.alloc(0))).body.length).toBe(0);
  });
});
