export * from './errors.js';
export * from './logger.js';
export * from './retry.js';
export * from './config/index.js';
export * from './metrics/index.js';
