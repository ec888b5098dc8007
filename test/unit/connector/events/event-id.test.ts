import { describe, expect, it } from 'vitest';
import { anomalyEventId, uuidV5, VIGIL_EVENT_NAMESPACE } from '../../../../connector/events/event-id.js';

const DNS = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

describe('uuidV5', () => {
  it('matches RFC 9562 / Python uuid.uuid5 vectors', () => {
    expect(uuidV5('www.example.com', DNS)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
    expect(uuidV5('python.org', DNS)).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('refuses a namespace that is not a UUID', () => {
    expect(() => uuidV5('x', 'not-a-uuid')).toThrow(TypeError);
  });
});

describe('anomalyEventId', () => {
  const parts = {
    topic: 'sensor-readings',
    partition: 3,
    offset: 12345,
    modelId: 'sensor-dense',
    modelVersion: '7',
  };

  it('is the documented UUIDv5, reproducible elsewhere', () => {
    // Python: uuid.uuid5(UUID(VIGIL_EVENT_NAMESPACE), json.dumps([...], separators=(',', ':'), ensure_ascii=False))
    expect(VIGIL_EVENT_NAMESPACE).toBe('4a2669f7-92c0-4770-bed3-add540f12b70');
    expect(anomalyEventId(parts)).toBe('176a1d24-b53e-54dd-97c4-b0f9abc0f69c');
    expect(
      anomalyEventId({ topic: 'tópico', partition: 0, offset: 0, modelId: 'm', modelVersion: '1' }),
    ).toBe('5260c574-4da1-51ca-9ddb-f9629217ba8b');
  });

  it('is the same on replay and differs for any other record or model', () => {
    const id = anomalyEventId(parts);
    expect(anomalyEventId({ ...parts })).toBe(id);
    const others = [
      { ...parts, topic: 'other' },
      { ...parts, partition: 4 },
      { ...parts, offset: 12346 },
      { ...parts, modelId: 'card-dense' },
      { ...parts, modelVersion: '8' },
      // Values that a separator-joined name would confuse.
      { ...parts, topic: 'sensor-readings/3', partition: 3 },
    ];
    const ids = new Set(others.map(anomalyEventId));
    expect(ids.size).toBe(others.length);
    expect(ids.has(id)).toBe(false);
  });
});
