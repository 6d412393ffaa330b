import { jitter } from '../../internal/async.js';
import type { ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';

/**
 * The delay before the next try after `failures` consecutive failures (1 = the first): the initial delay
 * multiplied once per earlier failure, capped at `intervalMs` (the heartbeat or fetch interval of the work that
 * failed) and at `retryMaxDelayMs`, then jittered.
 *
 * The interval cap is what brings an instance back within about one interval once a registry returns from an
 * outage, while a fleet retrying through the outage sends no more than it would with normal heartbeats; the
 * jitter around it keeps a fleet that failed together from returning in one burst.
 */
export function retryDelayMs(
  failures: number,
  options: Pick<ResolvedEurekaRegistryOptions, 'retryInitialDelayMs' | 'retryMaxDelayMs' | 'retryMultiplier' | 'jitterRatio'>,
  intervalMs: number = options.retryMaxDelayMs,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failures - 1);
  const ceiling = Math.min(options.retryMaxDelayMs, intervalMs);
  const delay = Math.min(ceiling, options.retryInitialDelayMs * options.retryMultiplier ** exponent);
  return Math.min(options.retryMaxDelayMs, jitter(delay, options.jitterRatio, random));
}
