/**
 * Test helpers, imported from `karyon-ts/testing`: an in-memory registry, a development Eureka server, a
 * clock moved by hand and instances on loopback to register test servers with.
 * @packageDocumentation
 */
export { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
export type { InMemoryRegistryOptions } from '../registry/InMemoryRegistry.js';
export { ManualClock } from './ManualClock.js';
export { EurekaServer, resolveEurekaServerOptions } from '../registry/server/index.js';
export type { EurekaLease, EurekaServerOptions, RegisteredDataCenter, ResolvedEurekaServerOptions } from '../registry/server/index.js';
export { RegistryAccess, loadRegistryTokens, registryTokenHeader, resolveRegistryAccess } from '../registry/server/index.js';
export type { RegistryAccessSettings, RegistryTokenSources, RegistryTokens } from '../registry/server/index.js';
export { testInstance } from './testInstance.js';
export type { TestInstanceOptions } from './testInstance.js';
