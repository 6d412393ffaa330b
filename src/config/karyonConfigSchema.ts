import { balancerRuleNames } from '../balancer/BalancerRule.js';
import { MAX_TIMER_MS } from '../common/Clock.js';
import type { ConfigSchema } from './ConfigSchema.js';
import type { ConfigValidators } from './DynamicConfigOptions.js';
import { karyonSettingsSchema } from './schema.js';
import type { KaryonSettings } from './schema.js';

/** A log level; `silent` drops every line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The log levels, quietest last. */
export const logLevels: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error', 'silent']);

/** The names of the balancer rules the `balancer.rule` key accepts: the balancer's built-in rules. */
export const balancerRuleSettingNames: readonly string[] = Object.freeze([...balancerRuleNames]);

/** The library's settings that take effect live when a {@link DynamicConfig} changes them. */
export interface KaryonLiveSettings {
  /** Client-side load balancing. */
  readonly balancer: {
    /** The default rule of service clients (`KARYON_BALANCER_RULE`). */
    readonly rule: string;
  };
  /** Retry budgets (Finagle-style: retries up to a share of requests plus a floor). */
  readonly retry: {
    /** Retries allowed as a percentage of requests (`KARYON_RETRY_BUDGET_PERCENT`). */
    readonly budgetPercent: number;
    /** Retries always allowed per second, whatever the share (`KARYON_RETRY_MIN_PER_SECOND`). */
    readonly minRetriesPerSecond: number;
    /** Window the budget is counted over, ms (`KARYON_RETRY_BUDGET_WINDOW_MS`). */
    readonly budgetWindowMs: number;
  };
  /** Circuit breakers (Hystrix's defaults). */
  readonly breaker: {
    /** Error percentage that opens a breaker (`KARYON_BREAKER_ERROR_PERCENT`). */
    readonly errorThresholdPercentage: number;
    /** Requests in the window before a breaker may open (`KARYON_BREAKER_VOLUME_THRESHOLD`). */
    readonly requestVolumeThreshold: number;
    /** How long an open breaker waits before a trial request, ms (`KARYON_BREAKER_SLEEP_WINDOW_MS`). */
    readonly sleepWindowMs: number;
    /** Command timeout, ms (`KARYON_BREAKER_TIMEOUT_MS`). */
    readonly timeoutMs: number;
  };
  /** Logging. */
  readonly log: {
    /** The lowest level written (`KARYON_LOG_LEVEL`). */
    readonly level: LogLevel;
  };
}

/** Every setting of the library: the static {@link KaryonSettings} and the {@link KaryonLiveSettings}. */
export interface KaryonConfig extends KaryonSettings, KaryonLiveSettings {}

function numberBetween(min: number, max: number) {
  return (value: unknown): void => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`must be a number from ${min} to ${max}`);
    }
  };
}

function positiveInteger(value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new Error('must be a positive integer');
}

/**
 * An integer from `min` to `max`. Durations stop at the longest delay a timer waits (`MAX_TIMER_MS`), as the
 * commands and clients they configure require: a value they would refuse is refused here, so the last good
 * configuration stays in force everywhere.
 */
