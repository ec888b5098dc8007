export * from './avro.js';
export * from './catalog.js';
export * from './codec.js';
export * from './registry-client.js';
export * from './types.js';
export * from './wire-format.js';
