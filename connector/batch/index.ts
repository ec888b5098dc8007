export * from './micro-batcher.js';
export * from './scheduler.js';
export * from './yield.js';
