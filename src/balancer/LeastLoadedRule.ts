import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';
import { pickTwo } from './BalancerRule.js';

function pendingCost(instance: BalancerInstance, _now?: number): number {
  return instance.pending;
}

/**
 * `least-loaded`: power of two choices on requests in flight. Unlike Ribbon's BestAvailableRule it does not
 * scan every instance, and unlike a strict minimum it does not send a burst to the same idle instance.
 */
export class LeastLoadedRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'least-loaded';
  readonly #random: RandomSource;

  /** @param random - random source in [0, 1) */
  constructor(random: RandomSource = Math.random) {
    this.#random = random;
  }

  cost(instance: BalancerInstance, now: number): number {
    return pendingCost(instance, now);
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    return pickTwo(candidates, now, avoid, this.#random, pendingCost);
  }
}
