/**
 * The model registry every replica shares: versions, lineage, evaluation and status, kept in one compacted
 * Kafka topic (registry-records.ts has the format). No database: any replica reads the whole topic with the
 * transport's group-less TopicReader and folds it; writes are ordinary idempotent produces.
 *
 * Publish order is chunks, then the manifest, then the 'candidate' status, so a reader that sees a manifest
 * can normally find every chunk; one that cannot (a publisher that died half-way, a chunk compacted or
 * deleted, a corrupted value) gets MODEL_INVALID from load(), never a half artifact.
 *
 * Memory stays bounded by one artifact: sync() keeps manifests and statuses only, and load() reads the topic
 * again keeping just the chunks of the version asked for.
 */
import { randomBytes } from 'node:crypto';
import { VigilError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ArtifactManifest } from '../../model/artifact.js';
import type { ProduceMessage, Producer, TopicSpec, Transport } from '../transport/types.js';
import { packArtifactDir, unpackToDir } from './artifact-bundle.js';
import {
  assembleChunks,
  chunkBytes,
  chunkKey,
  isValidVersion,
  MODEL_STATUSES,
  type ModelStatus,
  manifestKey,
  parseKey,
  type RegistryEntry,
  RegistryFold,
  type RegistryManifest,
  type StatusRecord,
  sha256Hex,
  statusKey,
} from './registry-records.js';

export interface ModelRegistryOptions {
  readonly topic: string;
  /**
   * Largest artifact slice per record. Default 512 KiB: under the broker's default 1 MiB message.max.bytes
   * with room for the record's key and framing.
   */
  readonly chunkBytes?: number;
}

export interface PublishMetadata {
  /** What the model was trained on: ISO times or offsets, as the trainer records them. */
  readonly trainingWindow?: { readonly from: string; readonly to: string };
  /** Fingerprint of the feature mapping; taken from the artifact's identity when it carries one. */
  readonly featureMappingFingerprint?: string;
  /** The registry version this one was retrained from. */
  readonly parentVersion?: string;
  /** Evaluation metrics; the artifact's own `evaluation` when absent. */
  readonly evaluation?: Record<string, unknown>;
  /** Explicit version id (letters, digits, '.', '_', '-'); generated from the artifact's identity when absent. */
  readonly version?: string;
}

export interface LoadedArtifact {
  readonly entry: RegistryEntry;
  /** The verified artifact bundle (artifact-bundle.ts). */
  readonly bundle: Buffer;
}

export const DEFAULT_CHUNK_BYTES = 512 * 1024;
/** Chunks per send(): bounds the bytes one produce request holds. */
const CHUNKS_PER_SEND = 4;

/** The registry topic: compacted (latest record per key), one partition so its records keep one order. */
export function registryTopicSpec(name: string, replicationFactor = 1): TopicSpec {
  return { name, partitions: 1, replicationFactor, config: { 'cleanup.policy': 'compact' } };
}

function fingerprintOf(manifest: ArtifactManifest): string | null {
  // model/artifact.ts may carry the feature-mapping fingerprint in its identity; any string field so named.
  for (const [k, v] of Object.entries(manifest.identity as unknown as Record<string, unknown>)) {
    if (/fingerprint/i.test(k) && typeof v === 'string') return v;
  }
  return null;
}

function safe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80) || 'model';
}

export class ModelRegistry {
  readonly topic: string;
  private readonly chunkSize: number;
  private readonly log: Logger;
  private fold = new RegistryFold();
  private producer: Producer | null = null;

