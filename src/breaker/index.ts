export { CommandRegistry, resolveCommandRegistryOptions } from './CommandRegistry.js';
export type { CommandRegistryEvents, CommandRegistryOptions, ResolvedCommandRegistryOptions } from './CommandRegistry.js';
export type {
  Command,
  CommandExecutor,
  CommandFallback,
  CommandListener,
  CommandOptions,
  CommandSettingsUpdate,
  ExecuteOptions,
  RunOptions,
} from './Command.js';
export { CommandError } from './CommandError.js';
export type { CommandErrorCode } from './CommandError.js';
export { CommandState } from './CommandEvents.js';
export type { CommandEvents, CommandFallbackEvent, CommandRejectEvent, CommandStateChange, CommandTimeoutEvent } from './CommandEvents.js';
export type { CommandCounts, HealthCounts, LatencyPercentiles, LatencySummary } from './CommandMetrics.js';
export { commandSettingLimits, hystrixDefaults, resolveCommandSettings } from './CommandSettings.js';
export type { CommandSettingLimit, CommandSettings, CommandSettingsOptions, NumericCommandSetting } from './CommandSettings.js';
export type { BulkheadSnapshot, CommandLatency, CommandSnapshot } from './CommandSnapshot.js';
export { isCommand } from './createCommand.js';
export { command, componentCommands, registerComponentCommands } from './decorators.js';
export type { CommandDecoratorOptions, CommandMethodDecorator, ComponentCommand } from './decorators.js';
export { toHystrixCommand, toHystrixThreadPool } from './hystrixEvents.js';
export type { HystrixCommandEvent, HystrixThreadPoolEvent } from './hystrixEvents.js';
export { HystrixStream, resolveHystrixStreamOptions } from './HystrixStream.js';
export type { HystrixStreamOptions, ResolvedHystrixStreamOptions } from './HystrixStream.js';
export { breakerAdminRoutes } from './breakerAdminRoutes.js';
export type { BreakerAdminOptions, BreakerAdminRoutes } from './breakerAdminRoutes.js';
export { AdoptedBreaker } from './AdoptedBreaker.js';
export type { BreakerControls, OpossumCircuitBreaker, OpossumOptionsView, OpossumStats } from './AdoptedBreaker.js';
