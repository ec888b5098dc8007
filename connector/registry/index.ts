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
  ModelServer,
  type ModelServerOptions,
  refusalReason,
  type ServedModel,
  type SwapOutcome,
  type SwapTarget,
} from './model-server.js';
export {
  assembleChunks,
  chunkBytes,
  chunkKey,
  MODEL_STATUSES,
  type ModelStatus,
  manifestKey,
  parseKey,
  type RegistryEntry,
  RegistryFold,
  type RegistryManifest,
  type StatusRecord,
  statusKey,
} from './registry-records.js';
export { RegistryWatcher, type RegistryWatcherOptions } from './registry-watcher.js';
