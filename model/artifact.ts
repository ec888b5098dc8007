/**
 * The model artifact: one directory per trained model version.
 *
 *   model.json     tfjs model JSON: Vigil's architecture spec as `modelTopology`, the weights manifest
 *   weights.bin    the weights, tfjs binary layout (float32, little-endian, in manifest order)
 *   manifest.json  everything else: identity (with the feature names, in column order), the feature mapping
 *                  the model was trained with and its fingerprint (when it was trained through one),
 *                  preprocessing, threshold calibration, training report, training-data summary,
 *                  evaluation slot, runtime versions, and the SHA-256 of each file;
 *                  `digest` is the SHA-256 of the manifest's own canonical JSON without that field
 *
 * model.json and weights.bin go through a tfjs IOHandler (tfjs-node's file:// handler is not available
 * here), so the pair is ordinary tfjs model JSON + weights and tf.io tools can read the weights. Loading
 * verifies the format version, the digest and checksums, and that every shape fits the feature count;
 * anything else is refused with MODEL_INVALID. An artifact without `featureMapping` (written before it was
 * stored, or trained from bare CSV columns) still loads; the service then matches it by feature names only
 * (model/feature-mapping.ts) and says so. Checksums detect corruption and edits, not a forger who
 * rewrites them: sign the directory if that matters.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { VigilError } from '../core/errors.js';
import { currentBackend } from './backend.js';
import { Detector, type DetectorOptions, type DetectorState, type TrainingReport } from './detector.js';
import type { FeatureMapping } from './feature-mapping.js';
import { networkFromWeights } from './networks/index.js';
import type { ScalerParams } from './preprocess.js';
import { MODEL_KINDS, type ModelSpec, validateSpec } from './spec.js';
import type { TrainingDataSummary } from './summary.js';
import type { ThresholdCalibration } from './threshold.js';
import type { ModelIdentity } from './types.js';

export const ARTIFACT_FORMAT = 'vigil-model';
/** Bump on any change a previous loader would misread. */
export const ARTIFACT_FORMAT_VERSION = 1;
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const MANIFEST_JSON = 'manifest.json';
const TOPOLOGY_FORMAT = 'vigil-autoencoder';

export interface FileEntry {
  readonly sha256: string;
  readonly bytes: number;
}

export interface ArtifactManifest {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly formatVersion: number;
  readonly createdAt: string;
  readonly identity: ModelIdentity;
  /** Model variant, for display; the spec itself is model.json's modelTopology. */
  readonly kind: ModelSpec['kind'];
  readonly preprocessing: ScalerParams;
  readonly threshold: ThresholdCalibration;
  readonly training: TrainingReport;
  readonly trainingData: TrainingDataSummary;
  readonly evaluation: Record<string, unknown> | null;
  /** The feature mapping the model was trained with; absent when it was trained from bare columns. */
  readonly featureMapping?: FeatureMapping;
  readonly runtime: {
    readonly vigil: string;
    readonly tfjs: string;
    readonly tfjsBackendWasm: string;
    readonly backend: string;
    readonly node: string;
  };
  readonly files: Readonly<Record<string, FileEntry>>;
  readonly digest: string;
}

function invalid(
  dir: string,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): never {
  throw new VigilError('MODEL_INVALID', `Model artifact ${dir}: ${message}`, {
    details: { dir, ...details },
    ...(cause === undefined ? {} : { cause }),
  });
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level: the form the digest is computed over. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

export function manifestDigest(manifest: Omit<ArtifactManifest, 'digest'> & { digest?: string }): string {
  const { digest: _omit, ...rest } = manifest;
  return sha256(new TextEncoder().encode(canonicalJson(rest)));
}

function packageVersion(name: string, from: string): string {
  let dir = path.dirname(new URL(from).pathname);
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, name === 'vigil' ? '' : `node_modules/${name}`, 'package.json');
    if (existsSync(candidate)) {
      try {
        const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        // keep looking further up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return 'unknown';
}

let versions: { vigil: string; wasm: string } | undefined;
function runtimeVersions(): { vigil: string; wasm: string } {
  versions ??= {
    vigil: packageVersion('vigil', import.meta.url),
    wasm: packageVersion('@tensorflow/tfjs-backend-wasm', import.meta.url),
  };
  return versions;
}

/**
 * A tfjs IOHandler over a local directory: save writes model.json and weights.bin, load reads them back.
 * Usable with any tfjs save/load API that takes a handler.
 */
export interface FileIOHandler extends tf.io.IOHandler {
  save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult>;
  load(): Promise<tf.io.ModelArtifacts>;
}

export function fileIOHandler(dir: string): FileIOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const weightData = artifacts.weightData;
      const bytes = new Uint8Array(
        weightData === undefined
          ? new ArrayBuffer(0)
          : Array.isArray(weightData)
            ? tf.io.concatenateArrayBuffers(weightData)
            : weightData,
      );
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, MODEL_JSON), JSON.stringify(modelJson));
      await writeFile(path.join(dir, WEIGHTS_BIN), bytes);
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: bytes.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs = manifest.flatMap((g) => g.weights);
        const buffers = await Promise.all(
          manifest
            .flatMap((g) => g.paths)
            .map(async (p) => {
              const b = await readFile(path.join(dir, path.basename(p)));
              return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
            }),
        );
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

