export * from './config/index.js';
export * from './errors.js';
export * from './logger.js';
export * from './metrics/index.js';
export * from './retry.js';
