export * from './incident-stage.js';
export * from './incident-tracker.js';
export * from './open-incidents.js';
export * from './recovery.js';
