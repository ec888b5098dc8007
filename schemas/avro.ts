import avro from 'avsc';
import { VigilError } from '../core/errors.js';

export type AvroType = avro.Type;
export type AvroResolver = ReturnType<avro.Type['createResolver']>;
/** An Avro schema as parsed JSON (or an already-built type). */
export type AvroSchema = Parameters<typeof avro.Type.forSchema>[0];

/**
 * The one set of avsc options every Vigil type is built with, so a type from a file and a type from the
 * registry decode the same bytes to the same values. No logical-type implementations are registered on
 * purpose: `timestamp-millis` stays a plain number of milliseconds, which is what the hot path wants (no Date
 * per record). Unions of null and one type decode unwrapped (`null | T`).
 */
export const AVRO_TYPE_OPTIONS = Object.freeze({ wrapUnions: 'auto' as const });

/** Builds an avsc type; a schema that does not parse is a SCHEMA_INVALID error naming where it came from. */
export function parseSchema(schema: AvroSchema | string, origin = 'inline schema'): AvroType {
  let json: AvroSchema;
  try {
    json = typeof schema === 'string' ? (JSON.parse(schema) as AvroSchema) : schema;
  } catch (cause) {
    throw new VigilError('SCHEMA_INVALID', `${origin} is not valid JSON`, { cause, details: { origin } });
  }
  try {
    return avro.Type.forSchema(json, { ...AVRO_TYPE_OPTIONS });
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new VigilError('SCHEMA_INVALID', `${origin} is not a valid Avro schema: ${reason}`, {
      cause,
      details: { origin },
    });
  }
}
