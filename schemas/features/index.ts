export * from './avro-paths.js';
export * from './extractor.js';
export * from './murmur3.js';
export * from './presets.js';
export * from './temporal.js';
