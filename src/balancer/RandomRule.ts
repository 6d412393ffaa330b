import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';

/** `random`: a uniformly random candidate. */
export class RandomRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'random';
  readonly #random: RandomSource;

  /** @param random - random source in [0, 1) */
  constructor(random: RandomSource = Math.random) {
    this.#random = random;
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], _now: number, avoid: I | undefined): I | undefined {
    const n = candidates.length;
    if (avoid === undefined || avoid.slot < 0 || candidates[avoid.slot] !== avoid) {
      return candidates[Math.floor(this.#random() * n)];
    }
    if (n === 1) return undefined;
    // Uniform over the others: draw among n - 1 slots and skip the avoided one.
    const index = Math.floor(this.#random() * (n - 1));
    return candidates[index >= avoid.slot ? index + 1 : index];
  }
}