export interface SaveOptions {
  /** Replace an existing directory (atomically: the new one is complete before the old one goes). */
  overwrite?: boolean;
  /** Save this state instead of the detector's own (e.g. detector.withEvaluation(metrics)). */
  state?: DetectorState;
}

/**
 * Write a detector's artifact to `dir`. The files are written into a sibling temporary directory and renamed
 * into place, so a reader never sees half an artifact.
 */
export async function saveDetector(
  detector: Detector,
  dir: string,
  options: SaveOptions = {},
): Promise<ArtifactManifest> {
  const state = options.state ?? detector.state;
  const target = path.resolve(dir);
  if (existsSync(target) && !options.overwrite) {
    throw new VigilError('INPUT_INVALID', `Model artifact directory ${target} already exists.`, {
      details: { dir: target },
    });
  }
  const tmp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const { data, specs } = await tf.io.encodeWeights(detector.params.named());
    const versionsNow = runtimeVersions();
    await fileIOHandler(tmp).save({
      modelTopology: { vigil: state.spec },
      format: TOPOLOGY_FORMAT,
      generatedBy: `vigil ${versionsNow.vigil}`,
      convertedBy: null,
      weightSpecs: specs,
      weightData: data,
    });
    const files: Record<string, FileEntry> = {};
    for (const name of [MODEL_JSON, WEIGHTS_BIN]) {
      const bytes = await readFile(path.join(tmp, name));
      files[name] = { sha256: sha256(bytes), bytes: bytes.byteLength };
    }
    const body: Omit<ArtifactManifest, 'digest'> = {
      format: ARTIFACT_FORMAT,
      formatVersion: ARTIFACT_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      identity: state.identity,
      kind: state.spec.kind,
      preprocessing: state.scaler,
      threshold: state.calibration,
      training: state.training,
      trainingData: state.trainingData,
      evaluation: state.evaluation,
      ...(state.featureMapping === undefined ? {} : { featureMapping: state.featureMapping }),
      runtime: {
        vigil: versionsNow.vigil,
        tfjs: tf.version.tfjs,
        tfjsBackendWasm: versionsNow.wasm,
        backend: currentBackend()?.name ?? tf.getBackend(),
        node: process.versions.node,
      },
      files,
    };
    const manifest: ArtifactManifest = { ...body, digest: manifestDigest(body) };
    await writeFile(path.join(tmp, MANIFEST_JSON), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(target)) {
      const old = `${target}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
      await rename(target, old);
      await rename(tmp, target);
      await rm(old, { recursive: true, force: true });
    } else {
      await mkdir(path.dirname(target), { recursive: true });
      await rename(tmp, target);
    }
    return manifest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Read manifest.json and verify its format, digest and the checksums of the files it lists. */
export async function readManifest(dir: string): Promise<ArtifactManifest> {
  const target = path.resolve(dir);
  let text: string;
  try {
    text = await readFile(path.join(target, MANIFEST_JSON), 'utf8');
  } catch (err) {
    invalid(target, `${MANIFEST_JSON} cannot be read; is this a Vigil model directory?`, {}, err);
  }
  let manifest: ArtifactManifest;
  try {
    manifest = JSON.parse(text) as ArtifactManifest;
  } catch (err) {
    invalid(target, `${MANIFEST_JSON} is not valid JSON.`, {}, err);
  }
  if (manifest === null || typeof manifest !== 'object' || manifest.format !== ARTIFACT_FORMAT) {
    invalid(target, `${MANIFEST_JSON} is not a ${ARTIFACT_FORMAT} manifest.`);
  }
  if (manifest.formatVersion !== ARTIFACT_FORMAT_VERSION) {
    invalid(
      target,
      `format version ${manifest.formatVersion} is not supported (this Vigil reads version ${ARTIFACT_FORMAT_VERSION}).`,
      { formatVersion: manifest.formatVersion },
    );
  }
  const digest = manifestDigest(manifest);
  if (digest !== manifest.digest) {
    invalid(target, `${MANIFEST_JSON} was modified after it was written (digest mismatch).`, {
      expected: manifest.digest,
      actual: digest,
    });
  }
  for (const name of [MODEL_JSON, WEIGHTS_BIN]) {
    const entry = manifest.files?.[name];
    if (entry === undefined) invalid(target, `the manifest lists no checksum for ${name}.`);
    let bytes: Buffer;
    try {
      bytes = await readFile(path.join(target, name));
    } catch (err) {
      invalid(target, `${name} is missing or unreadable.`, { file: name }, err);
    }
    const actual = sha256(bytes);
    if (bytes.byteLength !== entry.bytes || actual !== entry.sha256) {
      invalid(target, `${name} does not match its checksum (corrupted or modified).`, {
        file: name,
        expected: entry.sha256,
        actual,
        bytes: bytes.byteLength,
        expectedBytes: entry.bytes,
      });
    }
  }
  return manifest;
}

/** Load and verify an artifact; the backend must already be initialised (initBackend). */
export async function loadDetector(dir: string, options: DetectorOptions = {}): Promise<Detector> {
  const target = path.resolve(dir);
  const manifest = await readManifest(target);
  let artifacts: tf.io.ModelArtifacts;
  try {
    artifacts = await fileIOHandler(target).load();
  } catch (err) {
    invalid(target, `${MODEL_JSON} or ${WEIGHTS_BIN} cannot be read as a tfjs model.`, {}, err);
  }
  if (artifacts.format !== TOPOLOGY_FORMAT) invalid(target, `${MODEL_JSON} format is "${artifacts.format}".`);
  const spec = (artifacts.modelTopology as { vigil?: ModelSpec } | undefined)?.vigil;
  if (spec === undefined || !MODEL_KINDS.includes(spec.kind))
    invalid(target, `${MODEL_JSON} holds no Vigil spec.`);
  try {
    validateSpec(spec);
  } catch (err) {
    invalid(target, `${MODEL_JSON} holds an invalid spec: ${(err as Error).message}`, {}, err);
  }
  const d = manifest.identity.featureNames.length;
  if (spec.kind !== manifest.kind)
    invalid(target, `manifest kind ${manifest.kind} ≠ model.json kind ${spec.kind}.`);
  if (spec.inputDim !== d) {
    invalid(target, `the model takes ${spec.inputDim} features but the manifest names ${d}.`, {
      inputDim: spec.inputDim,
      features: d,
    });
  }
  const p = manifest.preprocessing;
  if (p?.center?.length !== d || p.scale?.length !== d) {
    invalid(target, `preprocessing has ${p?.center?.length}/${p?.scale?.length} columns for ${d} features.`);
  }
  const fm = manifest.featureMapping;
  if (
    fm !== undefined &&
    (typeof fm?.fingerprint !== 'string' ||
      !Array.isArray((fm as { spec?: { fields?: unknown } }).spec?.fields))
  ) {
    invalid(target, 'featureMapping must hold a fingerprint and the mapping spec with its fields.');
  }
  const tensors = tf.io.decodeWeights(
    artifacts.weightData ?? new ArrayBuffer(0),
    artifacts.weightSpecs ?? [],
  );
  try {
    const network = networkFromWeights(spec, tensors);
    const state: DetectorState = {
      identity: manifest.identity,
      spec,
      scaler: manifest.preprocessing,
      calibration: manifest.threshold,
      trainingData: manifest.trainingData,
      training: manifest.training,
      evaluation: manifest.evaluation,
      ...(fm === undefined ? {} : { featureMapping: fm }),
    };
    try {
      return new Detector(state, network, options);
    } catch (err) {
      network.dispose();
      throw err;
    }
  } catch (err) {
    if (
      err instanceof VigilError &&
      err.code === 'MODEL_INVALID' &&
      !err.message.startsWith('Model artifact')
    ) {
      invalid(target, err.message, { ...err.details }, err);
    }
    throw err;
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** Attach evaluation metrics to an existing artifact (rewrites manifest.json with a new digest). */
export async function updateEvaluation(
  dir: string,
  evaluation: Record<string, unknown>,
): Promise<ArtifactManifest> {
  const target = path.resolve(dir);
  const manifest = await readManifest(target);
  const { digest: _old, ...body } = { ...manifest, evaluation };
  const next: ArtifactManifest = { ...body, digest: manifestDigest(body) };
  const tmp = path.join(target, `${MANIFEST_JSON}.tmp-${process.pid}`);
  await writeFile(tmp, `${JSON.stringify(next, null, 2)}\n`);
  await rename(tmp, path.join(target, MANIFEST_JSON));
  return next;
}

/** Size on disk of an artifact's files, for logs. */
export async function artifactBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of [MODEL_JSON, WEIGHTS_BIN, MANIFEST_JSON])
    total += (await stat(path.join(dir, name))).size;
  return total;
}
