import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { VigilError } from '../core/errors.js';
import { type AvroSchema, type AvroType, parseSchema } from './avro.js';
import { SchemaCache } from './codec.js';

/**
 * The registry calls Vigil makes. None of them changes a subject's configuration: a subject registered first
 * by another client (with its own compatibility rule) is used as it is, never reconfigured.
 */
export interface RegistryBackend {
  /** The id of `schema` (Avro JSON) as a version of `subject` (POST /subjects/{subject}); status 404 when absent. */
  lookup(subject: string, schema: string): Promise<number>;
  /** Registers `schema` as a new version of `subject` (POST /subjects/{subject}/versions); 409 when incompatible. */
  register(subject: string, schema: string): Promise<number>;
  /**
   * Version `version` of `subject` (GET /subjects/{subject}/versions/{version}, `latest` allowed): its number,
   * id and schema text; status 404 when there is none.
   */
  version(
    subject: string,
    version: number | 'latest',
  ): Promise<{ version: number; id: number; schema: string }>;
  /** The subject's compatibility level (GET /config/{subject}), undefined when it has none of its own. */
  compatibility(subject: string): Promise<string | undefined>;
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
  /** Longest one HTTP request may take before it fails (and is retried). Default 10 000 ms. */
  timeoutMs?: number;
  /** Replaces the HTTP client (tests). */
  backend?: RegistryBackend;
}

/** The mappersmith resources of @kafkajs/confluent-schema-registry 3.x that `SchemaRegistry.register` would use. */
interface ApiResponse {
  data(): Record<string, unknown>;
}
interface SubjectApi {
  registered(req: { subject: string; body: { schema: string } }): Promise<ApiResponse>;
  register(req: { subject: string; body: { schema: string } }): Promise<ApiResponse>;
  version(req: { subject: string; version: number | 'latest' }): Promise<ApiResponse>;
  config(req: { subject: string }): Promise<ApiResponse>;
}

/**
 * A mappersmith middleware giving every request a timeout (mappersmith/middleware/timeout, written out here so
 * Vigil does not import a transitive dependency).
 */
function timeoutMiddleware(ms: number) {
  return () => ({
    async prepareRequest(
      next: () => Promise<{ timeout(): number | undefined; enhance(o: { timeout: number }): unknown }>,
    ) {
      const request = await next();
      return request.timeout() ? request : request.enhance({ timeout: ms });
    },
  });
}

/**
 * The library's `register` first compares the subject's compatibility with the one it is given and throws
 * when they differ (`Compatibility does not match the configuration (BACKWARD != NONE)`), then sets it on a new
 * subject. Neither is Vigil's business, so the lookup and registration go straight to its HTTP resources; its
 * retry, basic auth and error mapping (errors carry `status`) still apply.
 */
