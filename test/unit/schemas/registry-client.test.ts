import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import avro from 'avsc';
import { describe, expect, it, vi } from 'vitest';
import { isVigilError } from '../../../core/errors.js';
import { schemaJson } from '../../../schemas/catalog.js';
import { ConfluentDecoder, ConfluentEncoder, SchemaCache } from '../../../schemas/codec.js';
import { type RegistryBackend, RegistryClient, registryError } from '../../../schemas/registry-client.js';

/** An in-memory registry: ids by schema text, versions by subject, a 409 for subjects marked incompatible. */
function fakeBackend(opts: { incompatible?: ReadonlySet<string>; levels?: Record<string, string> } = {}) {
  const byId = new Map<number, string>();
  const subjects = new Map<string, number[]>();
  const idFor = (text: string) => {
    for (const [id, t] of byId) if (t === text) return id;
    const id = byId.size + 100;
    byId.set(id, text);
    return id;
  };
  const backend = {
    lookup: vi.fn(async (subject: string, schema: string) => {
      const id = (subjects.get(subject) ?? []).find((i) => byId.get(i) === schema);
      if (id === undefined) throw httpError(404);
      return id;
    }),
    register: vi.fn(async (subject: string, schema: string) => {
      if (opts.incompatible?.has(subject)) throw httpError(409);
      const id = idFor(schema);
      const versions = subjects.get(subject) ?? [];
      if (!versions.includes(id)) versions.push(id);
      subjects.set(subject, versions);
      return id;
    }),
    version: vi.fn(async (subject: string, version: number | 'latest') => {
      const ids = subjects.get(subject) ?? [];
      const n = version === 'latest' ? ids.length : version;
      const id = ids[n - 1];
      if (id === undefined) throw httpError(404);
      return { version: n, id, schema: byId.get(id)! };
    }),
    compatibility: vi.fn(async (subject: string) => opts.levels?.[subject]),
    getSchema: vi.fn(async (id: number) => {
      await new Promise((r) => setTimeout(r, 5));
      const text = byId.get(id);
      if (text === undefined) throw Object.assign(new Error('Schema not found'), { status: 404 });
      return avro.Type.forSchema(JSON.parse(text));
    }),
  };
  return { backend: backend satisfies RegistryBackend, byId, subjects };
}

const httpError = (status: number) => Object.assign(new Error(`status ${status}`), { status });

describe('RegistryClient', () => {
  it('register returns the id and caches the type under it, so encode/decode need no further call', async () => {
    const { backend } = fakeBackend();
    const client = new RegistryClient({ url: 'http://registry', backend });
    const id = await client.register('sensors-value', schemaJson('sensor_reading'));
    expect(backend.register.mock.calls[0]![0]).toBe('sensors-value');
    expect(client.cache.has(id)).toBe(true);
    expect(await client.register('sensors-value', schemaJson('sensor_reading'))).toBe(id);
    // The second call found the version by lookup and registered nothing.
    expect(backend.register).toHaveBeenCalledTimes(1);
  });

  it('uses the version another client registered in the subject first, without registering or reconfiguring', async () => {
    const { backend } = fakeBackend();
    const other = new RegistryClient({ url: 'http://registry', backend });
    const theirs = await other.register('vigil.anomalies-value', schemaJson('anomaly_event'));
    backend.register.mockClear();
    const ours = new RegistryClient({ url: 'http://registry', backend });
    expect(await ours.register('vigil.anomalies-value', schemaJson('anomaly_event'))).toBe(theirs);
    expect(backend.register).not.toHaveBeenCalled();
    expect(backend.compatibility).not.toHaveBeenCalled();
  });

  it('finds the same schema written differently by another client among the versions, registering nothing', async () => {
    const { backend, byId, subjects } = fakeBackend();
    // Another client's text for the same schema: pretty-printed, so the registry's text lookup misses it.
    byId.set(7, JSON.stringify(schemaJson('dead_letter'), null, 2));
    byId.set(8, JSON.stringify({ type: 'record', name: 'Other', fields: [] }));
    subjects.set('dlq-value', [7, 8]);
    const client = new RegistryClient({ url: 'http://registry', backend });
    expect(await client.register('dlq-value', schemaJson('dead_letter'))).toBe(7);
    expect(backend.lookup).toHaveBeenCalledTimes(1);
    expect(backend.register).not.toHaveBeenCalled();
  });

  it('adds a version to a subject that holds others when the registry accepts it', async () => {
    const { backend, subjects } = fakeBackend();
    const client = new RegistryClient({ url: 'http://registry', backend });
    await client.register('s-value', schemaJson('sensor_reading'));
    const id = await client.register('s-value', schemaJson('anomaly_event'));
    expect(subjects.get('s-value')).toHaveLength(2);
    expect(subjects.get('s-value')![1]).toBe(id);
  });

  it('a subject whose rule refuses the schema is SCHEMA_INCOMPATIBLE, naming the subject and its rule', async () => {
    const { backend } = fakeBackend({
      incompatible: new Set(['out-value']),
      levels: { 'out-value': 'FULL_TRANSITIVE' },
    });
    const client = new RegistryClient({ url: 'http://registry', backend });
    const err = await client.register('out-value', schemaJson('anomaly_event')).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'SCHEMA_INCOMPATIBLE',
      retriable: false,
      details: { subject: 'out-value', compatibility: 'FULL_TRANSITIVE' },
    });
    expect((err as Error).message).toMatch(/subject out-value .* FULL_TRANSITIVE compatibility rule/);
    expect((err as Error).message).not.toMatch(/REGISTRY_UNAVAILABLE/);
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
        lookup: async () => {
          throw httpError(503);
        },
        register: async () => 1,
        version: async () => {
          throw httpError(404);
        },
        compatibility: async () => undefined,
        getSchema: async () => undefined,
      },
    });
    const err = await client.register('s', schemaJson('sensor_reading')).catch((e: unknown) => e);
    expect(isVigilError(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
    expect((err as { retriable: boolean }).retriable).toBe(true);
  });

  it('a registry that accepts the connection but never answers fails after timeoutMs, not never', async () => {
    const silent = createServer(() => {}); // reads the request, never responds
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const { port } = silent.address() as AddressInfo;
      const client = new RegistryClient({ url: `http://127.0.0.1:${port}`, timeoutMs: 200, retries: 0 });
      const err = await client.ensure(1).catch((e: unknown) => e);
      expect(isVigilError(err, 'REGISTRY_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toMatch(/timeout/i);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a schema the registry returns that is not Avro is SCHEMA_INVALID', async () => {
    const client = new RegistryClient({
      url: 'http://registry',
      backend: {
        lookup: async () => 1,
        register: async () => 1,
        version: async () => {
          throw httpError(404);
        },
        compatibility: async () => undefined,
        getSchema: async () => ({ not: 'a type' }),
      },
    });
    await expect(client.ensure(1)).rejects.toMatchObject({ code: 'SCHEMA_INVALID' });
  });
});
