export { createMetrics } from './createMetrics.js';
export { noopMetrics } from './noopMetrics.js';
export { resolveMetricsOptions } from './MetricsOptions.js';
export type { MetricsOptions, PrometheusOptions, ResolvedMetricsOptions, ResolvedPrometheusOptions, StatsdTarget, UdpStatsdTarget, UnixStatsdTarget } from './MetricsOptions.js';
export { PrometheusRegistry } from './PrometheusRegistry.js';
export type { PrometheusFamilyOptions, PrometheusSeries, PrometheusSeriesOf } from './PrometheusRegistry.js';
export { CounterSeries, GaugeSeries, HistogramSeries, SetSeries } from './PrometheusRegistry.js';
export { prometheusContentType } from './prometheusText.js';
export { metricsAdminRoutes } from './metricsAdminRoutes.js';
export { bindClientMetrics } from './bindClientMetrics.js';
export type { ClientEventSource } from './bindClientMetrics.js';
export { bindShadowMetrics } from './bindShadowMetrics.js';
export type { ShadowEventSource } from './bindShadowMetrics.js';
export { BreakerMetricsReporter } from './BreakerMetricsReporter.js';
export {
  adminMetrics,
  breakerMetrics,
  builtinMetrics,
  clientMetrics,
  configMetrics,
  healthMetrics,
  lifecycleMetrics,
  registryMetrics,
  shadowMetrics,
  statusClass,
} from './builtin.js';
export type {
  AdminMetrics,
  BreakerMetrics,
  BuiltinMetric,
  BuiltinMetricKey,
  ClientMetrics,
  ConfigMetrics,
  HealthMetrics,
  LifecycleMetrics,
  RegistryMetrics,
  ShadowMetrics,
} from './builtin.js';
export type {
  CounterHandle,
  GaugeHandle,
  HistogramHandle,
  MetricOptions,
  Metrics,
  MetricsStats,
  MetricType,
  PrometheusExposition,
  SetHandle,
  TagFormat,
  MetricTags,
  TimerHandle,
} from './types.js';
