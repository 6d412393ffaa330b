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
 * An instance whose average latency is this many times the fleet's median is a straggler: it gets only probes.
 * A 10x slower instance is well past it, and so is one that fails fast (a failure counts as at least twice its
 * estimate); a fleet under load, whose median rises with its queues, lets it back in.
 */
const STRAGGLER_RATIO = 4;

/**
 * A straggler gets at most one probe per this many ms, and none while one is in flight; and, under 1 probe in
 * {@link STRAGGLER_PROBE_PICKS} picks, so that its share stays under 0.5% at any rate from 20 requests a second
 * up, but at least one probe per {@link STRAGGLER_PROBE_MAX_MS}, so a straggler that healed is found even at a
 * low rate.
 */
const STRAGGLER_PROBE_MS = 1000;
/** Picks between two probes of one straggler (unless {@link STRAGGLER_PROBE_MAX_MS} passed). */
const STRAGGLER_PROBE_PICKS = 200;
/** The longest a straggler waits for a probe, in ms (one request at a time all the same). */
const STRAGGLER_PROBE_MAX_MS = 10_000;

/** How often the fleet's median is taken again, in ms (and whenever the candidate array changes). */
const REFERENCE_MS = 100;

/** At most this many candidates (evenly spread) make the median, so it stays cheap with thousands. */
const REFERENCE_SAMPLE = 63;

/**
 * `p2c-ewma`, the default rule: power of two choices on peak-EWMA latency x sqrt(requests in flight + 1).
 * A slow instance is noticed on its first slow answer (the estimate jumps to the peak) and then loses
 * almost every comparison; an idle one's estimate decays so it is tried again before long.
 *
 * A straggler (average latency at least 4 times the median of the candidates') gets only probes: one at a
 * time, at most one a second and one in 200 picks (but at least one each 10 s). The peak estimates alone let it win
 * whenever a fast instance's estimate spikes past it (a stall of that instance, or of the caller, a burst
 * queued there), and on a loaded machine such spikes come often enough to send it more than 1% of the traffic;
 * its average, compared with the fleet's, does not move with one spike. A probe that comes back fast lowers
 * the average at once (an idle instance's old average weighs little) and readmits it.
 */
export class PeakEwmaRule implements BalancerRule {
  /** The rule's name. */
  readonly name = 'p2c-ewma';
  readonly #random: RandomSource;
  /** The median average latency of the candidates, in ms, and when and over which array it was taken. */
  #referenceMs = 0;
  #referenceAt = Number.NEGATIVE_INFINITY;
  #referenceOf: readonly BalancerInstance[] | undefined;
  readonly #scratch = new Float64Array(REFERENCE_SAMPLE);
  /** When each straggler was last sent a probe, and the pick count then. */
  readonly #probedAt = new WeakMap<BalancerInstance, number>();
  readonly #probedPick = new WeakMap<BalancerInstance, number>();
  /** Picks so far. */
  #picks = 0;
  /** The cost used by picks: peak-EWMA cost, or Infinity for a straggler not due a probe. */
  readonly #pickCost: (instance: BalancerInstance, now: number) => number;

  /** @param random - random source in [0, 1) */
  constructor(random: RandomSource = Math.random) {
    this.#random = random;
    this.#pickCost = (instance, now) => {
      if (instance.averageLatencyMs < STRAGGLER_RATIO * this.#referenceMs) return peakEwmaCost(instance, now);
      if (instance.pending > 0) return Number.POSITIVE_INFINITY;
      const probedAt = this.#probedAt.get(instance);
      if (probedAt === undefined) return peakEwmaCost(instance, now);
      const since = now - probedAt;
      const due = since >= STRAGGLER_PROBE_MAX_MS || (since >= STRAGGLER_PROBE_MS && this.#picks - (this.#probedPick.get(instance) ?? 0) >= STRAGGLER_PROBE_PICKS);
      return due ? peakEwmaCost(instance, now) : Number.POSITIVE_INFINITY;
    };
  }

  cost(instance: BalancerInstance, now: number): number {
    return peakEwmaCost(instance, now);
  }

  pick<I extends BalancerInstance>(candidates: readonly I[], now: number, avoid: I | undefined): I | undefined {
    this.#picks++;
    if (candidates !== this.#referenceOf || now - this.#referenceAt >= REFERENCE_MS) this.#reference(candidates, now);
    const chosen = pickTwo(candidates, now, avoid, this.#random, this.#pickCost);
    if (chosen === undefined || chosen.averageLatencyMs < STRAGGLER_RATIO * this.#referenceMs) return chosen;
    if (this.#pickCost(chosen, now) === Number.POSITIVE_INFINITY) {
      // Both draws were stragglers not due a probe (or the other was `avoid`): the next candidate that is not
      // one. Rare (several stragglers), and the walk stops at the first fit.
      const n = candidates.length;
      for (let step = 1; step < n; step++) {
        const next = candidates[(chosen.slot + step) % n] as I;
        if (next !== avoid && this.#pickCost(next, now) !== Number.POSITIVE_INFINITY) return next;
      }
    }
    this.#probedAt.set(chosen, now);
    this.#probedPick.set(chosen, this.#picks);
    return chosen;
  }

  /** Takes the median of the candidates' average latencies (the lower middle one), or Infinity for fewer than 2. */
  #reference(candidates: readonly BalancerInstance[], now: number): void {
    this.#referenceOf = candidates;
    this.#referenceAt = now;
    const n = candidates.length;
    if (n < 2) {
      this.#referenceMs = Number.POSITIVE_INFINITY;
      return;
    }
    const scratch = this.#scratch;
    const count = Math.min(n, REFERENCE_SAMPLE);
    scratch.fill(Number.POSITIVE_INFINITY);
    for (let i = 0; i < count; i++) scratch[i] = (candidates[Math.floor((i * n) / count)] as BalancerInstance).averageLatencyMs;
    scratch.sort();
    this.#referenceMs = scratch[(count - 1) >> 1] as number;
  }
}
