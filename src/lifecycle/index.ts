export { LifecycleState, allowedTransitions, canTransition, registryStatusOf } from './LifecycleState.js';
export type { StateChange } from './StateMachine.js';
export { Service, createService } from './Service.js';
export type { InstanceIdentityOptions, LeaseOptions, LifecycleOptions, ServiceEvents, ServiceOptions, ServiceShadowOptions } from './Service.js';
export { healthCheck, initialize, onShutdown } from './decorators.js';
export type { HealthCheckMethodDecorator, HealthMethodReport, HealthMethodResult, HookMethodDecorator, HookOptions, LifecycleHook } from './decorators.js';
export { installSignalHandlers } from './signals.js';
export type { SignalHandlerOptions, Stoppable } from './signals.js';
export { serviceOptionsFromSettings } from './fromSettings.js';
