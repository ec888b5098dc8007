export * from './offset-tracker.js';
