export * from './vigil-metrics.js';
