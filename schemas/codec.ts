import { VigilError } from '../core/errors.js';
import type { AvroResolver, AvroType } from './avro.js';
import { compileReusingReader } from './reusing-reader.js';
import { HEADER_LENGTH, readSchemaId, writeHeader } from './wire-format.js';

/** Something that turns values into Avro bytes, either into a new buffer or into one the caller owns. */
export interface AvroEncoder<T> {
  readonly type: AvroType;
  /** A new buffer holding the encoded value. */
  encode(value: T): Buffer;
  /**
   * Encodes into `buf` at `pos` and returns the position after the value. When `buf` is too short the result
   * is negative: minus the number of bytes that were missing; whatever was written is garbage.
   */
  encodeInto(value: T, buf: Buffer, pos: number): number;
}

function decodeFailed(
  message: string,
  reason: string,
  cause?: unknown,
  details: Record<string, unknown> = {},
) {
  return new VigilError('DECODE_FAILED', message, { cause, details: { reason, ...details } });
}

/** One body read: avsc's `Type.decode`, or a ReusingReader (schemas/reusing-reader.ts). */
type BodyRead = (buf: Buffer, pos: number) => { value: unknown; offset: number };

/**
 * Decodes one Avro body that must fill `buf` from `pos` to the end. Truncated bodies and trailing bytes are
 * both errors: either means the bytes were not written with this schema.
 */

function decodeBody<T>(
  reader: AvroType,
  read: BodyRead,
  buf: Buffer,
  pos: number,
  details: Record<string, unknown>,
): T {
  let result: { value: unknown; offset: number };
  try {
    result = read(buf, pos);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw decodeFailed(
      `record is not valid ${reader.name ?? reader.typeName}: ${reason}`,
      'invalid_body',
      cause,
      details,
    );
  }
  if (result.offset < 0) {
    throw decodeFailed(
      `record body is truncated (${buf.length - pos} bytes) for ${reader.name ?? reader.typeName}`,
      'truncated',
      undefined,
      details,
    );
  }
  if (result.offset !== buf.length) {
    throw decodeFailed(
      `record has ${buf.length - result.offset} trailing bytes after a ${reader.name ?? reader.typeName}`,
      'trailing_bytes',
      undefined,
      details,
    );
  }
  return result.value as T;
}

/** Builds the writer→reader resolver; a pair that cannot be resolved is SCHEMA_INVALID. */
export function createResolver(reader: AvroType, writer: AvroType): AvroResolver | undefined {
  // Equal canonical forms mean identical bytes: decoding directly skips the resolver's indirection.
  if (reader.equals(writer)) return undefined;
  try {
    return reader.createResolver(writer);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VigilError(
      'SCHEMA_INVALID',
      `writer schema ${writer.name ?? writer.typeName} cannot be read as ${reader.name ?? reader.typeName}: ${reason}`,
      { cause, details: { writer: writer.name, reader: reader.name } },
    );
  }
}

export interface AvroCodecOptions {
  /** The schema the bytes were written with, when it differs from the reader's; decoding then resolves. */
  writer?: AvroType;
  /**
   * Decode every record into the same object (schemas/reusing-reader.ts) where the schema allows it and no
   * resolution is needed: a decoded value is then valid only until the next decode. For the pipeline's hot path.
   */
  reuse?: boolean;
}

/** avsc's read of one body with `reader` (resolving from the writer when `resolver` is given). */
function avscRead(reader: AvroType, resolver: AvroResolver | undefined): BodyRead {
  return (buf, pos) => reader.decode(buf, pos, resolver);
}

/** The reusing reader for `reader` when asked for and the schema allows it; else avsc's read. */
function bodyRead(reader: AvroType, resolver: AvroResolver | undefined, reuse: boolean): BodyRead {
  return (reuse && resolver === undefined && compileReusingReader(reader)) || avscRead(reader, resolver);
}

/** Plain Avro (no framing): the body alone, with a schema known from configuration. Synchronous. */
export class AvroCodec<T = unknown> implements AvroEncoder<T> {
  readonly type: AvroType;
  private readonly writer: AvroType;
  private readonly read: BodyRead;

  constructor(type: AvroType, options: AvroCodecOptions = {}) {
    this.type = type;
    this.writer = options.writer ?? type;
    const resolver = options.writer === undefined ? undefined : createResolver(type, options.writer);
    this.read = bodyRead(type, resolver, options.reuse === true);
  }

  encode(value: T): Buffer {
    return this.writer.toBuffer(value);
  }

  encodeInto(value: T, buf: Buffer, pos: number): number {
    return this.writer.encode(value, buf, pos);
  }

