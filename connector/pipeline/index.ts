export * from './decode-stage.js';
export * from './output-codec.js';
export * from './pipeline.js';