function libraryBackend(options: RegistryClientOptions): RegistryBackend {
  const registry = new SchemaRegistry({
    host: options.url,
    clientId: options.clientId ?? 'vigil',
    ...(options.auth ? { auth: options.auth } : {}),
    retry: { retries: options.retries ?? 3 },
    middlewares: [timeoutMiddleware(options.timeoutMs ?? 10_000) as never],
  });
  const subjects = (registry as unknown as { api: { Subject: SubjectApi } }).api.Subject;
  const idOf = (res: ApiResponse, action: string): number => {
    const id = res.data().id;
    if (typeof id !== 'number') throw new Error(`${action}: the registry answered without an id`);
    return id;
  };
  return {
    lookup: async (subject, schema) =>
      idOf(await subjects.registered({ subject, body: { schema } }), 'lookup'),
    register: async (subject, schema) =>
      idOf(await subjects.register({ subject, body: { schema } }), 'register'),
    async version(subject, version) {
      const res = await subjects.version({ subject, version });
      const d = res.data();
      if (typeof d.version !== 'number' || typeof d.schema !== 'string')
        throw new Error(`version ${version} of ${subject}: the registry answered without a schema`);
      return { version: d.version, id: idOf(res, 'version'), schema: d.schema };
    },
    async compatibility(subject) {
      try {
        const level = (await subjects.config({ subject })).data().compatibilityLevel;
        return typeof level === 'string' ? level.toUpperCase() : undefined;
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    getSchema: (id) => registry.getSchema(id),
  };
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

/** How many of a subject's latest versions are compared with Vigil's schema before it registers its own. */
const MAX_VERSIONS_COMPARED = 20;

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
    this.backend = options.backend ?? libraryBackend(options);
  }

  /**
   * The id of `schema` under `subject` (TopicNameStrategy: `<topic>-value`): the existing version when the
   * subject already holds it, whoever registered it; otherwise a new version, which the registry accepts only if
   * the subject's own compatibility rule allows it. The subject's configuration is never changed. A refusal is
   * SCHEMA_INCOMPATIBLE, naming the subject and its rule. The type goes into the cache under the id.
   */
  async register(subject: string, schema: AvroSchema): Promise<number> {
    const type = parseSchema(schema, `schema for subject ${subject}`);
    const text = JSON.stringify(type.schema({ exportAttrs: true }));
    const details = { subject, url: this.url };
    let id: number | undefined;
    try {
      id = await this.backend.lookup(subject, text);
    } catch (err) {
      // 404: no such subject, or the subject does not hold this schema (40401 / 40403); anything else is real.
      if (statusOf(err) !== 404)
        throw registryError(err, `looking up the schema in subject ${subject}`, details);
    }
    id ??= await this.sameSchemaIn(subject, text);
    if (id === undefined) {
      try {
        id = await this.backend.register(subject, text);
      } catch (err) {
        if (statusOf(err) === 409) throw await this.incompatible(subject, type, err);
        throw registryError(err, `registering a schema under subject ${subject}`, details);
      }
    }
    this.cache.set(id, type);
    return id;
  }

  /**
   * The id of a recent version of `subject` whose schema is ours once both are normalised the same way. The
   * lookup above compares schema text, and another client's text for the same schema differs (key order,
   * namespaces written out): registering again would add a redundant version, or be refused under a strict rule.
   */
  private async sameSchemaIn(subject: string, text: string): Promise<number | undefined> {
    const normal = (schema: string) => {
      try {
        return JSON.stringify(parseSchema(JSON.parse(schema), subject).schema({ exportAttrs: true }));
      } catch {
        return undefined; // not Avro, or not parseable here: not ours either way
      }
    };
    let v: number | 'latest' = 'latest';
    for (let checked = 0; checked < MAX_VERSIONS_COMPARED && (v === 'latest' || v >= 1); checked++) {
      let found: { version: number; id: number; schema: string } | undefined;
      try {
        found = await this.backend.version(subject, v);
      } catch (err) {
        if (statusOf(err) !== 404) {
          throw registryError(err, `reading version ${v} of subject ${subject}`, { subject, url: this.url });
        }
        if (v === 'latest') return undefined; // no such subject
      }
      if (found !== undefined && normal(found.schema) === text) return found.id;
      v = (found?.version ?? (v as number)) - 1;
    }
    return undefined;
  }

  private async incompatible(subject: string, type: AvroType, cause: unknown): Promise<VigilError> {
    const level = await this.backend.compatibility(subject).catch(() => undefined);
    const rule =
      level === undefined ? 'the registry’s default compatibility rule' : `its ${level} compatibility rule`;
    return new VigilError(
      'SCHEMA_INCOMPATIBLE',
      `subject ${subject} already holds schemas that ${type.name ?? 'the schema Vigil writes'} is not compatible with under ${rule}, so the registry refused to add it (409). Vigil does not change a subject's compatibility: point the output at another topic, or delete the subject or relax its rule if its versions are not needed.`,
      { cause, details: { subject, url: this.url, compatibility: level ?? null } },
    );
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
