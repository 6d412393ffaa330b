export { InstanceStatus, toInstanceStatus } from './types.js';
export type {
  InstanceDescriptor, InstanceModification, RegistryChange, RegistryFetchReport, RegistryFetchView, RegistryFetchWatch, RegistryInstance,
  RegistryServiceExtras, ServiceRegistry,
} from './types.js';
export { InMemoryRegistry } from './InMemoryRegistry.js';
export type { InMemoryRegistryOptions } from './InMemoryRegistry.js';
