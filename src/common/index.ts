export { KaryonError, errorCodes, isKaryonError } from './KaryonError.js';
export type { ErrorCode, ErrorCodeInfo, KaryonErrorOptions } from './KaryonError.js';
export { systemClock } from './Clock.js';
export type { Clock, ClockTimer } from './Clock.js';
export { adaptLogger, silentLogger } from './Logger.js';
export { lineLogger } from './lineLogger.js';
export type { LineLoggerOptions } from './lineLogger.js';
export type { Logger, LogFields } from './Logger.js';
export type { RouteContext, RouteTarget, RouteTargetHandler } from './RouteTarget.js';
