import type convict from 'convict';
import type { ConfigValidators } from './DynamicConfig.js';
import { karyonSettingsSchema } from './schema.js';
import type { KaryonSettings } from './schema.js';

/** A log level; `silent` drops every line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** The log levels, quietest last. */
export const logLevels: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error', 'silent']);

/**
 * The names of the balancer rules the `balancer.rule` key accepts (the balancer's built-in rules, kept in step
 * with them).
 */
export const balancerRuleSettingNames: readonly string[] = Object.freeze(['round-robin', 'random', 'weighted-response-time', 'least-loaded', 'p2c-ewma', 'zone-avoidance']);

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

/** The convict schema of {@link KaryonLiveSettings}. */
export const karyonLiveSettingsSchema: convict.Schema<KaryonLiveSettings> = {
  balancer: {
    rule: { doc: 'Default balancer rule of service clients', format: [...balancerRuleSettingNames], default: 'p2c-ewma', env: 'KARYON_BALANCER_RULE', arg: 'balancer-rule' },
  },
  retry: {
    budgetPercent: { doc: 'Retries allowed as a percentage of requests', format: numberBetween(0, 100), default: 20, env: 'KARYON_RETRY_BUDGET_PERCENT', arg: 'retry-budget-percent' },
    minRetriesPerSecond: { doc: 'Retries always allowed per second', format: 'nat', default: 10, env: 'KARYON_RETRY_MIN_PER_SECOND', arg: 'retry-min-per-second' },
    budgetWindowMs: { doc: 'Window of the retry budget, ms', format: positiveInteger, default: 10_000, env: 'KARYON_RETRY_BUDGET_WINDOW_MS', arg: 'retry-budget-window-ms' },
  },
  breaker: {
    errorThresholdPercentage: { doc: 'Error percentage that opens a breaker', format: numberBetween(0, 100), default: 50, env: 'KARYON_BREAKER_ERROR_PERCENT', arg: 'breaker-error-percent' },
    requestVolumeThreshold: { doc: 'Requests in the window before a breaker may open', format: 'nat', default: 20, env: 'KARYON_BREAKER_VOLUME_THRESHOLD', arg: 'breaker-volume-threshold' },
    sleepWindowMs: { doc: 'Wait of an open breaker before a trial request, ms', format: positiveInteger, default: 5000, env: 'KARYON_BREAKER_SLEEP_WINDOW_MS', arg: 'breaker-sleep-window-ms' },
    timeoutMs: { doc: 'Command timeout, ms', format: positiveInteger, default: 1000, env: 'KARYON_BREAKER_TIMEOUT_MS', arg: 'breaker-timeout-ms' },
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
export const karyonConfigSchema: convict.Schema<KaryonConfig> = { ...karyonSettingsSchema, ...karyonLiveSettingsSchema };

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
