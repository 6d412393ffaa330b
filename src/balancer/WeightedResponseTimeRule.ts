import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';
import { invalidOption } from '../internal/validate.js';

/** Options of {@link WeightedResponseTimeRule}. */
export interface WeightedResponseTimeOptions {
  /**
   * How often the weights are recomputed from the latency averages, in ms (Ribbon: 30 s).
   * @default 1000
   */
  readonly refreshMs?: number;
  /**
   * Random source in [0, 1).
   * @default Math.random
   */
  readonly random?: RandomSource;
}

/**
 * `weighted-response-time`: Ribbon's WeightedResponseTimeRule, where an instance's weight is the sum of every
 * instance's mean latency minus its own, but on a decaying average (so a healed instance is forgiven within
 * seconds, where Ribbon's lifetime mean keeps the penalty for good). Weights are turned into Vose alias
 * tables when they are recomputed, so a pick is O(1) whatever the number of instances.
 */
export class WeightedResponseTimeRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'weighted-response-time';
  readonly #random: RandomSource;
  readonly #refreshMs: number;
  #source: readonly BalancerInstance[] | undefined;
  #builtAt = Number.NEGATIVE_INFINITY;
  #probability = new Float64Array(0);
  #alias = new Int32Array(0);
  #small = new Int32Array(0);
  #large = new Int32Array(0);

  /** @param options - refresh period and random source */
  constructor(options: WeightedResponseTimeOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.#refreshMs = options.refreshMs ?? 1000;
    if (typeof this.#refreshMs !== 'number' || !(this.#refreshMs >= 0)) {
      invalidOption('weightedResponseTime.refreshMs', 'a non-negative number of milliseconds', this.#refreshMs);
    }
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    const n = candidates.length;
    if (candidates !== this.#source || now - this.#builtAt >= this.#refreshMs) this.#build(candidates, now);
    let chosen = candidates[this.#draw(n)] as I;
    if (chosen === avoid) {
      if (n === 1) return undefined;
      // One more weighted draw, then the next slot: a retry must not wait for luck.
      chosen = candidates[this.#draw(n)] as I;
      if (chosen === avoid) chosen = candidates[(avoid.slot + 1) % n] as I;
    }
    return chosen;
  }

  #draw(n: number): number {
    const scaled = this.#random() * n;
    const column = Math.floor(scaled);
    return scaled - column < (this.#probability[column] as number) ? column : (this.#alias[column] as number);
  }

  #build(candidates: readonly BalancerInstance[], now: number): void {
    const n = candidates.length;
    this.#source = candidates;
    this.#builtAt = now;
    if (this.#probability.length < n) {
      this.#probability = new Float64Array(n);
      this.#alias = new Int32Array(n);
      this.#small = new Int32Array(n);
      this.#large = new Int32Array(n);
    }
    const probability = this.#probability;
    const alias = this.#alias;
    let total = 0;
    for (let i = 0; i < n; i++) total += (candidates[i] as BalancerInstance).averageLatencyMs;
    let weightSum = 0;
    for (let i = 0; i < n; i++) {
      const weight = Math.max(0, total - (candidates[i] as BalancerInstance).averageLatencyMs);
      probability[i] = weight;
      weightSum += weight;
    }
    if (!(weightSum > 0)) {
      // One instance, or no latency known: every instance weighs the same.
      for (let i = 0; i < n; i++) {
        probability[i] = 1;
        alias[i] = i;
      }
      return;
    }
    // Vose's alias method: scale weights to mean 1, then pair each light column with a heavy one.
    const small = this.#small;
    const large = this.#large;
    let smallCount = 0;
    let largeCount = 0;
    for (let i = 0; i < n; i++) {
      const scaled = ((probability[i] as number) * n) / weightSum;
      probability[i] = scaled;
      alias[i] = i;
      if (scaled < 1) small[smallCount++] = i;
      else large[largeCount++] = i;
    }
    while (smallCount > 0 && largeCount > 0) {
      const light = small[--smallCount] as number;
      const heavy = large[largeCount - 1] as number;
      alias[light] = heavy;
      const rest = (probability[heavy] as number) + (probability[light] as number) - 1;
      probability[heavy] = rest;
      if (rest < 1) {
        largeCount--;
        small[smallCount++] = heavy;
      }
    }
    // Whatever is left is 1 up to rounding.
    while (largeCount > 0) probability[large[--largeCount] as number] = 1;
    while (smallCount > 0) probability[small[--smallCount] as number] = 1;
  }
}
