import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';
import { pickTwo } from './BalancerRule.js';

/**
 * The expected wait at an instance: its latency estimate, scaled by the square root of the queue the request
 * would join. Finagle and Linkerd scale by the queue itself (requests in flight + 1), which assumes an
 * instance works on one request at a time; a server works on many at once, and its estimate already rises
 * with the queueing it does. With the full queue, fast instances carrying 8 requests each look as costly as
 * an idle instance 9x slower, and the slow instance is sent its share exactly when the load is highest. The
 * square root keeps the preference among equally fast instances (the least loaded wins) while a busy fast
 * instance stays cheaper than an idle slow one up to (ratio of their latencies)^2 requests in flight.
 *
 * An idle instance's estimate decays (see `latency.idleDecayMs`) so a slow one is tried again; with a request in
 * flight to it, it costs its stored estimate again, so it gets one probe at a time rather than a burst.
 */
function peakEwmaCost(instance: BalancerInstance, now: number): number {
  return instance.latencyMs(now) * Math.sqrt(instance.pending + 1);
}

/**
 * `p2c-ewma`, the default rule: power of two choices on peak-EWMA latency x sqrt(requests in flight + 1).
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

  cost(instance: BalancerInstance, now: number): number {
    return peakEwmaCost(instance, now);
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    return pickTwo(candidates, now, avoid, this.#random, peakEwmaCost);
  }
}
