import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { defineConfig } from '../config/DynamicConfig.js';
import type { DynamicConfig } from '../config/DynamicConfig.js';
import { karyonConfigSchema, karyonConfigValidators, karyonLiveSettingsSchema, shadowSettingsSchema } from '../config/karyonConfigSchema.js';
import type { LogLevel } from '../config/karyonConfigSchema.js';
import { karyonSettingsSchema, sourcesOfSettings } from '../config/schema.js';
import type { KaryonSettings } from '../config/schema.js';
import type { ResolvedShadowSettings } from '../http/shadow/ShadowOptions.js';

/** What a service without a `config` option knows of its own settings. */
export interface ServiceConfigInputs {
  /** The settings its options were made from (`serviceOptionsFromSettings`), if any. */
  readonly settings: KaryonSettings | undefined;
  /** The log level in force at creation. */
  readonly logLevel: LogLevel;
  /** The Eureka client's intervals, when the service made one. */
  readonly eureka: { readonly heartbeatIntervalMs: number; readonly registryFetchIntervalMs: number } | undefined;
  /** The shadow traffic settings, when the service has shadow traffic. */
  readonly shadow: ResolvedShadowSettings | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

type Schema = Record<string, unknown>;

/**
 * The configuration of a service given none: the library's live keys (log level, balancer rule, retry budget,
 * breaker defaults, Eureka intervals, shadow), and, when its options came from `loadSettings()`, every setting
 * with the layer it came from (defaults, values in code, environment, arguments). Each default is the value
 * the service runs with, so the configuration changes nothing until someone changes a key.
 */
export function serviceConfig(inputs: ServiceConfigInputs): DynamicConfig<object> {
  const sources = inputs.settings === undefined ? undefined : sourcesOfSettings(inputs.settings);
  const defaults: Record<string, unknown> = { log: { level: inputs.logLevel } };
  let schema: Schema;
  if (sources !== undefined) {
    // Values given in code are the application's defaults; the environment and arguments are read again.
    schema = withDefaults(karyonConfigSchema, { ...(sources.values ?? {}), ...defaults });
  } else {
    schema = withDefaults(karyonLiveSettingsSchema, defaults);
    if (inputs.eureka !== undefined) {
      const eureka = karyonSettingsSchema.eureka as unknown as Schema;
      schema.eureka = withDefaults({ heartbeatIntervalMs: eureka.heartbeatIntervalMs, registryFetchIntervalMs: eureka.registryFetchIntervalMs }, inputs.eureka);
    }
  }
  if (inputs.shadow !== undefined) {
    const { enabled, rate, maxConcurrent, maxQueue, maxBodyBytes, allowNonIdempotent } = inputs.shadow;
    Object.assign(schema, withDefaults(shadowSettingsSchema as unknown as Schema, { shadow: { enabled, rate, maxConcurrent, maxQueue, maxBodyBytes, allowNonIdempotent } }));
  }
  const hasEureka = typeof schema.eureka === 'object';
  return defineConfig<object>({
    schema: schema,
    ...(hasEureka ? { validators: karyonConfigValidators } : {}),
    ...(sources?.env === undefined ? {} : { env: sources.env }),
    ...(sources?.argv === undefined ? {} : { argv: sources.argv }),
    clock: inputs.clock,
    logger: inputs.logger,
  });
}

/** A copy of a convict schema whose defaults are `values` where given (same shape as the settings). */
function withDefaults(schema: Schema, values: Readonly<Record<string, unknown>>): Schema {
  const copy: Schema = {};
  for (const [key, node] of Object.entries(schema)) {
    const value = values[key];
    if (typeof node !== 'object' || node === null) {
      copy[key] = node;
    } else if ('default' in node || 'format' in node) {
      copy[key] = value === undefined ? node : { ...node, default: value };
    } else {
      copy[key] = withDefaults(node as Schema, typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
    }
  }
  return copy;
}
