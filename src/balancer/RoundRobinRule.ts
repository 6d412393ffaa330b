import type { BalancerInstance, BalancerRule } from './BalancerRule.js';

/** `round-robin`: each candidate in turn, with no feedback at all (Ribbon's RoundRobinRule). */
export class RoundRobinRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'round-robin';
  #next = 0;

  pick<I extends BalancerInstance>(candidates: readonly I[], _now: number, avoid: I | undefined): I | undefined {
    const n = candidates.length;
    if (this.#next >= n) this.#next = 0;
    let chosen = candidates[this.#next++] as I;
    if (chosen === avoid) {
      if (n === 1) return undefined;
      if (this.#next >= n) this.#next = 0;
      chosen = candidates[this.#next++] as I;
    }
    return chosen;
  }
}
