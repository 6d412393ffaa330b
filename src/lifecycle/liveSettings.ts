// How a service follows its dynamic configuration: the configuration metrics, the rollback on a readiness failure,
// and the library's live keys it has (log level, balancer rule, retry budget, breaker defaults, shadow, and what
// the registry follows, such as Eureka's intervals).
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import type { CommandSettingsOptions } from '../breaker/CommandSettings.js';
import type { Logger } from '../common/Logger.js';
import { bindConfigMetrics } from '../config/bindConfigMetrics.js';
import type { DynamicConfig } from '../config/DynamicConfig.js';
import { shadowLiveSettings } from '../config/karyonConfigSchema.js';
import type { LogLevel } from '../config/karyonConfigSchema.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import { errorMessage } from '../internal/async.js';
import { configMetrics } from '../metrics/builtin.js';
import type { Metrics } from '../metrics/types.js';
import type { ServiceClients } from './ServiceClients.js';
import type { ShutdownStack } from './ShutdownStack.js';

/** What a service's configuration drives. */
export interface LiveTargets {
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** True when the configuration is the service's own (no `config` option): its defaults are already in force. */
  readonly ownConfig: boolean;
  setLogLevel(level: LogLevel): void;
  readonly clients: ServiceClients;
  readonly commands: CommandRegistry;
  readonly shadow: ShadowTraffic | undefined;
  /** The live keys the registry follows, each with how to apply a value. */
  readonly registrySettings: Readonly<Record<string, (value: unknown) => void>>;
  /** Rolls back a change when readiness turns critical within `windowMs` (the `configRollback` option). */
  readonly rollback?: {
    readonly windowMs: number;
    isHealthy(): boolean;
    onHealthChange(listener: (ready: boolean) => void): () => void;
  };
}

const breakerKeys: Record<string, keyof CommandSettingsOptions> = {
  'breaker.errorThresholdPercentage': 'errorThresholdPercentage',
  'breaker.requestVolumeThreshold': 'requestVolumeThreshold',
  'breaker.sleepWindowMs': 'sleepWindowMs',
  'breaker.timeoutMs': 'timeoutMs',
};

const retryKeys = ['retry.budgetPercent', 'retry.minRetriesPerSecond', 'retry.budgetWindowMs'];

/** Makes `targets` follow `config`; returns the functions that stop following. */
export function bindLiveSettings(config: DynamicConfig<object>, targets: LiveTargets): (() => void)[] {
  const bindings: (() => void)[] = [bindConfigMetrics(config, configMetrics(targets.metrics))];
  if (targets.rollback !== undefined) bindings.push(config.watchReadiness(targets.rollback));
  // The service's own configuration defaults to what the service runs with: only a key set otherwise (the
  // environment, an argument) applies at start. A configuration given applies every key it has.
  const layers = new Map(config.describe().keys.map((entry) => [entry.key, entry.layer]));
  const setElsewhere = (key: string): boolean => !targets.ownConfig || layers.get(key) !== 'default';
  const follow = (key: string, apply: (value: unknown) => void): void => {
    if (!config.hasKey(key)) return;
    const property = config.property(key as never) as { get(): unknown; onChange(fn: (value: unknown) => void): () => void };
    if (setElsewhere(key)) apply(property.get());
    bindings.push(property.onChange((value) => apply(value)));
  };
  follow('log.level', (level) => targets.setLogLevel(level as LogLevel));
  follow('balancer.rule', (rule) => targets.clients.setDefaultRule(rule as string));
  if (retryKeys.every((key) => config.hasKey(key))) {
    const applyBudget = (): void => {
      const get = (key: string): number => config.get(key as never);
      targets.clients.setRetryBudget({ ratio: get('retry.budgetPercent') / 100, minRetriesPerSecond: get('retry.minRetriesPerSecond'), ttlMs: get('retry.budgetWindowMs') });
    };
    if (retryKeys.some(setElsewhere)) applyBudget();
    bindings.push(
      config.onChange((event) => {
        if (event.changes.some((change) => retryKeys.includes(change.key))) applyBudget();
      }),
    );
  }
  for (const [key, setting] of Object.entries(breakerKeys)) {
    // Commands take whole percentages, as Hystrix does.
    follow(key, (value) => targets.commands.setDefaults({ [setting]: setting === 'errorThresholdPercentage' ? Math.round(value as number) : value }));
  }
  const shadow = targets.shadow;
  if (shadow !== undefined) {
    for (const setting of shadowLiveSettings) {
      follow(`shadow.${setting}`, (value) => {
        try {
          shadow.setOptions({ [setting]: value });
        } catch (error) {
          targets.logger.warn(`shadow.${setting} not applied: ${errorMessage(error)}`, { service: targets.name });
        }
      });
    }
  }
  for (const [key, apply] of Object.entries(targets.registrySettings)) follow(key, apply);
  return bindings;
}

/**
 * The start step of a service's configuration: starts it (unless already started; then it is closed at the end
 * of stop()), then makes `targets` follow it until stop() unbinds them.
 */
export function followConfig(config: DynamicConfig<object> | undefined, targets: LiveTargets, shutdown: ShutdownStack): (signal: AbortSignal) => Promise<void> {
  return async (signal) => {
    if (config === undefined) return;
    if (!config.started) {
      shutdown.add('owned', 'closing the configuration', () => config.close());
      await config.start(signal);
    }
    const bindings = bindLiveSettings(config, targets);
    shutdown.add('owned', 'unbinding the configuration', () => {
      for (const unbind of bindings) unbind();
    });
  };
}
