/**
 * The registry's record format and the pure logic over it: chunking, reassembly with digest check, and
 * folding the topic's records into versions and statuses. No I/O here.
 *
 * Keys (UTF-8), one compacted topic:
 *   vigil-model/<version>/chunk/<i>   the i-th slice of the artifact bundle (raw bytes)
 *   vigil-model/<version>/manifest    JSON RegistryManifest: digest, sizes, lineage, evaluation
 *   vigil-model/<version>/status      JSON StatusRecord; compaction keeps the latest per version
 * Every record has a key of its own, so compaction keeps the latest record of each and nothing an artifact
 * needs is compacted away. A tombstone on a manifest key removes the version from the listing.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VigilError } from '../../core/errors.js';

export const KEY_PREFIX = 'vigil-model';
export const MODEL_STATUSES = ['candidate', 'promoted', 'rejected', 'retired'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];
const VERSION_PATTERN = /^[A-Za-z0-9._-]{1,200}$/;

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function isValidVersion(version: string): boolean {
  return VERSION_PATTERN.test(version);
}

export type RegistryKey =
  | { readonly kind: 'chunk'; readonly version: string; readonly index: number }
  | { readonly kind: 'manifest'; readonly version: string }
  | { readonly kind: 'status'; readonly version: string };

export function chunkKey(version: string, index: number): string {
  return `${KEY_PREFIX}/${version}/chunk/${index}`;
}
export function manifestKey(version: string): string {
  return `${KEY_PREFIX}/${version}/manifest`;
}
export function statusKey(version: string): string {
  return `${KEY_PREFIX}/${version}/status`;
}

export function parseKey(key: string): RegistryKey | null {
  const parts = key.split('/');
  if (parts[0] !== KEY_PREFIX || parts.length < 3) return null;
  const version = parts[1]!;
  if (!isValidVersion(version)) return null;
  if (parts.length === 3 && parts[2] === 'manifest') return { kind: 'manifest', version };
  if (parts.length === 3 && parts[2] === 'status') return { kind: 'status', version };
  if (parts.length === 4 && parts[2] === 'chunk' && /^(0|[1-9]\d{0,8})$/.test(parts[3]!)) {
    return { kind: 'chunk', version, index: Number(parts[3]) };
  }
  return null;
}

const trainingWindowSchema = z.object({ from: z.string(), to: z.string() }).strict();

export const registryManifestSchema = z
  .object({
    format: z.literal('vigil-registry-manifest'),
    formatVersion: z.literal(1),
    version: z.string().regex(VERSION_PATTERN),
    modelId: z.string(),
    artifactVersion: z.string(),
    publishedAt: z.string(),
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().nonnegative(),
    chunks: z.number().int().positive(),
    chunkBytes: z.number().int().positive(),
    lineage: z
      .object({
        trainingWindow: trainingWindowSchema.nullable(),
        /** The artifact's training-data summary (model/summary.ts), kept here so it can be read without loading. */
        dataSummary: z.unknown().nullable(),
        featureMappingFingerprint: z.string().nullable(),
        parentVersion: z.string().nullable(),
      })
      .strict(),
    evaluation: z.record(z.string(), z.unknown()).nullable(),
  })
  .strict();
export type RegistryManifest = z.infer<typeof registryManifestSchema>;

export const statusRecordSchema = z
  .object({
    format: z.literal('vigil-registry-status'),
    version: z.string().regex(VERSION_PATTERN),
    status: z.enum(MODEL_STATUSES),
    reason: z.string(),
    /** ISO time the status was set, by the writer's clock. */
    at: z.string(),
  })
  .strict();
export type StatusRecord = z.infer<typeof statusRecordSchema>;

/** Splits a bundle into slices of at most `chunkBytes` (views, no copy). An empty bundle is one empty chunk. */
export function chunkBytes(bundle: Buffer, size: number): Buffer[] {
  if (!Number.isInteger(size) || size <= 0)
    throw new RangeError(`chunk size ${size} must be a positive integer`);
  if (bundle.length === 0) return [bundle];
  const out: Buffer[] = [];
  for (let at = 0; at < bundle.length; at += size)
    out.push(bundle.subarray(at, Math.min(at + size, bundle.length)));
  return out;
}

function refused(
  version: string,
  reason: string,
  message: string,
  details: Record<string, unknown> = {},
): never {
  throw new VigilError('MODEL_INVALID', `registry version ${version}: ${message}`, {
    details: { version, reason, ...details },
  });
}

/**
 * Reassembles a version's chunks and checks them against its manifest: every chunk present, each no larger
 * than the chunk size, the total size, then the SHA-256 of the whole. Anything else is refused with
 * MODEL_INVALID (`details.reason`: 'truncated', 'size', 'digest').
 */
