import { loadSchema, type SchemaName, schemaJson } from '../../schemas/catalog.js';
import { ConfluentEncoder } from '../../schemas/codec.js';
import type { RegistryClient } from '../../schemas/registry-client.js';
import type { AnomalyEvent, DeadLetter, IncidentEvent } from '../../schemas/types.js';

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
  /** schemas/incident_event.avsc; the Confluent codec registers it only when given an incidents topic. */
  incident(event: IncidentEvent): Buffer;
  /** Reads back what `incident` wrote (incident recovery, connector/incidents/recovery.ts). */
  decodeIncident(value: Buffer): IncidentEvent;
}

export function jsonOutputCodec(): OutputCodec {
  return {
    format: 'json',
    anomaly: (event) => Buffer.from(JSON.stringify(event, jsonReplacer)),
    deadLetter: (letter) => Buffer.from(JSON.stringify(letter, jsonReplacer)),
    incident: (event) => Buffer.from(JSON.stringify(event)),
    decodeIncident: (value) => JSON.parse(value.toString('utf8')) as IncidentEvent,
  };
}

export function plainAvroOutputCodec(): OutputCodec {
  const anomalyType = loadSchema('anomaly_event');
  const deadLetterType = loadSchema('dead_letter');
  const incidentType = loadSchema('incident_event');
  return {
    format: 'avro',
    anomaly: (event) => anomalyType.toBuffer(event),
    deadLetter: (letter) => deadLetterType.toBuffer(letter),
    incident: (event) => incidentType.toBuffer(event),
    decodeIncident: (value) => incidentType.fromBuffer(value) as IncidentEvent,
  };
}

export async function confluentOutputCodec(
  registry: Pick<RegistryClient, 'register'>,
  topics: { anomalies: string; deadLetters: string; incidents?: string },
): Promise<OutputCodec> {
  const anomaly = await encoderFor(registry, `${topics.anomalies}-value`, 'anomaly_event');
  const dead = await encoderFor(registry, `${topics.deadLetters}-value`, 'dead_letter');
  const incident =
    topics.incidents === undefined
      ? undefined
      : await encoderFor(registry, `${topics.incidents}-value`, 'incident_event');
  const incidentType = loadSchema('incident_event');
  return {
    format: 'confluent',
    anomaly: (event) => anomaly.encode(event),
    deadLetter: (letter) => dead.encode(letter),
    incident: (event) => {
      if (incident === undefined)
        throw new Error('confluent output codec: no incidents topic was registered');
      return incident.encode(event);
    },
    // Framed: magic byte and a 4-byte schema id, then the Avro body, read with the shipped schema: the one this
    // Vigil writes. Events another schema version wrote would need that writer schema from the registry; one
    // that fails to decode is skipped by recovery (logged), not fatal.
    decodeIncident: (value) => {
      if (value.length < 5 || value[0] !== 0) throw new Error('not Confluent wire format');
      return incidentType.fromBuffer(value.subarray(5)) as IncidentEvent;
    },
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
