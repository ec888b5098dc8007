import { loadSchema, type SchemaName, schemaJson } from '../../schemas/catalog.js';
import { ConfluentEncoder } from '../../schemas/codec.js';
import type { RegistryClient } from '../../schemas/registry-client.js';
import type { AnomalyEvent, DeadLetter } from '../../schemas/types.js';

/**
 * How Vigil's own outputs are written. Avro is the default: plain Avro bodies (schemas/anomaly_event.avsc,
 * schemas/dead_letter.avsc) when the input is plain Avro, and the Confluent wire format with the schemas
 * registered under `<topic>-value` when the input comes through a registry, so any registry-aware consumer
 * (Python's AvroDeserializer, ksqlDB, Connect) reads them without configuration. JSON is offered for people
 * who want to `kcat` the topic and read it.
 */
export interface OutputCodec {
  readonly format: 'avro' | 'confluent' | 'json';
  anomaly(event: AnomalyEvent): Buffer;
  deadLetter(letter: DeadLetter): Buffer;
}

export function jsonOutputCodec(): OutputCodec {
  return {
    format: 'json',
    anomaly: (event) => Buffer.from(JSON.stringify(event, jsonReplacer)),
    deadLetter: (letter) => Buffer.from(JSON.stringify(letter, jsonReplacer)),
  };
}

export function plainAvroOutputCodec(): OutputCodec {
  const anomalyType = loadSchema('anomaly_event');
  const deadLetterType = loadSchema('dead_letter');
  return {
    format: 'avro',
    anomaly: (event) => anomalyType.toBuffer(event),
    deadLetter: (letter) => deadLetterType.toBuffer(letter),
  };
}

export async function confluentOutputCodec(
  registry: Pick<RegistryClient, 'register'>,
  topics: { anomalies: string; deadLetters: string },
): Promise<OutputCodec> {
  const anomaly = await encoderFor(registry, `${topics.anomalies}-value`, 'anomaly_event');
  const dead = await encoderFor(registry, `${topics.deadLetters}-value`, 'dead_letter');
  return {
    format: 'confluent',
    anomaly: (event) => anomaly.encode(event),
    deadLetter: (letter) => dead.encode(letter),
  };
}

async function encoderFor(
  registry: Pick<RegistryClient, 'register'>,
  subject: string,
  name: SchemaName,
): Promise<ConfluentEncoder> {
  const id = await registry.register(subject, schemaJson(name));
  return new ConfluentEncoder(loadSchema(name), id);
}

/** Bytes as base64 and bigints as numbers, so JSON outputs stay plain JSON. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  if (typeof value === 'bigint') return Number(value);
  return value;
}