function integerBetween(min: number, max: number) {
  return (value: unknown): void => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}`);
    }
  };
}

/** The convict schema of {@link KaryonLiveSettings}. */
export const karyonLiveSettingsSchema: ConfigSchema<KaryonLiveSettings> = {
  balancer: {
    rule: { doc: 'Default balancer rule of service clients', format: [...balancerRuleSettingNames], default: 'p2c-ewma', env: 'KARYON_BALANCER_RULE', arg: 'balancer-rule' },
  },
  retry: {
    budgetPercent: { doc: 'Retries allowed as a percentage of requests', format: numberBetween(0, 100), default: 20, env: 'KARYON_RETRY_BUDGET_PERCENT', arg: 'retry-budget-percent' },
    minRetriesPerSecond: { doc: 'Retries always allowed per second', format: 'nat', default: 10, env: 'KARYON_RETRY_MIN_PER_SECOND', arg: 'retry-min-per-second' },
    budgetWindowMs: { doc: 'Window of the retry budget, ms', format: integerBetween(1, MAX_TIMER_MS), default: 10_000, env: 'KARYON_RETRY_BUDGET_WINDOW_MS', arg: 'retry-budget-window-ms' },
  },
  breaker: {
    errorThresholdPercentage: { doc: 'Error percentage that opens a breaker', format: numberBetween(0, 100), default: 50, env: 'KARYON_BREAKER_ERROR_PERCENT', arg: 'breaker-error-percent' },
    requestVolumeThreshold: { doc: 'Requests in the window before a breaker may open', format: integerBetween(0, MAX_TIMER_MS), default: 20, env: 'KARYON_BREAKER_VOLUME_THRESHOLD', arg: 'breaker-volume-threshold' },
    sleepWindowMs: { doc: 'Wait of an open breaker before a trial request, ms', format: integerBetween(1, MAX_TIMER_MS), default: 5000, env: 'KARYON_BREAKER_SLEEP_WINDOW_MS', arg: 'breaker-sleep-window-ms' },
    timeoutMs: { doc: 'Command timeout, ms; 0 = none', format: integerBetween(0, MAX_TIMER_MS), default: 1000, env: 'KARYON_BREAKER_TIMEOUT_MS', arg: 'breaker-timeout-ms' },
  },
  log: {
    level: { doc: 'Lowest log level written', format: [...logLevels], default: 'info', env: 'KARYON_LOG_LEVEL', arg: 'log-level' },
  },
};

/**
 * The convict schema of every library setting ({@link KaryonConfig}): give it to {@link defineConfig} to make
 * the library's own settings live, or spread it into your schema next to your keys.
 *
 * @example
 * ```ts
 * const config = defineConfig<KaryonConfig>({ schema: karyonConfigSchema, validators: karyonConfigValidators, env: process.env });
 * ```
 */
export const karyonConfigSchema: ConfigSchema<KaryonConfig> = { ...karyonSettingsSchema, ...karyonLiveSettingsSchema };

/** Shadow traffic settings a configuration may change live (see {@link shadowSettingsSchema}). */
export interface ShadowLiveSettings {
  /** Shadow traffic of the service (its `shadow` option). */
  readonly shadow: {
    /** The kill switch: false stops teeing at once (`KARYON_SHADOW_ENABLED`). */
    readonly enabled: boolean;
    /** Share of the matching requests copied, from 0 to 1 (`KARYON_SHADOW_RATE`). */
    readonly rate: number;
    /** Copies in flight at once, per shadow VIP (`KARYON_SHADOW_MAX_CONCURRENT`). */
    readonly maxConcurrent: number;
    /** Copies waiting for a slot, per shadow VIP (`KARYON_SHADOW_MAX_QUEUE`). */
    readonly maxQueue: number;
    /** Largest request body copied, in bytes (`KARYON_SHADOW_MAX_BODY_BYTES`). */
    readonly maxBodyBytes: number;
    /** Copy POST and PATCH requests too (`KARYON_SHADOW_ALLOW_NON_IDEMPOTENT`). */
    readonly allowNonIdempotent: boolean;
  };
}

/** The `shadow.*` keys a service follows, by setting name. */
export const shadowLiveSettings = Object.freeze(['enabled', 'rate', 'maxConcurrent', 'maxQueue', 'maxBodyBytes', 'allowNonIdempotent'] as const);

/**
 * The convict schema of {@link ShadowLiveSettings}, with the shadow traffic defaults. Not part of
 * {@link karyonConfigSchema}: spread it into a service's schema to change its shadow traffic live (its values
 * then replace those of the service's `shadow` option, from the start).
 *
 * @example
 * ```ts
 * const config = defineConfig({ schema: { ...karyonConfigSchema, ...shadowSettingsSchema }, env: process.env });
 * createService({ name: 'greeter', config, shadow: { vip: 'greeter-next' } });
 * // KARYON_SHADOW_RATE=0.1, or: curl -X PUT -d '0.1' http://127.0.0.1:8077/config/shadow.rate
 * ```
 */
export const shadowSettingsSchema: ConfigSchema<ShadowLiveSettings> = {
  shadow: {
    enabled: { doc: 'Shadow traffic kill switch', format: Boolean, default: true, env: 'KARYON_SHADOW_ENABLED', arg: 'shadow-enabled' },
    rate: { doc: 'Share of the matching requests copied to the shadow', format: numberBetween(0, 1), default: 1, env: 'KARYON_SHADOW_RATE', arg: 'shadow-rate' },
    maxConcurrent: { doc: 'Shadow copies in flight per shadow VIP', format: positiveInteger, default: 16, env: 'KARYON_SHADOW_MAX_CONCURRENT', arg: 'shadow-max-concurrent' },
    maxQueue: { doc: 'Shadow copies waiting per shadow VIP', format: 'nat', default: 64, env: 'KARYON_SHADOW_MAX_QUEUE', arg: 'shadow-max-queue' },
    maxBodyBytes: { doc: 'Largest request body copied to the shadow, bytes', format: 'nat', default: 65_536, env: 'KARYON_SHADOW_MAX_BODY_BYTES', arg: 'shadow-max-body-bytes' },
    allowNonIdempotent: { doc: 'Copy POST and PATCH requests to the shadow', format: Boolean, default: false, env: 'KARYON_SHADOW_ALLOW_NON_IDEMPOTENT', arg: 'shadow-allow-non-idempotent' },
  },
};

/**
 * The keys of {@link KaryonConfig} that take effect live (the others, such as ports, are read at start).
 */
export const karyonLiveKeys = Object.freeze([
  'balancer.rule',
  'retry.budgetPercent',
  'retry.minRetriesPerSecond',
  'retry.budgetWindowMs',
  'breaker.errorThresholdPercentage',
  'breaker.requestVolumeThreshold',
  'breaker.sleepWindowMs',
  'breaker.timeoutMs',
  'eureka.heartbeatIntervalMs',
  'eureka.registryFetchIntervalMs',
  'log.level',
] as const);

/**
 * Checks across the library's keys that formats cannot express: intervals that must not be 0 once live (a
 * 0 ms heartbeat would hammer the registry).
 */
export const karyonConfigValidators: ConfigValidators<KaryonConfig> = Object.freeze({
  'eureka.heartbeatIntervalMs': (value: number) => value > 0 || 'must be above 0 ms',
  'eureka.registryFetchIntervalMs': (value: number) => value > 0 || 'must be above 0 ms',
});
