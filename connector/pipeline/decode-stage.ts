import { VigilError } from '../../core/errors.js';
import { LruMap } from '../../core/lru-map.js';
import type { AvroType } from '../../schemas/avro.js';
import { AvroCodec, ConfluentDecoder, type SchemaCache } from '../../schemas/codec.js';
import type { RegistryClient } from '../../schemas/registry-client.js';

/**
 * The decode stage: record value bytes → decoded Avro value, synchronously. The one asynchronous step — fetching
 * a writer schema the first time its id is seen — happens before a batch is decoded (`prepare`), so the hot loop
 * never awaits.
 */
export interface RecordDecoder {
  /** Fetches whatever the values need before `decode` can run synchronously (unknown schema ids). */
  prepare(values: readonly (Buffer | null)[]): Promise<void>;
  /**
   * Throws a VigilError (DECODE_FAILED, SCHEMA_NOT_FOUND, SCHEMA_INVALID) when the bytes cannot be decoded. A
   * decoder made with `reuse` may return the same object again: the value is good until the next call.
   */
  decode(value: Buffer): unknown;
}

/**
 * Options of both decoders. `reuse`: decode every record into the same object where the schema allows it
 * (schemas/reusing-reader.ts), so a decoded value is valid only until the next `decode`: for the pipeline, which
 * extracts the features of each value before decoding the next.
 */
export interface DecoderOptions {
  reuse?: boolean;
}

/** Plain Avro bodies, all written with one schema known from configuration. */
export function plainAvroDecoder(
  reader: AvroType,
  writer?: AvroType,
  options: DecoderOptions = {},
): RecordDecoder {
  const codec = new AvroCodec(reader, {
    ...(writer === undefined ? {} : { writer }),
    reuse: options.reuse === true,
  });
  return {
    prepare: async () => {},
    decode: (value) => codec.decode(value),
  };
}

/**
 * Confluent wire format. Schema ids the registry does not know are remembered as failures for a while, so a
 * stream of records with a bogus id goes to the dead-letter topic without a registry round trip each. At most
 * `negativeCacheLimit` ids are remembered (the least recently seen are forgotten first): records carrying random
 * ids must not grow memory without bound. A forgotten id costs one more lookup, and its records still decode to
 * SCHEMA_NOT_FOUND, since the writer cache does not hold it either.
 */
export function confluentDecoder(
  reader: AvroType,
  cache: SchemaCache,
  registry: Pick<RegistryClient, 'ensure'>,
  options: DecoderOptions & {
    negativeCacheMs?: number;
    negativeCacheLimit?: number;
    now?: () => number;
  } = {},
): RecordDecoder {
  const decoder = new ConfluentDecoder(reader, cache, { reuse: options.reuse === true });
  const unknownUntil = new LruMap<number, { until: number; error: VigilError }>(
    options.negativeCacheLimit ?? 10_000,
  );
  const ttl = options.negativeCacheMs ?? 60_000;
  const now = options.now ?? Date.now;

  return {
    async prepare(values) {
      const missing = new Set<number>();
      for (const v of values) {
        if (v === null || v.length < 5 || v[0] !== 0) continue;
        const id = decoder.missingSchemaId(v);
        if (id === undefined) continue;
        const known = unknownUntil.get(id);
        if (known !== undefined && known.until > now()) continue;
        missing.add(id);
      }
      for (const id of missing) {
        try {
          await registry.ensure(id);
          unknownUntil.delete(id);
        } catch (err) {
          // Only a definite "no such id" is cached; an unreachable registry is retried by the caller.
          if (err instanceof VigilError && err.code === 'SCHEMA_NOT_FOUND') {
            unknownUntil.set(id, { until: now() + ttl, error: err });
          } else throw err;
        }
      }
    },
    decode(value) {
      if (value.length >= 5 && value[0] === 0) {
        const id = value.readUInt32BE(1);
        const known = unknownUntil.get(id);
        if (known !== undefined) {
          throw new VigilError('SCHEMA_NOT_FOUND', `schema id ${id} is unknown to the registry`, {
            details: { schemaId: id },
          });
        }
      }
      return decoder.decode(value);
    },
  };
}
