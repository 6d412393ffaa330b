/**
 * karyon-ts: a Karyon-style service lifecycle for Node microservices. This entry point holds what a service
 * author uses: `createService` and its options, the decorators, service clients and shadow traffic, commands
 * and breakers, configuration, health checks, the metrics interfaces and the errors. Extension points (balancer
 * rules, admin route installers, metric factories, transports) are in `karyon-ts/extend`, the sidecar in
 * `karyon-ts/sidecar`, the test helpers and the development Eureka server in `karyon-ts/testing`.
 * @packageDocumentation
 */
export { KaryonError, errorCodes, isKaryonError, systemClock } from './common/index.js';
export type {
  Clock, ClockTimer, ErrorCode, ErrorCodeInfo, KaryonErrorOptions, LogFields, Logger,
} from './common/index.js';
export {
  OUT_OF_SERVICE_HEADER, RETRIES_ELSEWHERE_HEADER, ServerTracker, expressOutOfServiceGuard, fastifyOutOfServiceHook,
  listen, outOfServiceGuard,
} from './inbound/index.js';
export type {
  DrainResult, ExpressLikeResponse, FastifyLikeReply, NodeHttpServer, OutOfServiceGuardOptions, RequestListener,
  ServiceGuardOptions, StatusSource,
} from './inbound/index.js';
export { InstanceStatus } from './registry/index.js';
export { InstanceMode } from './balancer/InstanceState.js';
export { balancerRuleNames } from './balancer/index.js';
export type {
  InstanceDescriptor, InstanceModification, RegistryChange, RegistryFetchReport, RegistryFetchView, RegistryFetchWatch,
  RegistryInstance,
  RegistryServiceExtras, ServiceRegistry,
} from './registry/index.js';
export { EurekaRegistry } from './registry/eureka/index.js';
export type {
  AutoFetchReason, AutoFetchState, EurekaRegistryEvents, EurekaRegistryOptions, FetchCost, FetchEvent, FullFetchReason, HashMismatchEvent, HeartbeatEvent,
  ProtectedApp, RegistrationEvent, RegistrationOperation, ServiceUrl, ViewProtectionEvent, ViewProtectionReason,
} from './registry/eureka/index.js';
export type {
  CheckReport, CheckRun, CheckStatus, HealthCheckFunction, HealthCheckKind, HealthCheckOptions, HealthReport,
  HealthResult,
} from './health/index.js';
export { TtlCheck, bundledCheckScript, httpCheck, scriptCheck, tcpCheck } from './health/checks/index.js';
export type {
  BundledCheckScript, HttpCheckOptions, ScriptCheckOptions, TcpCheckOptions, TtlCheckOptions, TtlReport, TtlStatus,
} from './health/checks/index.js';
export { createMetrics, noopMetrics } from './metrics/index.js';
export type {
  CounterHandle, GaugeHandle, HistogramHandle, MetricOptions, MetricTags, MetricType, Metrics, MetricsOptions,
  MetricsStats, PrometheusExposition, PrometheusOptions, SetHandle, StatsdTarget, TagFormat, TimerHandle,
  UdpStatsdTarget, UnixStatsdTarget,
} from './metrics/index.js';
export type {
  BalancerInstance, BalancerOptions, BalancerRule, BalancerRuleName, BalancerScope, BalancerTarget, EjectionReason,
  InstanceTraffic, LatencyModel, LatencyOptions, OutlierDetectionOptions, RandomSource, SuccessRateOptions,
  ZoneAffinityOptions,
} from './balancer/index.js';
export {
  AdoptedBreaker, CommandError, CommandRegistry, CommandState, command, commandSettingLimits, componentCommands,
  hystrixDefaults, registerComponentCommands,
} from './breaker/index.js';
export type {
  BreakerControls, BulkheadSnapshot, Command, CommandCounts, CommandDecoratorOptions, CommandErrorCode,
  CommandEvents, CommandExecutor, CommandFallback, CommandFallbackEvent, CommandLatency, CommandListener,
  CommandMethodDecorator, CommandOptions, CommandRegistryEvents, CommandRegistryOptions, CommandRejectEvent,
  CommandSettingLimit, CommandSettings, CommandSettingsOptions, CommandSettingsUpdate, CommandSnapshot,
  CommandStateChange, CommandTimeoutEvent, ComponentCommand, ExecuteOptions, HealthCounts, LatencyPercentiles,
  LatencySummary, NumericCommandSetting, OpossumCircuitBreaker, OpossumOptionsView, OpossumStats, RunOptions,
} from './breaker/index.js';
export {
  SHADOW_HEADER, createServiceClient, createShadowTraffic, expressShadowMiddleware, fastifyShadowHook,
  isShadowRequest, shadowMiddleware,
} from './http/index.js';
export type {
  ClientCallEvent, ClientCallOutcome, ClientEjectionEvent, ClientInstanceTrafficEvent, ClientVipEvent,
  CreateServiceClientOptions, FetchFunction, FetchHeadersLike, FetchInit, FetchResponseLike, HeadersHolder,
  HeadersSource, HedgingOptions, InstanceStats, PoolOptions, RequestBody, ResponseBody, ResponseHeaders,
  RetryBudgetOptions, RetryOptions, ServiceClient, ServiceClientOptions, ServiceClientStats, ServiceFetchInit,
  ServiceRequest, ServiceResponse, ShadowCompareOptions, ShadowDifference, ShadowFastifyReply, ShadowFastifyRequest,
  ShadowNoiseOptions, ShadowNoiseReport, ShadowReport, ShadowResponseView, ShadowRoute, ShadowSettings,
  ShadowTargetReport, ShadowTee, ShadowTraffic, ShadowTrafficOptions, ServiceClientEvents, ShadowAnswerEvent,
  ShadowComparisonEvent, ShadowCopyEvent, ShadowCopyOutcome, ShadowMetrics, ShadowSkipEvent, ShadowTrafficEvents,
} from './http/index.js';
export {
  bindProperty, defineConfig, fileSource, filterLogger, karyonConfigSchema, karyonConfigValidators, karyonLiveKeys,
  karyonLiveSettingsSchema, loadSettings, remoteSource, renderTemplate, shadowSettingsSchema,
} from './config/index.js';
export type {
  AnyDynamicConfig, ConfigChangeEvent, ConfigChangeResult, ConfigDescription, ConfigFormat, ConfigHistoryEntry,
  ConfigIssue, ConfigKey, ConfigKeyDescription, ConfigLayer, ConfigRejectedEvent, ConfigRollbackEvent, ConfigSchema,
  ConfigSchemaKey, ConfigSource, ConfigSourceContext, ConfigSourceEvent, ConfigSourceStatus, ConfigTrigger,
  ConfigValidator, ConfigValidators, ConfigValue, DeepReadonly, DynamicConfig, DynamicConfigEvents,
  DynamicConfigOptions, FileSource, FileSourceOptions, KaryonConfig, KaryonLiveSettings, KaryonSettings, KeyChange,
  LogLevel, Property, PropertyListener, RemoteFormat, RemoteSource, RemoteSourceOptions, RollbackOptions,
  SettingsSources, ShadowLiveSettings, SourceContent, SourceOrigin, SourceUpdateOutcome, TemplateOptions,
  TemplateRenderedEvent, TemplateRenderer, TemplateRendererEvents,
} from './config/index.js';
export { adminRoles, loadAdminTokens } from './admin/index.js';
export type {
  AdminAccess, AdminOptions, AdminPrincipal, AdminRateLimitOptions, AdminRole, AdminTokenOptions, AdminTokenSources,
  AdminServer, AdminUiOptions, AuditLog, AuditLogOptions,
} from './admin/index.js';
export {
  LifecycleState, Service, allowedTransitions, canTransition, createService, healthCheck, initialize, installSignalHandlers,
  onShutdown, serviceOptionsFromSettings,
} from './lifecycle/index.js';
export type {
  HealthCheckMethodDecorator, HealthMethodReport, HealthMethodResult, HookMethodDecorator, HookOptions, InstanceIdentityOptions, LeaseOptions,
  LifecycleHook, LifecycleOptions, ServiceEvents, ServiceOptions, ServiceShadowOptions,
  SignalHandlerOptions, StateChange, Stoppable,
} from './lifecycle/index.js';
