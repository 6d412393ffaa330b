export { HealthMonitor } from './HealthMonitor.js';
export type { CheckChange, HealthMonitorOptions } from './HealthMonitor.js';
export type {
  CheckReport,
  CheckRun,
  CheckStatus,
  HealthCheckFunction,
  HealthCheckKind,
  HealthCheckOptions,
  HealthReport,
  HealthResult,
} from './types.js';
