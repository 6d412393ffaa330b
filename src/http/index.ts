export { ServerTracker, listen } from './ServerTracker.js';
export type { DrainResult, NodeHttpServer } from './ServerTracker.js';
