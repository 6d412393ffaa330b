/**
 * The sidecar, imported from `karyon-ts/sidecar`: runs a service written in any language (a child process or
 * a server already listening) as a karyon-ts service, with Eureka registration driven by its health, an egress
 * proxy to other services, a statsd relay and the admin API. The `karyon sidecar` command runs the same thing
 * from a configuration file.
 * @packageDocumentation
 */
export { createSidecar } from './Sidecar.js';
export type { Sidecar, SidecarEvents, SidecarOutcome } from './Sidecar.js';
export type {
  RestartPolicy,
  SidecarEurekaOption,
  SidecarAppOptions,
  SidecarCheckOptions,
  SidecarConfigOptions,
  SidecarLifecycleOptions,
  SidecarOptions,
  SidecarProcessOptions,
  SidecarProxyOptions,
  StatsdRelayOptions,
} from './SidecarOptions.js';
export { loadSidecarConfig, sidecarConfigKeys } from './sidecarConfigFile.js';
export type { LoadedSidecarConfig, SidecarConfigKey, SidecarConfigKeyType, SidecarConfigSources } from './sidecarConfigFile.js';
export type { StatsdRelay, StatsdRelayStats } from './StatsdRelay.js';
export type { InstanceIdentityOptions, LeaseOptions, LifecycleOptions } from '../lifecycle/ServiceOptions.js';
export type { ProcessExit, ProcessReport, ProcessStartInfo, ProcessState, SupervisedProcess, SupervisedProcessEvents } from './SupervisedProcess.js';
export type { ClientFactory, EgressProxy, EgressProxyOptions, ProxyErrorStyle } from './EgressProxy.js';
