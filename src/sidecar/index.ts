export { Sidecar, createSidecar } from './Sidecar.js';
export type { SidecarEvents, SidecarOutcome } from './Sidecar.js';
export { resolveSidecarOptions } from './SidecarOptions.js';
export type {
  RestartPolicy,
  ResolvedSidecarCheck,
  ResolvedSidecarOptions,
  ResolvedSidecarProcess,
  ResolvedStatsdRelay,
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
export { StatsdRelay } from './StatsdRelay.js';
export type { StatsdRelayDeps, StatsdRelayStats } from './StatsdRelay.js';
export { parseStatsdLine } from './statsdLine.js';
export type { StatsdLine, StatsdType } from './statsdLine.js';
export { describeExit, exitCodeOf } from './SupervisedProcess.js';
export type { ProcessExit, ProcessReport, ProcessStartInfo, ProcessState, SupervisedProcess, SupervisedProcessEvents } from './SupervisedProcess.js';
export { EgressProxy } from './EgressProxy.js';
export type { ClientFactory, EgressProxyOptions, ProxyErrorStyle } from './EgressProxy.js';
