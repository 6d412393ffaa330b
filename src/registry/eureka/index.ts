export { EurekaRegistry } from './EurekaRegistry.js';
export { resolveEurekaRegistryOptions } from './EurekaRegistryOptions.js';
export type { EurekaRegistryOptions, ResolvedEurekaRegistryOptions, ServiceUrl } from './EurekaRegistryOptions.js';
export type {
  EurekaRegistryEvents,
  FetchEvent,
  FullFetchReason,
  HashMismatchEvent,
  HeartbeatEvent,
  RegistrationEvent,
  RegistrationOperation,
} from './EurekaRegistryEvents.js';
export type { AutoFetchReason, AutoFetchState, FetchCost } from './AutoFetchMode.js';
export type { ProtectedApp, ViewProtectionEvent, ViewProtectionReason } from './ViewGuard.js';
export { EurekaInstance } from './EurekaInstance.js';
