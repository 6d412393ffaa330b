/**
 * Test helpers, imported from `karyon-ts/testing`: an in-memory registry, a development Eureka server, a
 * clock moved by hand and instances on loopback to register test servers with.
 * @packageDocumentation
 */
export { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
export type { InMemoryRegistryOptions } from '../registry/InMemoryRegistry.js';
export { ManualClock } from './ManualClock.js';
export { EurekaServer } from '../registry/server/index.js';
export type { EurekaLease, EurekaServerOptions, RegisteredDataCenter } from '../registry/server/index.js';
export { loadRegistryTokens, registryTokenHeader } from '../registry/server/index.js';
export type { RegistryTokenSources, RegistryTokens } from '../registry/server/index.js';
export { testInstance } from './testInstance.js';
export type { TestInstanceOptions } from './testInstance.js';
