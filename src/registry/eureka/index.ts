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
export { EurekaInstance } from './EurekaInstance.js';
export {
  DEFAULT_DATA_CENTER_CLASS,
  appsHashcode,
  appsHashcodeOfCounts,
  decodeApplications,
  decodeInstance,
  encodeApplications,
  encodeInstance,
} from './wire.js';
export type {
  ActionType,
  DecodedApplications,
  DecodedInstance,
  DecodedLease,
  EncodeExtras,
  WireApplication,
  WireApplications,
  WireDataCenterInfo,
  WireInstance,
  WireLeaseInfo,
  WirePort,
} from './wire.js';
