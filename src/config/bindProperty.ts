import type { DynamicConfig } from './DynamicConfig.js';
import type { ConfigKey, ConfigValue, DeepReadonly } from './types.js';

/**
 * Applies the value of `key` now and again after every change of it: the seam through which a subsystem
 * (balancer, retry budget, breakers, heartbeat and fetch intervals, log level) follows a live setting.
 * A throw from `apply` at binding time reaches the caller; a throw on a later change is logged by the
 * configuration and does not stop other listeners.
 *
 * @returns a function that stops following the key.
 * @throws KaryonError ERR_INVALID_CONFIG for an unknown key, ERR_INVALID_STATE before the configuration started.
 *
 * @example
 * ```ts
 * const unbind = bindProperty(config, 'balancer.rule', (rule) => balancer.setRule(rule));
 * ```
 */
export function bindProperty<T extends object, K extends ConfigKey<T>>(
  config: DynamicConfig<T>,
  key: K,
  apply: (value: DeepReadonly<ConfigValue<T, K>>, previous: DeepReadonly<ConfigValue<T, K>> | undefined) => void,
): () => void {
  const property = config.property(key);
  apply(property.get(), undefined);
  return property.onChange((value, previous) => apply(value, previous));
}
