/**
 * karyon-ts: a Karyon-style service lifecycle for Node microservices.
 * @packageDocumentation
 */
export * from './common/index.js';
export * from './inbound/index.js';
export * from './registry/index.js';
export * from './registry/eureka/index.js';
export * from './health/index.js';
export * from './health/checks/index.js';
export * from './metrics/index.js';
export * from './balancer/index.js';
export * from './breaker/index.js';
export * from './http/index.js';
export * from './config/index.js';
export * from './admin/index.js';
export * from './lifecycle/index.js';
export * from './sidecar/index.js';
