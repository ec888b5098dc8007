import avro from 'avsc';
import { describe, expect, it, vi } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { schemaJson } from '../../../schemas/catalog.js';
import { ConfluentDecoder, ConfluentEncoder, SchemaCache } from '../../../schemas/codec.js';
import { type RegistryBackend, RegistryClient, registryError } from '../../../schemas/registry-client.js';

function fakeBackend() {
  const byId = new Map<number, string>();
  const backend = {
    register: vi.fn(async (schema: { schema: string }, _opts: { subject: string }) => {
      for (const [id, text] of byId) if (text === schema.schema) return { id };
      const id = byId.size + 100;
      byId.set(id, schema.schema);
      return { id };
    }),
    getSchema: vi.fn(async (id: number) => {
      await new Promise((r) => setTimeout(r, 5));
      const text = byId.get(id);
      if (text === undefined) throw Object.assign(new Error('Schema not found'), { status: 404 });
      return avro.Type.forSchema(JSON.parse(text));
    }),
  };
  return { backend: backend as typeof backend & RegistryBackend, byId };
}

const httpError = (status: number) => Object.assign(new Error(`status ${status}`), { status });

describe('RegistryClient', () => {
  it('register returns the id and caches the type under it, so encode/decode need no further call', async () => {
    const { backend } = fakeBackend();
    const client = new RegistryClient({ url: 'http://registry', backend });
    const id = await client.register('sensors-value', schemaJson('sensor_reading'));
    expect(backend.register.mock.calls[0]![1]).toMatchObject({ subject: 'sensors-value' });
    expect(client.cache.has(id)).toBe(true);
    expect(await client.register('sensors-value', schemaJson('sensor_reading'))).toBe(id);
  });

  it('ensure fetches an unknown id once however many callers ask at the same time, then decode is sync', async () => {
    const { backend } = fakeBackend();
    const producerSide = new RegistryClient({ url: 'http://registry', backend });
    const id = await producerSide.register('tx-value', schemaJson('card_transaction'));
    const cache = new SchemaCache();
    const consumerSide = new RegistryClient({ url: 'http://registry', backend, cache });
    const types = await Promise.all([
      consumerSide.ensure(id),
      consumerSide.ensure(id),
      consumerSide.ensure(id),
    ]);
    expect(backend.getSchema).toHaveBeenCalledTimes(1);
    expect(types[0]).toBe(types[2]);
    await consumerSide.ensure(id);
    expect(backend.getSchema).toHaveBeenCalledTimes(1);

    const writerType = producerSide.cache.get(id)!;
    const tx = {
      transaction_id: 't1',
      card_id: 'c1',
      merchant_id: 'm1',
      amount: 12.5,
      currency: 'EUR',
      merchant_category: '5411',
      location: null,
      channel: 'ECOM',
      event_time: 1,
    };
    const framed = new ConfluentEncoder(writerType, id).encode(tx);
    const decoder = new ConfluentDecoder(types[0]!, cache);
    expect(decoder.decode(framed)).toEqual(tx);
  });

  it('an id the registry does not know is SCHEMA_NOT_FOUND, and a later call tries again', async () => {
    const { backend } = fakeBackend();
    const client = new RegistryClient({ url: 'http://registry', backend });
    await expect(client.ensure(5)).rejects.toMatchObject({
      code: 'SCHEMA_NOT_FOUND',
      details: { schemaId: 5 },
    });
    await expect(client.ensure(5)).rejects.toMatchObject({ code: 'SCHEMA_NOT_FOUND' });
    expect(backend.getSchema).toHaveBeenCalledTimes(2);
  });

  it('maps HTTP failures onto codes by status, never by message', () => {
    expect(registryError(httpError(404), 'x', {}).code).toBe('SCHEMA_NOT_FOUND');
    expect(registryError(httpError(409), 'x', {}).code).toBe('SCHEMA_INVALID');
    expect(registryError(httpError(422), 'x', {}).code).toBe('SCHEMA_INVALID');
    const down = registryError(httpError(503), 'x', {});
    expect([down.code, down.retriable]).toEqual(['REGISTRY_UNAVAILABLE', true]);
    const refused = registryError(new Error('connect ECONNREFUSED'), 'x', {});
    expect([refused.code, refused.retriable]).toEqual(['REGISTRY_UNAVAILABLE', true]);
    const denied = registryError(httpError(401), 'x', {});
    expect([denied.code, denied.retriable]).toEqual(['REGISTRY_UNAVAILABLE', false]);
  });

  it('a registry that cannot be reached fails register with a retriable REGISTRY_UNAVAILABLE', async () => {
    const client = new RegistryClient({
      url: 'http://registry',
      backend: {
        register: async () => {
          throw httpError(503);
        },
        getSchema: async () => undefined,
      },
    });
    const err = await client.register('s', schemaJson('sensor_reading')).catch((e: unknown) => e);
    expect(isVigilError(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(true);
  });

  it('a schema the registry returns that is not Avro is SCHEMA_INVALID', async () => {
    const client = new RegistryClient({
      url: 'http://registry',
      backend: { register: async () => ({ id: 1 }), getSchema: async () => ({ not: 'a type' }) },
    });
    await expect(client.ensure(1)).rejects.toMatchObject({ code: 'SCHEMA_INVALID' });
  });
});
