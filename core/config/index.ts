export * from './docs.js';
export * from './features-schema.js';
export * from './load.js';
export * from './schema.js';
