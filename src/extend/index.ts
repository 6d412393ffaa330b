/**
 * Extension points, imported from `karyon-ts/extend`: what a library or platform team uses to build on
 * karyon-ts rather than to write a service: the built-in balancer rules and `createRule` for a rule of one's
 * own, the admin API's route installers (to mount on a server of one's own), the built-in metric families,
 * the fetch transport's response body, the Hystrix event stream, the health monitor and the loggers' adapters.
 * @packageDocumentation
 */
export { adaptLogger, lineLogger, silentLogger } from '../common/index.js';
export type { LineLoggerOptions, RouteContext, RouteTarget, RouteTargetHandler } from '../common/index.js';
export { HealthMonitor } from '../health/index.js';
export type { CheckChange, HealthMonitorOptions } from '../health/index.js';
export {
  adminMetrics, bindClientMetrics, bindShadowMetrics, breakerMetrics, builtinMetrics, clientMetrics, configMetrics,
  healthMetrics, lifecycleMetrics, metricsAdminRoutes, prometheusContentType, registryMetrics, shadowMetrics,
} from '../metrics/index.js';
export type {
  AdminMetrics, BreakerMetrics, BuiltinMetric, BuiltinMetricKey, ClientEventSource, ClientMetrics, ConfigMetrics,
  HealthMetrics, LifecycleMetrics, RegistryMetrics, ShadowEventSource, ShadowMetrics,
} from '../metrics/index.js';
export {
  LeastLoadedRule, PeakEwmaRule, RandomRule, RoundRobinRule, WeightedResponseTimeRule, ZoneAvoidanceRule,
  createRule,
} from '../balancer/index.js';
export type { WeightedResponseTimeOptions, ZoneAvoidanceOptions } from '../balancer/index.js';
export { HystrixStream, breakerAdminRoutes } from '../breaker/index.js';
export type { BreakerAdminOptions, BreakerAdminRoutes, HystrixStreamOptions } from '../breaker/index.js';
export {
  FetchResponseBody, registerInstancesRoute, shadowAdminRoutes,
} from '../http/index.js';
export type { InstancesReport, InstancesRouteOptions } from '../http/index.js';
export type { RegistryFetchReport } from '../registry/index.js';
export { bindConfigMetrics, configAdminRoutes } from '../config/index.js';
export type { ConfigMetricsSink } from '../config/index.js';
export {
  adminUiContentSecurityPolicy, adminUiRoutes, registryAdminRoutes,
} from '../admin/index.js';
export type {
  AdminRequestContext, AdminRouteHandler, AdminRouteOptions, AdminServiceView,
  AdminUiRouteTarget, AuditChange, AuditDraft, AuditEntry,
  AuditMetrics, AuditOutcome, AuditRecorder, RegistryAdminRoutes, RegistryAdminRoutesOptions, RegistryAppView,
  RegistryFetchView, RegistryInstanceView, RegistryReport, RegistryRouteTarget, StatusReport, TransitionRecord,
} from '../admin/index.js';