  constructor(
    private readonly transport: Transport,
    options: ModelRegistryOptions,
    logger: Logger,
  ) {
    this.topic = options.topic;
    this.chunkSize = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1024) {
      throw new VigilError(
        'CONFIG_INVALID',
        `model.registry.chunkBytes = ${options.chunkBytes}: an integer ≥ 1024`,
        {
          details: {
            key: 'model.registry.chunkBytes',
            value: options.chunkBytes,
            allowed: 'an integer ≥ 1024',
          },
        },
      );
    }
    this.log = logger.child({ component: 'model-registry', topic: this.topic });
  }

  /** Reads the whole topic up to its current end and replaces the in-memory view of versions and statuses. */
  async sync(): Promise<void> {
    const fold = new RegistryFold();
    await this.readAll((r) => {
      fold.apply(r);
    });
    if (fold.problemCount > 0) {
      this.log.warn(
        { problems: fold.problems.slice(0, 10), count: fold.problemCount },
        'registry records skipped (not in the registry format)',
      );
    }
    this.fold = fold;
  }

  /** Records refused by the last sync(), with why. */
  problems(): RegistryFold['problems'] {
    return this.fold.problems;
  }

  /** Every version, oldest first, as of a fresh read of the topic. */
  async list(): Promise<RegistryEntry[]> {
    await this.sync();
    return this.fold.list();
  }

  /** The version promoted most recently and still promoted, as of a fresh read; undefined when none. */
  async latestPromoted(): Promise<RegistryEntry | undefined> {
    await this.sync();
    return this.fold.latestPromoted();
  }

  /**
   * Publishes an artifact directory (checked first with model/'s readManifest) as a new 'candidate' version
   * and returns its version id.
   */
  async publish(artifactDir: string, metadata: PublishMetadata = {}): Promise<string> {
    const { bundle, manifest: artifact } = await packArtifactDir(artifactDir);
    const version =
      metadata.version ??
      `${safe(artifact.identity.id)}.${safe(artifact.identity.version)}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    if (!isValidVersion(version)) {
      throw new VigilError(
        'INPUT_INVALID',
        `registry version ${JSON.stringify(version)}: letters, digits, . _ - only`,
        {
          details: { version },
        },
      );
    }
    const chunks = chunkBytes(bundle, this.chunkSize);
    const manifest: RegistryManifest = {
      format: 'vigil-registry-manifest',
      formatVersion: 1,
      version,
      modelId: artifact.identity.id,
      artifactVersion: artifact.identity.version,
      publishedAt: new Date().toISOString(),
      digest: sha256Hex(bundle),
      bytes: bundle.length,
      chunks: chunks.length,
      chunkBytes: this.chunkSize,
      lineage: {
        trainingWindow: metadata.trainingWindow ? { ...metadata.trainingWindow } : null,
        dataSummary: artifact.trainingData ?? null,
        featureMappingFingerprint: metadata.featureMappingFingerprint ?? fingerprintOf(artifact),
        parentVersion: metadata.parentVersion ?? null,
      },
      evaluation: metadata.evaluation ?? artifact.evaluation ?? null,
    };
    const producer = await this.openProducer();
    for (let i = 0; i < chunks.length; i += CHUNKS_PER_SEND) {
      await producer.send(
        chunks
          .slice(i, i + CHUNKS_PER_SEND)
          .map((value, j) => ({ topic: this.topic, key: chunkKey(version, i + j), value })),
      );
    }
    await producer.send([this.json(manifestKey(version), manifest)]);
    await producer.send([this.statusMessage(version, 'candidate', 'published')]);
    this.log.info({ version, bytes: bundle.length, chunks: chunks.length }, 'model version published');
    return version;
  }

  /** Records a version's status with its reason. The version must be in the registry (read afresh). */
  async setStatus(version: string, status: ModelStatus, reason: string): Promise<void> {
    if (!MODEL_STATUSES.includes(status)) {
      throw new VigilError(
        'INPUT_INVALID',
        `status ${JSON.stringify(status)}: one of ${MODEL_STATUSES.join(', ')}`,
        {
          details: { status },
        },
      );
    }
    await this.sync();
    if (!this.fold.has(version)) {
      throw new VigilError('INPUT_INVALID', `registry ${this.topic} has no version ${version}`, {
        details: { version, topic: this.topic },
      });
    }
    const producer = await this.openProducer();
    await producer.send([this.statusMessage(version, status, reason)]);
    this.log.info({ version, status, reason }, 'model version status set');
  }

  /**
   * Reads a version's chunks afresh, reassembles them and verifies the digest. A version that is unknown,
   * incomplete or corrupted is refused with MODEL_INVALID (`details.reason`), and nothing is returned.
   */
  async load(version: string): Promise<LoadedArtifact> {
    const chunks = new Map<number, Buffer>();
    const fold = new RegistryFold();
    await this.readAll((r) => {
      fold.apply(r);
      const key = parseKey(r.key?.toString('utf8') ?? '');
      if (key?.kind !== 'chunk' || key.version !== version) return;
      if (r.value === null) chunks.delete(key.index);
      else chunks.set(key.index, r.value);
    });
    const entry = fold.get(version);
    if (!entry) {
      throw new VigilError('MODEL_INVALID', `registry ${this.topic} has no version ${version}`, {
        details: { version, topic: this.topic, reason: 'unknown' },
      });
    }
    try {
      return { entry, bundle: assembleChunks(entry.manifest, chunks) };
    } catch (err) {
      this.log.error({ err, version }, 'model version refused');
      throw err;
    }
  }

  /** load(), then writes the artifact directory to `dir` for model/'s loadDetector (which verifies it again). */
  async loadInto(version: string, dir: string): Promise<RegistryEntry> {
    const { entry, bundle } = await this.load(version);
    await unpackToDir(bundle, dir);
    return entry;
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    await p?.close();
  }

  private async readAll(
    each: (r: { key: Buffer | null; value: Buffer | null; partition: number; offset: bigint }) => void,
  ): Promise<void> {
    const reader = this.transport.topicReader({ topic: this.topic });
    await reader.start(async (batch) => {
      for (const r of batch.records) each(r);
    });
    await reader.closed;
  }

  private async openProducer(): Promise<Producer> {
    if (!this.producer) {
      this.producer = this.transport.producer();
      await this.producer.connect();
    }
    return this.producer;
  }

  private json(key: string, value: unknown): ProduceMessage {
    return { topic: this.topic, key, value: Buffer.from(JSON.stringify(value)) };
  }

  private statusMessage(version: string, status: ModelStatus, reason: string): ProduceMessage {
    const record: StatusRecord = {
      format: 'vigil-registry-status',
      version,
      status,
      reason,
      at: new Date().toISOString(),
    };
    return this.json(statusKey(version), record);
  }
}
