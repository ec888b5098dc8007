export * from './anomaly-event.js';
export * from './dead-letter.js';
export * from './event-id.js';
