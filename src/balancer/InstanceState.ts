import type { BalancerInstance } from './BalancerRule.js';
import { LatencyHistogram } from './LatencyHistogram.js';

/** What the balancer needs to know of an instance: the registry's record satisfies it. */
export interface BalancerTarget {
  /** Unique id of the instance. */
  readonly instanceId: string;
  /** Availability zone of the instance. */
  readonly zone: string;
}

/** Where an instance stands with the balancer. */
export const InstanceMode = {
  /** Eligible for traffic. */
  ACTIVE: 'active',
  /** Ejected by outlier detection until `excludedUntil`. */
  EJECTED: 'ejected',
  /** Answered that it is out of service or shutting down; not sent to until `excludedUntil`. */
  DRAINING: 'draining',
  /** Its exclusion ran out: one request at a time is let through, and a success readmits it. */
  PROBING: 'probing',
} as const;

/** Where an instance stands with the balancer. */
export type InstanceMode = (typeof InstanceMode)[keyof typeof InstanceMode];

/** Past this many samples, an estimate's memory is set by time alone (the decay). */
const YOUNG_SAMPLES = 1_000_000;

/** Why outlier detection ejected an instance. */
export type EjectionReason = 'connect-failure' | 'consecutive-failures' | 'success-rate' | 'failed-probe';

/** Latency estimation settings shared by every instance of a balancer. */
export interface LatencyModel {
  /** Time constant of the decaying averages, in ms. */
  readonly decayMs: number;
  /** The estimate before any sample, in ms. */
  readonly priorMs: number;
  /** Time constant of the estimate's decay while nothing is in flight to the instance, in ms. */
  readonly idleDecayMs: number;
  /** How long a spike that comes while other tries are in flight is remembered to tell a stall of the caller, in ms. */
  readonly stallWindowMs: number;
  /** Length of one generation of the latency histogram, in ms. */
  readonly windowMs: number;
}

/**
 * The balancer's record of one instance: latency estimates, requests in flight, outcome counts and
 * ejection state. Plain mutable fields read by rules on the hot path; only the balancer writes them.
 */
export class InstanceState<T extends BalancerTarget = BalancerTarget> implements BalancerInstance {
  /** The registry record (replaced when the registry updates it). */
  target: T;
  /** The instance id. */
  readonly id: string;
  /** The zone. */
  zone: string;
  /** Requests whose response headers have not arrived. */
  pending = 0;
  /** Position in the current candidate array, or -1 when not a candidate. */
  slot = -1;
  /** The stored peak-EWMA estimate (before decay to now), in ms. */
  ewmaMs: number;
  /** When `ewmaMs` and `averageLatencyMs` were last updated. */
  sampledAt: number;
  /** Decaying average latency (no peak), in ms. */
  averageLatencyMs: number;
  /** Requests sent (each try and hedge counts). */
  requests = 0;
  /** Tries that got a response the client did not count as a failure. */
  successes = 0;
  /** Tries that failed: connection errors, timeouts, 5xx. */
  failures = 0;
  /** Failures since the last success. */
  consecutiveFailures = 0;
  /** Where the instance stands. */
  mode: InstanceMode = InstanceMode.ACTIVE;
  /** Until when an ejected or draining instance is left alone (epoch ms), 0 when not excluded. */
  excludedUntil = 0;
  /** While probing: whether it was ejected or draining before. */
  probeAfter: InstanceMode = InstanceMode.ACTIVE;
  /** While probing: whether the one probe is in flight. */
  probeInFlight = false;
  /** How many times outlier detection ejected the instance (grows the ejection time). */
  timesEjected = 0;
  /** When the instance last became active again after an ejection. */
  readmittedAt = 0;
  /** Why it was last ejected, or undefined if never. */
  ejectionReason: EjectionReason | undefined = undefined;
  /** Tries sent in the current interval (see success-rate ejection). */
  windowRequests = 0;
  /** Failed tries in the current interval. */
  windowFailures = 0;
  /** Tries sent in the last complete interval. */
  lastRequests = 0;
  /** Failed tries in the last complete interval. */
  lastFailures = 0;
  /** Latency histogram, for the hedging delay and the admin view. */
  readonly histogram: LatencyHistogram;
  readonly #decayMs: number;
  readonly #idleDecayMs: number;
  /** Samples so far, counted up to {@link YOUNG_SAMPLES}. */
  #samples = 0;

