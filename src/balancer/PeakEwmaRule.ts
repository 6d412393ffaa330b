import type { BalancerInstance, BalancerRule, RandomSource } from './BalancerRule.js';
import { twoDistinct } from './BalancerRule.js';

/**
 * The expected wait at an instance: its latency estimate times the queue the request would join (requests in
 * flight + 1), as Finagle and Linkerd weigh it. Among equally fast instances the least loaded wins, and an idle
 * instance whose estimate still holds a passing spike (one answer that queued) loses only to one carrying fewer
 * requests than the spike's excess pays for. An idle instance much slower than the rest would win against fast
 * ones carrying a deep queue; the straggler rule below keeps such an instance to probes while the fleet is fast,
 * and lets it in, to be used up to its own capacity, once the fleet's queues make it slower.
 *
 * An idle instance's estimate decays (see `latency.idleDecayMs`) so a slow one is tried again; with a request in
 * flight to it, it costs its stored estimate again, so it gets one probe at a time rather than a burst.
 */
function peakEwmaCost(instance: BalancerInstance, now: number): number {
  return instance.latencyMs(now) * (instance.pending + 1);
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

/** Uniform draws to replace a draw that cannot be sent to, before walking the candidates for one. */
const REDRAWS = 4;

/** How often the fleet's median is taken again, in ms (and whenever the candidate array changes). */
const REFERENCE_MS = 100;

/** At most this many candidates (evenly spread) make the median, so it stays cheap with thousands. */
const REFERENCE_SAMPLE = 63;

/**
 * `p2c-ewma`, the default rule: power of two choices on peak-EWMA latency x (requests in flight + 1).
 * A slow instance is noticed on its first slow answer (the estimate jumps to the peak) and then loses
 * almost every comparison; an idle one's estimate decays so it is tried again before long.
 *
 * A straggler (average latency at least 4 times the median of the candidates') gets only probes: one at a
 * time, at most one a second and one in 200 picks (but at least one each 10 s). The peak estimates alone let it win
 * whenever a fast instance's estimate spikes past it (a stall of that instance, or of the caller, a burst
 * queued there), and on a loaded machine such spikes come often enough to send it more than 1% of the traffic;
 * its average, compared with the fleet's, does not move with one spike. A probe that comes back fast lowers
 * the average at once (an idle instance's old average weighs little) and readmits it. A draw of a straggler not
 * due a probe is replaced by another draw, so every pick still compares two instances it may send to.
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
    const n = candidates.length;
    if (n === 1) {
      const only = candidates[0];
      return only === avoid ? undefined : only;
    }
    const packed = twoDistinct(n, this.#random);
    let a = candidates[Math.floor(packed / n)] as I;
    let b = candidates[packed % n] as I;
    let costA = a === avoid ? Number.POSITIVE_INFINITY : this.#pickCost(a, now);
    let costB = b === avoid ? Number.POSITIVE_INFINITY : this.#pickCost(b, now);
    // A draw that cannot be sent to (a straggler not due a probe, or `avoid`) is drawn again among the others:
    // left as it is, the pair would be decided by the other draw alone, and with one straggler among five, 40%
    // of the picks would go to a random fast instance rather than to the less loaded of two.
    if (costA === Number.POSITIVE_INFINITY) {
      const other = this.#redraw(candidates, b, now, avoid);
      if (other !== undefined) {
        a = other;
        costA = this.#pickCost(a, now);
      }
    }
    if (costB === Number.POSITIVE_INFINITY) {
      const other = this.#redraw(candidates, a, now, avoid);
      if (other !== undefined) {
        b = other;
        costB = this.#pickCost(b, now);
      }
    }
    // With both still infinite, nothing but `avoid` and stragglers not due remains: any straggler, as a probe.
    const chosen = costB < costA || a === avoid ? b : a;
    if (chosen.averageLatencyMs >= STRAGGLER_RATIO * this.#referenceMs) {
      this.#probedAt.set(chosen, now);
      this.#probedPick.set(chosen, this.#picks);
    }
    return chosen;
  }

  /**
   * A candidate other than `other` and `avoid` that may be sent to: up to {@link REDRAWS} uniform draws, then the
   * first that fits from a random start (several stragglers), or undefined when there is none.
   */
  #redraw<I extends BalancerInstance>(candidates: readonly I[], other: I, now: number, avoid: I | undefined): I | undefined {
    const n = candidates.length;
    let start = 0;
    for (let draw = 0; draw < REDRAWS; draw++) {
      start = Math.floor(this.#random() * n);
      const candidate = candidates[start] as I;
      if (candidate !== other && candidate !== avoid && this.#pickCost(candidate, now) !== Number.POSITIVE_INFINITY) return candidate;
    }
    for (let step = 1; step < n; step++) {
      const candidate = candidates[(start + step) % n] as I;
      if (candidate !== other && candidate !== avoid && this.#pickCost(candidate, now) !== Number.POSITIVE_INFINITY) return candidate;
    }
    return undefined;
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
