import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';
import { pickTwo } from './BalancerRule.js';

/** Finagle's and Linkerd's cost: the latency estimate, scaled by the queue the request would join. */
function peakEwmaCost(instance: BalancerInstance, now: number): number {
  return instance.latencyMs(now) * (instance.pending + 1);
}

/**
 * `p2c-ewma`, the default rule: power of two choices on peak-EWMA latency x (requests in flight + 1).
 * A slow instance is noticed on its first slow answer (the estimate jumps to the peak) and then loses
 * almost every comparison; an idle one's estimate decays so it is tried again before long.
 */
export class PeakEwmaRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'p2c-ewma';
  readonly #random: RandomSource;

  /** @param random - random source in [0, 1) */
  constructor(random: RandomSource = Math.random) {
    this.#random = random;
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    return pickTwo(candidates, now, avoid, this.#random, peakEwmaCost);
  }
}
