import { jitter } from '../../internal/async.js';
import type { ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';

/**
 * The delay before the next try after `failures` consecutive failures (1 = the first): the initial delay
 * multiplied once per earlier failure, capped, then jittered.
 */
export function retryDelayMs(
  failures: number,
  options: Pick<ResolvedEurekaRegistryOptions, 'retryInitialDelayMs' | 'retryMaxDelayMs' | 'retryMultiplier' | 'jitterRatio'>,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failures - 1);
  const delay = Math.min(options.retryMaxDelayMs, options.retryInitialDelayMs * options.retryMultiplier ** exponent);
  return Math.min(options.retryMaxDelayMs, jitter(delay, options.jitterRatio, random));
}
