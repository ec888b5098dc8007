import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VigilError } from '../core/errors.js';
import { type AvroSchema, type AvroType, parseSchema } from './avro.js';

/** The schemas Vigil ships, by file stem (`schemas/<name>.avsc`). */
export const SCHEMA_NAMES = [
  'sensor_reading',
  'card_transaction',
  'anomaly_event',
  'dead_letter',
  'incident_event',
] as const;
export type SchemaName = (typeof SCHEMA_NAMES)[number];

const here = dirname(fileURLToPath(import.meta.url));
// From source the .avsc files sit beside this module; from a build (dist/schemas/) they stay in the
// package's schemas/ folder, two levels up.
const SEARCH_DIRS = [here, resolve(here, '../../schemas')];

const typeByPath = new Map<string, AvroType>();

/** Absolute path of a shipped schema file. */
export function schemaPath(name: SchemaName): string {
  if (!SCHEMA_NAMES.includes(name)) {
    throw new VigilError('SCHEMA_INVALID', `unknown schema name "${name}"`, {
      details: { name, allowed: SCHEMA_NAMES.join(', ') },
    });
  }
  for (const dir of SEARCH_DIRS) {
    const path = resolve(dir, `${name}.avsc`);
    if (existsSync(path)) return path;
  }
  throw new VigilError('SCHEMA_INVALID', `schema file ${name}.avsc not found`, {
    details: { name, searched: SEARCH_DIRS.join(', ') },
  });
}

/** The parsed JSON of a schema file (a fresh copy each call; callers may change it). */
export function readSchemaFile(path: string): AvroSchema {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new VigilError('SCHEMA_INVALID', `cannot read schema file ${path}`, { cause, details: { path } });
  }
  try {
    return JSON.parse(text) as AvroSchema;
  } catch (cause) {
    throw new VigilError('SCHEMA_INVALID', `schema file ${path} is not valid JSON`, {
      cause,
      details: { path },
    });
  }
}

/** An avsc type for any `.avsc` file, built once per absolute path. */
export function loadSchemaFile(path: string): AvroType {
  const abs = resolve(path);
  let type = typeByPath.get(abs);
  if (type === undefined) {
    type = parseSchema(readSchemaFile(abs), abs);
    typeByPath.set(abs, type);
  }
  return type;
}

/** An avsc type for a shipped schema, built once. */
export function loadSchema(name: SchemaName): AvroType {
  return loadSchemaFile(schemaPath(name));
}

/** The JSON of a shipped schema, e.g. to register it. */
export function schemaJson(name: SchemaName): AvroSchema {
  return readSchemaFile(schemaPath(name));
}
