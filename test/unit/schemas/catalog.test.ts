import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { parseSchema } from '../../../schemas/avro.js';
import {
  loadSchema,
  loadSchemaFile,
  SCHEMA_NAMES,
  schemaJson,
  schemaPath,
} from '../../../schemas/catalog.js';
import { OPTIONAL_SENSOR_CHANNELS, SENSOR_CHANNELS } from '../../../schemas/types.js';

type Field = { name: string; type: unknown; default?: unknown };
const fieldsOf = (name: (typeof SCHEMA_NAMES)[number]) => (schemaJson(name) as { fields: Field[] }).fields;

describe('schema catalog', () => {
  it('loads every shipped schema into a named io.vigil type', () => {
    expect(SCHEMA_NAMES.map((n) => loadSchema(n).name)).toEqual([
      'io.vigil.SensorReading',
      'io.vigil.CardTransaction',
      'io.vigil.AnomalyEvent',
      'io.vigil.DeadLetter',
      'io.vigil.IncidentEvent',
    ]);
  });

  it('builds each type once and hands back the cached one', () => {
    expect(loadSchema('sensor_reading')).toBe(loadSchema('sensor_reading'));
    expect(loadSchemaFile(schemaPath('card_transaction'))).toBe(loadSchema('card_transaction'));
  });

  it('refuses an unknown schema name with SCHEMA_INVALID', () => {
    expect(() => loadSchema('nope' as never)).toThrow(expect.objectContaining({ code: 'SCHEMA_INVALID' }));
  });

  it('reports a malformed schema as SCHEMA_INVALID naming its origin', () => {
    try {
      parseSchema({ type: 'record', name: 'X', fields: [{ name: 'a', type: 'nonsense' }] }, 'test.avsc');
      expect.unreachable();
    } catch (err) {
      expect(isVigilError(err, 'SCHEMA_INVALID')).toBe(true);
      expect((err as Error).message).toContain('test.avsc');
    }
  });

  it('SensorReading has exactly the 30 channels SENSOR_CHANNELS lists, as doubles, optional ones nullable', () => {
    const fields = fieldsOf('sensor_reading');
    const numeric = fields.filter(
      (f) => f.type === 'double' || JSON.stringify(f.type) === '["null","double"]',
    );
    expect(numeric.map((f) => f.name)).toEqual([...SENSOR_CHANNELS]);
    expect(numeric).toHaveLength(30);
    const optional = numeric.filter((f) => Array.isArray(f.type)).map((f) => f.name);
    expect(optional).toEqual([...OPTIONAL_SENSOR_CHANNELS]);
    for (const f of numeric.filter((f) => Array.isArray(f.type))) expect(f.default).toBeNull();
  });

  it('timestamps are timestamp-millis longs, so they decode as plain numbers', () => {
    const ts = (name: (typeof SCHEMA_NAMES)[number], field: string) =>
      fieldsOf(name).find((f) => f.name === field)?.type;
    const millis = { type: 'long', logicalType: 'timestamp-millis' };
    expect(ts('sensor_reading', 'event_time')).toEqual(millis);
    expect(ts('card_transaction', 'event_time')).toEqual(millis);
    expect(ts('anomaly_event', 'detected_at')).toEqual(millis);
    expect(ts('dead_letter', 'failed_at')).toEqual(millis);
    for (const f of ['start', 'end', 'opened_at', 'updated_at'])
      expect(ts('incident_event', f)).toEqual(millis);
    const type = loadSchema('dead_letter');
    const value = {
      reason_code: 'DECODE_FAILED',
      reason_message: 'bad magic byte',
      stage: 'decode',
      source_topic: 't',
      source_partition: 2,
      source_offset: 2 ** 40,
      source_timestamp: 1_700_000_000_000,
      original_key: Buffer.from('k'),
      original_value: Buffer.from([1, 2, 3]),
      failed_at: 1_700_000_000_123,
      details: { schemaId: '7' },
    };
    expect(type.fromBuffer(type.toBuffer(value))).toEqual(value);
  });

  it('every AnomalyEvent field added after the first version can default (map attributes defaults to {})', () => {
    const attributes = fieldsOf('anomaly_event').find((f) => f.name === 'attributes');
    expect(attributes?.default).toEqual({});
    // A reader that knows a later field (with a default) still reads today's events.
    const v1 = loadSchema('anomaly_event');
    const later = avro.Type.forSchema({
      ...(schemaJson('anomaly_event') as object),
      fields: [
        ...fieldsOf('anomaly_event'),
        { name: 'incident_id', type: ['null', 'string'], default: null },
      ],
    } as never);
    const event = {
      event_id: 'e1',
      source: { topic: 'sensors', partition: 0, offset: 42 },
      key: Buffer.from('pump-00001'),
      event_time: 1,
      entity: 'pump-00001',
      score: 3.5,
      threshold: 1.2,
      severity: 0.97,
      contributions: [{ feature: 'temp_ambient_c', contribution: 0.8, value: 40, expected: 12 }],
      model: { id: 'sensor-dense', version: '3' },
      detected_at: 2,
      attributes: {},
    };
    const decoded = later.fromBuffer(v1.toBuffer(event), later.createResolver(v1));
    expect(decoded.incident_id).toBeNull();
    expect(decoded.score).toBe(3.5);
  });
});
