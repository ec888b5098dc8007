import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { VigilError } from '../core/errors.js';
import { type AvroSchema, type AvroType, parseSchema } from './avro.js';
import { SchemaCache } from './codec.js';

export type Compatibility =
  | 'NONE'
  | 'BACKWARD'
  | 'BACKWARD_TRANSITIVE'
  | 'FORWARD'
  | 'FORWARD_TRANSITIVE'
  | 'FULL'
  | 'FULL_TRANSITIVE';

/** The two registry calls Vigil makes; @kafkajs/confluent-schema-registry's SchemaRegistry provides them. */
export interface RegistryBackend {
  register(
    schema: { type: typeof SchemaType.AVRO; schema: string },
    opts: { subject: string; compatibility?: unknown },
  ): Promise<{ id: number }>;
  /** An avsc type for the id (the library builds it). */
  getSchema(schemaId: number): Promise<unknown>;
}

export interface RegistryClientOptions {
  /** Base URL of a Confluent-compatible registry API, e.g. http://localhost:8081 or Apicurio's …/apis/ccompat/v7. */
  url: string;
  /** Where fetched and registered writer types go; share it with the ConfluentDecoders that read it. */
  cache?: SchemaCache;
  clientId?: string;
  auth?: { username: string; password: string };
  /** Attempts the library makes inside one call, after the first (its own backoff). Default 3. */
  retries?: number;
  /** Replaces the HTTP client (tests). */
  backend?: RegistryBackend;
}

function statusOf(err: unknown): number | undefined {
  if (err !== null && typeof err === 'object' && 'status' in err && typeof err.status === 'number')
    return err.status;
  return undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Maps a registry failure onto Vigil's codes from the HTTP status, never from message text. */
export function registryError(err: unknown, action: string, details: Record<string, unknown>): VigilError {
  if (err instanceof VigilError) return err;
  const status = statusOf(err);
  const all = { ...details, status };
  if (status === 404) {
    return new VigilError('SCHEMA_NOT_FOUND', `${action}: not found in the registry`, {
      cause: err,
      details: all,
    });
  }
  if (status === 409 || status === 422) {
    return new VigilError('SCHEMA_INVALID', `${action}: rejected by the registry (${describe(err)})`, {
      cause: err,
      details: all,
    });
  }
  // The library reports connection failures as status 400 with no response; a real 400 from the registry
  // is rare for these calls, and retrying it costs only time.
  return new VigilError('REGISTRY_UNAVAILABLE', `${action}: ${describe(err)}`, {
    cause: err,
    details: all,
    retriable: status !== 401 && status !== 403,
  });
}

/**
 * A thin wrapper over @kafkajs/confluent-schema-registry. It only talks to the registry; encoding and decoding
 * stay in codec.ts, synchronous, reading the shared SchemaCache that this client fills.
 */
export class RegistryClient {
  readonly cache: SchemaCache;
  readonly url: string;
  private readonly backend: RegistryBackend;
  private readonly inflight = new Map<number, Promise<AvroType>>();

  constructor(options: RegistryClientOptions) {
    this.url = options.url;
    this.cache = options.cache ?? new SchemaCache();
    this.backend =
      options.backend ??
      (new SchemaRegistry({
        host: options.url,
        clientId: options.clientId ?? 'vigil',
        ...(options.auth ? { auth: options.auth } : {}),
        retry: { retries: options.retries ?? 3 },
      }) as unknown as RegistryBackend);
  }

  /**
   * Registers `schema` under `subject` (TopicNameStrategy: `<topic>-value`) and returns its id; registering the
   * same schema again returns the same id. The type goes into the cache under that id.
   */
  async register(
    subject: string,
    schema: AvroSchema,
    compatibility: Compatibility = 'BACKWARD',
  ): Promise<number> {
    const type = parseSchema(schema, `schema for subject ${subject}`);
    let id: number;
    try {
      const res = await this.backend.register(
        { type: SchemaType.AVRO, schema: JSON.stringify(type.schema({ exportAttrs: true })) },
        { subject, compatibility: COMPATIBILITY[compatibility] },
      );
      id = res.id;
    } catch (err) {
      throw registryError(err, `registering a schema under subject ${subject}`, { subject, url: this.url });
    }
    this.cache.set(id, type);
    return id;
  }

  /**
   * Makes sure the writer type for `schemaId` is in the cache, fetching it once however many callers ask at the
   * same time. After this resolves, ConfluentDecoder.decode for that id is synchronous.
   */
  ensure(schemaId: number): Promise<AvroType> {
    const cached = this.cache.get(schemaId);
    if (cached !== undefined) return Promise.resolve(cached);
    let pending = this.inflight.get(schemaId);
    if (pending === undefined) {
      pending = this.fetch(schemaId).finally(() => this.inflight.delete(schemaId));
      this.inflight.set(schemaId, pending);
    }
    return pending;
  }

  /** ensure() for every id, concurrently. */
  async ensureAll(schemaIds: Iterable<number>): Promise<void> {
    await Promise.all([...new Set(schemaIds)].map((id) => this.ensure(id)));
  }

  private async fetch(schemaId: number): Promise<AvroType> {
    let found: unknown;
    try {
      found = await this.backend.getSchema(schemaId);
    } catch (err) {
      throw registryError(err, `fetching schema id ${schemaId}`, { schemaId, url: this.url });
    }
    if (!avro.Type.isType(found)) {
      throw new VigilError('SCHEMA_INVALID', `schema id ${schemaId} is not an Avro schema`, {
        details: { schemaId, url: this.url },
      });
    }
    // Rebuilt with Vigil's own options so it resolves against our reader types exactly as a file schema would.
    const type = parseSchema(
      (found as AvroType).schema({ exportAttrs: true }),
      `registry schema id ${schemaId}`,
    );
    this.cache.set(schemaId, type);
    return type;
  }
}
