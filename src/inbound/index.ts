export { ServerTracker, listen } from './ServerTracker.js';
export type { DrainResult, NodeHttpServer } from './ServerTracker.js';
export { OUT_OF_SERVICE_HEADER, RETRIES_ELSEWHERE_HEADER, expressOutOfServiceGuard, fastifyOutOfServiceHook, outOfServiceGuard } from './outOfServiceGuard.js';
export type { ExpressLikeResponse, FastifyLikeReply, OutOfServiceGuardOptions, RequestListener, ServiceGuardOptions, StatusSource } from './outOfServiceGuard.js';