export function assembleChunks(manifest: RegistryManifest, chunks: ReadonlyMap<number, Buffer>): Buffer {
  const missing: number[] = [];
  for (let i = 0; i < manifest.chunks; i++) if (!chunks.has(i)) missing.push(i);
  if (missing.length > 0) {
    refused(manifest.version, 'truncated', `${missing.length} of ${manifest.chunks} chunks are missing`, {
      missing: missing.slice(0, 20),
    });
  }
  const parts: Buffer[] = [];
  for (let i = 0; i < manifest.chunks; i++) {
    const c = chunks.get(i)!;
    if (c.length > manifest.chunkBytes)
      refused(manifest.version, 'size', `chunk ${i} holds ${c.length} bytes, over ${manifest.chunkBytes}`);
    parts.push(c);
  }
  const whole = Buffer.concat(parts);
  if (whole.length !== manifest.bytes) {
    refused(
      manifest.version,
      whole.length < manifest.bytes ? 'truncated' : 'size',
      `the chunks hold ${whole.length} bytes, the manifest says ${manifest.bytes}`,
      {
        bytes: whole.length,
        expectedBytes: manifest.bytes,
      },
    );
  }
  const digest = sha256Hex(whole);
  if (digest !== manifest.digest) {
    refused(
      manifest.version,
      'digest',
      'the artifact does not match its SHA-256 digest (corrupted or modified)',
      {
        expected: manifest.digest,
        actual: digest,
      },
    );
  }
  return whole;
}

export interface RegistryEntry {
  readonly version: string;
  readonly manifest: RegistryManifest;
  /** 'candidate' until a status record says otherwise. */
  readonly status: ModelStatus;
  readonly reason: string;
  /** When the status was set (the publish time for a version with no status record yet). */
  readonly statusAt: string;
}

/** A record the fold could not use: kept, with why, so bad input is visible rather than silently dropped. */
export interface RegistryProblem {
  readonly key: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly reason: string;
}

export interface FoldInput {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly partition: number;
  readonly offset: bigint;
}

/**
 * Folds registry records (in offset order per partition; partitions in any interleaving) into the current
 * versions. A version's manifest and its status share a version but not a key, so they may sit on different
 * partitions and arrive in either order; each key's records are on one partition, so the latest of each wins.
 */
export class RegistryFold {
  private readonly manifests = new Map<string, RegistryManifest>();
  private readonly statuses = new Map<string, StatusRecord>();
  readonly problems: RegistryProblem[] = [];
  /** Most problems kept; later ones are counted only. */
  static readonly MAX_PROBLEMS = 100;
  problemCount = 0;

  /** Applies one record; false when it was refused (and recorded in `problems`). */
  apply(r: FoldInput): boolean {
    const key = r.key?.toString('utf8') ?? '';
    const parsed = parseKey(key);
    if (!parsed) return this.problem(r, key, 'not a registry key');
    if (parsed.kind === 'chunk') return true;
    if (r.value === null) {
      if (parsed.kind === 'manifest') this.manifests.delete(parsed.version);
      else this.statuses.delete(parsed.version);
      return true;
    }
    let json: unknown;
    try {
      json = JSON.parse(r.value.toString('utf8'));
    } catch {
      return this.problem(r, key, 'value is not JSON');
    }
    const schema = parsed.kind === 'manifest' ? registryManifestSchema : statusRecordSchema;
    const result = schema.safeParse(json);
    if (!result.success)
      return this.problem(r, key, `invalid ${parsed.kind}: ${result.error.issues[0]?.message}`);
    if (result.data.version !== parsed.version)
      return this.problem(r, key, `${parsed.kind} names another version`);
    if (parsed.kind === 'manifest') this.manifests.set(parsed.version, result.data as RegistryManifest);
    else this.statuses.set(parsed.version, result.data as StatusRecord);
    return true;
  }

  private problem(r: FoldInput, key: string, reason: string): false {
    this.problemCount++;
    if (this.problems.length < RegistryFold.MAX_PROBLEMS)
      this.problems.push({ key, partition: r.partition, offset: r.offset, reason });
    return false;
  }

  has(version: string): boolean {
    return this.manifests.has(version);
  }

  get(version: string): RegistryEntry | undefined {
    const manifest = this.manifests.get(version);
    if (!manifest) return undefined;
    const s = this.statuses.get(version);
    return {
      version,
      manifest,
      status: s?.status ?? 'candidate',
      reason: s?.reason ?? '',
      statusAt: s?.at ?? manifest.publishedAt,
    };
  }

  /** Every version with a manifest, oldest published first. */
  list(): RegistryEntry[] {
    return [...this.manifests.keys()]
      .map((v) => this.get(v)!)
      .sort((a, b) => cmp(a.manifest.publishedAt, b.manifest.publishedAt) || cmp(a.version, b.version));
  }

  /** The version promoted most recently and still promoted (a rollback is promoting an older one again). */
  latestPromoted(): RegistryEntry | undefined {
    let best: RegistryEntry | undefined;
    for (const e of this.list()) {
      if (e.status !== 'promoted') continue;
      if (
        !best ||
        cmp(e.statusAt, best.statusAt) > 0 ||
        (e.statusAt === best.statusAt && cmp(e.version, best.version) > 0)
      )
        best = e;
    }
    return best;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
