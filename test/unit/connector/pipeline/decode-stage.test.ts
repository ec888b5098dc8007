import { describe, expect, it } from 'vitest';
import { confluentDecoder } from '../../../../connector/pipeline/decode-stage.js';
import { VigilError } from '../../../../core/errors.js';
import { loadSchema } from '../../../../schemas/catalog.js';
import { SchemaCache } from '../../../../schemas/codec.js';

/** Confluent frame: magic 0, a 4-byte schema id, a body that is never read. */
const framed = (id: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32BE(id, 1);
  return b;
};

/** A registry that knows no id, counting lookups, as RegistryClient.ensure answers for an unknown id. */
function emptyRegistry() {
  const asked: number[] = [];
  return {
    asked,
    ensure: async (id: number) => {
      asked.push(id);
      throw new VigilError('SCHEMA_NOT_FOUND', `fetching schema id ${id}: not found in the registry`);
    },
  };
}

describe('confluentDecoder negative cache', () => {
  it('remembers unknown ids (one lookup for a stream of them), at most negativeCacheLimit of them', async () => {
    const registry = emptyRegistry();
    const decoder = confluentDecoder(loadSchema('sensor_reading'), new SchemaCache(), registry as never, {
      negativeCacheLimit: 10,
    });
    await decoder.prepare([framed(7), framed(7), framed(7)]);
    await decoder.prepare([framed(7)]);
    expect(registry.asked).toEqual([7]);
    expect(() => decoder.decode(framed(7))).toThrow(expect.objectContaining({ code: 'SCHEMA_NOT_FOUND' }));

    // Random ids, as fuzzed records carry: each is looked up once while remembered, and the oldest are forgotten.
    const random = Array.from({ length: 50 }, (_, i) => 1000 + i);
    await decoder.prepare(random.map(framed));
    registry.asked.length = 0;
    await decoder.prepare(random.slice(-10).map(framed));
    expect(registry.asked).toEqual([]); // the ten most recent are still remembered
    await decoder.prepare([framed(7), framed(1000)]);
    expect(registry.asked).toEqual([7, 1000]); // forgotten: asked again, and still refused
    for (const id of [7, 1000, 1049]) {
      expect(() => decoder.decode(framed(id))).toThrow(expect.objectContaining({ code: 'SCHEMA_NOT_FOUND' }));
    }
  });
});
