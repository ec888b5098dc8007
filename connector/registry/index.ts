export { packArtifactDir, packFiles, unpackFiles, unpackToDir } from './artifact-bundle.js';
export {
  DEFAULT_CHUNK_BYTES,
  type LoadedArtifact,
  ModelRegistry,
  type ModelRegistryOptions,
  type PublishMetadata,
  registryTopicSpec,
} from './model-registry.js';
export {
  assembleChunks,
  chunkBytes,
  MODEL_STATUSES,
  type ModelStatus,
  parseKey,
  type RegistryEntry,
  RegistryFold,
  type RegistryManifest,
  type StatusRecord,
} from './registry-records.js';
