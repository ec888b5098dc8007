export * from './live-feed.js';
export * from './live-http.js';
export * from './live-view.js';
