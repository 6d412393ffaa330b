export { KaryonError, errorCodes, isKaryonError } from './KaryonError.js';
export type { ErrorCode, ErrorCodeInfo, KaryonErrorOptions } from './KaryonError.js';
export { systemClock } from './Clock.js';
export type { Clock, ClockTimer } from './Clock.js';
export { silentLogger } from './Logger.js';
export type { Logger, LogFields } from './Logger.js';
export type { RouteContext, RouteTarget, RouteTargetHandler } from './RouteTarget.js';