  decode(buf: Buffer): T {
    return decodeBody<T>(this.type, this.read, buf, 0, {});
  }
}

/** Confluent-framed Avro written with one registered schema id. */
export class ConfluentEncoder<T = unknown> implements AvroEncoder<T> {
  readonly type: AvroType;
  readonly schemaId: number;

  constructor(type: AvroType, schemaId: number) {
    this.type = type;
    this.schemaId = schemaId;
    // Validates the id once, so encodeInto need not.
    writeHeader(Buffer.alloc(HEADER_LENGTH), 0, schemaId);
  }

  encode(value: T): Buffer {
    const body = this.type.toBuffer(value);
    const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
    writeHeader(out, 0, this.schemaId);
    body.copy(out, HEADER_LENGTH);
    return out;
  }

  encodeInto(value: T, buf: Buffer, pos: number): number {
    if (buf.length - pos < HEADER_LENGTH) {
      const end = this.type.encode(value, Buffer.alloc(0), 0);
      return end - (HEADER_LENGTH - (buf.length - pos));
    }
    writeHeader(buf, pos, this.schemaId);
    return this.type.encode(value, buf, pos + HEADER_LENGTH);
  }
}

/** Writer types by registry id. Filled asynchronously (registry client), read synchronously (decoders). */
export class SchemaCache {
  private readonly types = new Map<number, AvroType>();
  readonly maxEntries: number;

  constructor(maxEntries = 1000) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.types.size;
  }

  has(schemaId: number): boolean {
    return this.types.has(schemaId);
  }

  get(schemaId: number): AvroType | undefined {
    return this.types.get(schemaId);
  }

  set(schemaId: number, type: AvroType): void {
    // Ids never change meaning in a registry, so a second set with the same id is a no-op.
    if (this.types.has(schemaId)) return;
    if (this.types.size >= this.maxEntries) {
      const oldest = this.types.keys().next().value;
      if (oldest !== undefined) this.types.delete(oldest);
    }
    this.types.set(schemaId, type);
  }
}

interface ResolvedWriter {
  read: BodyRead;
  error?: VigilError;
}

/**
 * Decodes Confluent-framed Avro into the reader's type, whatever registered schema wrote it. Synchronous: a
 * record whose schema id is not in the cache fails with SCHEMA_NOT_FOUND (details.schemaId, details.cached =
 * false); callers check `missingSchemaId` first and `await registry.ensure(id)` for those.
 */
export class ConfluentDecoder<T = unknown> {
  readonly reader: AvroType;
  private readonly cache: SchemaCache;
  private readonly resolved = new Map<number, ResolvedWriter>();

  private readonly reuse: boolean;
  /** The one reading of bodies written with the reader's own schema (most ids, usually). */
  private direct: BodyRead | undefined;

  /** `reuse`: as AvroCodecOptions.reuse, for the writer schemas equal to the reader's. */
  constructor(reader: AvroType, cache: SchemaCache, options: { reuse?: boolean } = {}) {
    this.reader = reader;
    this.cache = cache;
    this.reuse = options.reuse === true;
  }

  /** The schema id a record needs fetched before it can be decoded, or undefined if none is needed. */
  missingSchemaId(buf: Buffer): number | undefined {
    const id = readSchemaId(buf);
    return this.resolved.has(id) || this.cache.has(id) ? undefined : id;
  }

  decode(buf: Buffer): T {
    const schemaId = readSchemaId(buf);
    const entry = this.resolved.get(schemaId) ?? this.resolve(schemaId);
    if (entry.error !== undefined) throw entry.error;
    return decodeBody<T>(this.reader, entry.read, buf, HEADER_LENGTH, { schemaId });
  }

  private resolve(schemaId: number): ResolvedWriter {
    const writer = this.cache.get(schemaId);
    if (writer === undefined) {
      throw new VigilError('SCHEMA_NOT_FOUND', `schema id ${schemaId} is not in the local cache`, {
        details: { schemaId, cached: false },
      });
    }
    let entry: ResolvedWriter;
    try {
      const resolver = createResolver(this.reader, writer);
      if (resolver !== undefined) entry = { read: avscRead(this.reader, resolver) };
      else {
        this.direct ??= bodyRead(this.reader, undefined, this.reuse);
        entry = { read: this.direct };
      }
    } catch (err) {
      // Remember the failure: every later record with this id would fail the same way.
      entry = { read: avscRead(this.reader, undefined), error: err as VigilError };
    }
    if (this.resolved.size >= this.cache.maxEntries) {
      const oldest = this.resolved.keys().next().value;
      if (oldest !== undefined) this.resolved.delete(oldest);
    }
    this.resolved.set(schemaId, entry);
    return entry;
  }
}