  /**
   * @param target - the registry record
   * @param now - the current time, in ms
   * @param model - latency estimation settings
   */
  constructor(target: T, now: number, model: LatencyModel) {
    this.target = target;
    this.id = target.instanceId;
    this.zone = target.zone;
    this.ewmaMs = model.priorMs;
    this.averageLatencyMs = model.priorMs;
    this.sampledAt = now;
    this.#decayMs = model.decayMs;
    this.#idleDecayMs = model.idleDecayMs;
    this.histogram = new LatencyHistogram(model.windowMs, now);
  }

  /** True when a pick may return this instance outside panic mode. */
  get eligible(): boolean {
    return this.mode === InstanceMode.ACTIVE || (this.mode === InstanceMode.PROBING && !this.probeInFlight);
  }

  /**
   * The estimate at `now`. It decays only while the instance is idle (nothing in flight), which is what gets an
   * idle slow instance tried again, at the pace of `idleDecayMs`; once a request is in flight the stored
   * estimate stands until an answer updates it, so the probe is one request, not a burst.
   */
  latencyMs(now: number): number {
    const idle = now - this.sampledAt;
    return idle > 0 && this.pending === 0 ? this.ewmaMs * Math.exp(-idle / this.#idleDecayMs) : this.ewmaMs;
  }

  /**
   * Records a round-trip time. Peak EWMA (Finagle, Linkerd): a slower sample replaces the estimate at once; a
   * faster one pulls it down with a weight that depends on the time since the last sample, not on the
   * number of samples, so the estimate forgets at the same pace under any request rate; but while the
   * instance has few samples, the n-th weighs at least 1/n, so the first answers (slowed by a cold connection
   * or cold code) are forgotten within a few more. The first sample replaces the prior. With `peak` false, a
   * slower sample is averaged in like a faster one (see {@link InstanceState.resetPeak}).
   * @returns the estimate the sample would give were it averaged in rather than taken as a peak
   */
  observe(rttMs: number, now: number, peak = true): number {
    let averagedMs = rttMs;
    if (this.#samples > 0) {
      // A young estimate remembers no more than its samples: its first answers (a cold connection, code not
      // yet compiled) weigh as one of n, rather than for a whole decay time.
      const young = this.#samples / (this.#samples + 1);
      const w = Math.min(this.#weight(now, this.#decayMs), young);
      // A sample under half the estimate says the peak was a passing spike (a stall, a burst, a cold
      // connection): it is forgotten four times as fast, so one spike does not send traffic away for seconds.
      const down = rttMs * 2 < this.ewmaMs ? Math.min(this.#weight(now, this.#decayMs / 4), young) : w;
      averagedMs = this.ewmaMs * down + rttMs * (1 - down);
      this.ewmaMs = peak && rttMs > this.ewmaMs ? rttMs : averagedMs;
      this.averageLatencyMs = this.averageLatencyMs * w + rttMs * (1 - w);
    } else {
      // The prior only stands in until there is a sample; blending it in would take a decay time to forget.
      this.ewmaMs = rttMs;
      this.averageLatencyMs = rttMs;
    }
    if (this.#samples < YOUNG_SAMPLES) this.#samples++;
    this.sampledAt = now;
    this.histogram.record(rttMs, now);
    return averagedMs;
  }

  /** True once the instance has answered at least once (the estimate is no longer the prior). */
  get sampled(): boolean {
    return this.#samples > 0;
  }

  /**
   * Replaces a peak that turned out to be mostly the caller's own delay: the estimate becomes `averagedMs`
   * (the spike averaged in) or what is left of the spike, `residualMs`, whichever is higher.
   */
  resetPeak(averagedMs: number, residualMs: number): void {
    this.ewmaMs = Math.max(averagedMs, residualMs);
  }

  /** Raises the peak estimate to a sample from which the caller's delay was taken off, if higher. */
  raisePeak(rttMs: number): void {
    if (rttMs > this.ewmaMs) this.ewmaMs = rttMs;
  }

  /**
   * Records that a request took at least `elapsedMs` without an answer (a hedged loser, an abandoned try):
   * raises the peak estimate when that is slower, never lowers it, and leaves the averages alone.
   */
  observeAtLeast(elapsedMs: number, now: number): void {
    if (elapsedMs > this.latencyMs(now)) {
      this.ewmaMs = elapsedMs;
      this.sampledAt = now;
    }
  }

  #weight(now: number, decayMs: number): number {
    const elapsed = now - this.sampledAt;
    return elapsed > 0 ? Math.exp(-elapsed / decayMs) : 1;
  }
}
