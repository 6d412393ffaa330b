export { loadSettings, karyonSettingsSchema } from './schema.js';
export type { KaryonSettings, SettingsSources } from './schema.js';
export type { ConfigFormat, ConfigSchema, ConfigSchemaKey } from './ConfigSchema.js';
export { DynamicConfig, defineConfig } from './DynamicConfig.js';
export type { AnyDynamicConfig, ConfigChangeResult, ConfigValidator, ConfigValidators, DynamicConfigOptions, RollbackOptions } from './DynamicConfig.js';
export type { Property, PropertyListener } from './Property.js';
export { FileSource, fileSource } from './FileSource.js';
export type { FileSourceOptions } from './FileSource.js';
export { RemoteSource, remoteSource } from './RemoteSource.js';
export type { RemoteFormat, RemoteSourceOptions } from './RemoteSource.js';
export { parseProperties } from './parseProperties.js';
export { TemplateRenderer, renderTemplate } from './TemplateRenderer.js';
export type { TemplateOptions, TemplateRenderedEvent, TemplateRendererEvents } from './TemplateRenderer.js';
export { configAdminRoutes } from './configAdminRoutes.js';
export { bindProperty } from './bindProperty.js';
export { bindConfigMetrics } from './bindConfigMetrics.js';
export type { ConfigMetricsSink } from './bindConfigMetrics.js';
export { filterLogger } from './filterLogger.js';
export {
  balancerRuleSettingNames,
  karyonConfigSchema,
  karyonConfigValidators,
  karyonLiveKeys,
  karyonLiveSettingsSchema,
  logLevels,
  shadowLiveSettings,
  shadowSettingsSchema,
} from './karyonConfigSchema.js';
export type { KaryonConfig, KaryonLiveSettings, LogLevel, ShadowLiveSettings } from './karyonConfigSchema.js';
export type {
  ConfigChangeEvent,
  ConfigDescription,
  ConfigHistoryEntry,
  ConfigIssue,
  ConfigKey,
  ConfigKeyDescription,
  ConfigLayer,
  ConfigRejectedEvent,
  ConfigRollbackEvent,
  ConfigSource,
  ConfigSourceContext,
  ConfigSourceEvent,
  ConfigSourceStatus,
  ConfigTrigger,
  ConfigValue,
  DeepReadonly,
  DynamicConfigEvents,
  KeyChange,
  SourceContent,
  SourceOrigin,
  SourceUpdateOutcome,
} from './types.js';
