export { EurekaServer } from './EurekaServer.js';
export { resolveEurekaServerOptions } from './EurekaServerOptions.js';
export type { EurekaServerOptions, ResolvedEurekaServerOptions } from './EurekaServerOptions.js';
export { leaseExpiresAt } from './EurekaLease.js';
export type { EurekaLease } from './EurekaLease.js';
export type { RegisteredDataCenter } from './parseRegistration.js';
