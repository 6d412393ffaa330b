// Just over 500 lines because the balancer's options, their resolution and the one pick path (rule, zone
// affinity, outlier ejection, per-instance state) are read together: a split would send a reader of a pick
// across files for each step.
import { durationMs, invalidOption } from '../internal/validate.js';
import type { BalancerRule, BalancerRuleName, RandomSource } from './BalancerRule.js';
import { createRule } from './createRule.js';
import type { BalancerTarget, LatencyModel } from './InstanceState.js';
import { InstanceMode, InstanceState } from './InstanceState.js';
import type { FailureKind, OutlierDetectionOptions, ResolvedOutlierDetectionOptions } from './OutlierDetector.js';
import { OutlierDetector, resolveOutlierDetectionOptions } from './OutlierDetector.js';
import type { ResolvedZoneAffinityOptions, ZoneAffinityOptions } from './ZoneAffinity.js';
import { resolveZoneAffinityOptions } from './ZoneAffinity.js';

/** Options of the latency estimates behind the rules and the hedging delay. */
export interface LatencyOptions {
  /**
   * Time constant of the decaying averages (peak EWMA and the plain average), in ms: how fast an estimate
   * forgets a slow answer (a cold connection, a stall of the caller's event loop) and how soon an idle
   * instance is tried again.
   * @default 1000
   */
  readonly decayMs?: number;
  /**
   * The latency assumed for an instance before its first answer, in ms (Linkerd's default).
   * @default 30
   */
  readonly priorMs?: number;
  /**
   * Time constant of an estimate's decay while nothing is in flight to the instance, in ms: how soon an idle
   * slow instance is tried again (one request at a time). Longer than `decayMs`, so a slow instance is not
   * tried again each time a fast one's estimate has a passing spike.
   * @default 5 x `decayMs`
   */
  readonly idleDecayMs?: number;
  /**
   * How long a latency spike (an answer over twice the estimate) that comes while other tries are in flight is
   * remembered, in ms: if another instance spikes within it, the smallest of their excesses is taken for a stall
   * of the caller (its event loop or its CPU) and taken off each spike. 0 turns this off: every spike raises the
   * peak in full.
   * @default 10
   */
  readonly stallWindowMs?: number;
}

/** Options of the balancer of a service client: the rule, zone affinity, outlier detection and latency. */
export interface BalancerOptions {
  /**
   * The balancing rule, by name or as an object; changeable later with the client's `setRule`.
   * @default 'p2c-ewma'
   */
  readonly rule?: BalancerRuleName | BalancerRule;
  /**
   * The caller's zone, preferred by zone affinity.
   * @default none: no zone affinity
   */
  readonly zone?: string;
  /**
   * Zone affinity thresholds, or false to turn it off.
   * @default on when a zone is known, with Ribbon's thresholds
   */
  readonly zoneAffinity?: ZoneAffinityOptions | boolean;
  /**
   * Outlier ejection, or false to turn it off.
   * @default Envoy's defaults (see {@link OutlierDetectionOptions})
   */
  readonly outlierDetection?: OutlierDetectionOptions | false;
  /**
   * Latency estimation.
   * @default decay 1 s (5 s while idle), prior 30 ms, stall window 10 ms
   */
  readonly latency?: LatencyOptions;
  /**
   * How long an instance that answered "out of service" is left alone before one request probes it, in ms
   * (unless the registry drops it first).
   * @default 5000
   */
  readonly outOfServiceBackoffMs?: number;
  /**
   * Random source in [0, 1) for the randomized rules.
   * @default Math.random
   */
  readonly random?: RandomSource;
}

/** {@link BalancerOptions} with defaults filled and values checked. */
export interface ResolvedBalancerOptions {
  /** The rule as given (built when the balancer is made). */
  readonly rule: BalancerRuleName | BalancerRule;
  /** Zone affinity. */
  readonly zoneAffinity: ResolvedZoneAffinityOptions;
  /** Outlier ejection. */
  readonly outlierDetection: ResolvedOutlierDetectionOptions;
  /** Latency estimation. */
  readonly latency: LatencyModel;
  /** Back-off for an instance that answered "out of service", in ms. */
  readonly outOfServiceBackoffMs: number;
  /** Random source. */
  readonly random: RandomSource;
}

/**
 * Fills the defaults of {@link BalancerOptions} and validates them.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option that is wrong
 */
export function resolveBalancerOptions(options: BalancerOptions = {}): ResolvedBalancerOptions {
  const rule = options.rule ?? 'p2c-ewma';
  createRule(rule); // validates the name or the shape
  if (options.zone !== undefined && (typeof options.zone !== 'string' || options.zone === '')) {
    invalidOption('zone', 'a non-empty string', options.zone);
  }
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') invalidOption('random', 'a function returning numbers in [0, 1)', random);
  const decayMs = durationMs('latency.decayMs', options.latency?.decayMs, 1000);
  if (decayMs === 0) invalidOption('latency.decayMs', 'a positive number of milliseconds', decayMs);
  const idleDecayMs = durationMs('latency.idleDecayMs', options.latency?.idleDecayMs, 5 * decayMs);
  if (idleDecayMs === 0) invalidOption('latency.idleDecayMs', 'a positive number of milliseconds', idleDecayMs);
  return Object.freeze({
    rule,
    zoneAffinity: resolveZoneAffinityOptions(options.zoneAffinity ?? true, options.zone),
    outlierDetection: resolveOutlierDetectionOptions(options.outlierDetection ?? {}),
    latency: Object.freeze({
      decayMs,
      idleDecayMs,
      priorMs: durationMs('latency.priorMs', options.latency?.priorMs, 30),
      stallWindowMs: durationMs('latency.stallWindowMs', options.latency?.stallWindowMs, 10),
      windowMs: Math.max(decayMs, 10_000),
    }),
    outOfServiceBackoffMs: durationMs('outOfServiceBackoffMs', options.outOfServiceBackoffMs, 5000),
    random,
  });
}

/** What share of the traffic an instance gets, and how much of it fails. */
export interface InstanceTraffic {
  /** Its share of the tries, 0 to 1. */
  readonly share: number;
  /** Share of its tries that failed, 0 to 1. */
  readonly errorRate: number;
}

/** Why the balancer picks from the set it picks from, as the admin view shows it. */
export interface BalancerScope {
  /** True when picks are limited to the caller's zone. */
  readonly zoneAffinity: boolean;
  /** Why zone affinity is off, when a zone is configured and other zones exist. */
  readonly zoneOverride: 'ejected' | 'load' | 'too-few' | 'no-local' | undefined;
  /** True when too few instances are healthy and ejections are ignored. */
  readonly panic: boolean;
  /** Instances picks are drawn from. */
  readonly candidates: number;
}

/**
 * The client-side load balancer of one VIP: instance states kept from registry updates, outlier ejection,
 * zone affinity and a pluggable rule. The candidate array is rebuilt only when eligibility changes (a
 * registry update, an ejection, a readmission, an exclusion running out, a zone recheck), so a pick is a
 * time comparison plus the rule's O(1) choice, with no allocation.
 *
 * Times are in ms on whatever clock the caller passes as `now`.
 */
export class Balancer<T extends BalancerTarget = BalancerTarget> {
  readonly #options: ResolvedBalancerOptions;
  readonly #outliers: OutlierDetector;
  readonly #byId = new Map<string, InstanceState<T>>();
  #rule: BalancerRule;
  #states: InstanceState<T>[] = [];
  #candidates: InstanceState<T>[] = [];
  #dirty = true;
  #nextChangeAt = Number.POSITIVE_INFINITY;
  /** When the current success-rate interval ends; the first rebuild starts it. */
  #intervalEndsAt = Number.NaN;
  /** Tries sent in the last complete interval, over every instance. */
  #lastIntervalRequests = 0;
  /** Tries in flight over every instance (those of instances that left included). */
  #inFlight = 0;
  /** Recent spikes: instance, answer time, excess over the estimate, estimate had it been averaged in. */
  readonly #held: (InstanceState<T> | number)[] = [];
  /** When the first held spike came. */
  #heldSince = 0;
  /** Until when spikes are taken for the caller's stall (extended by each one). */
  #stallUntil = 0;
  /** The caller's delay in the current stall, in ms: the smallest excess of its spikes. */
  #stallMs = 0;
  #scope: BalancerScope = Object.freeze({ zoneAffinity: false, zoneOverride: undefined, panic: false, candidates: 0 });

  /** @param options - resolved options (see {@link resolveBalancerOptions}) */
  constructor(options: ResolvedBalancerOptions) {
    this.#options = options;
    this.#outliers = new OutlierDetector(options.outlierDetection);
    this.#rule = createRule(options.rule, options.random);
  }

  /** The rule in use. */
  get rule(): BalancerRule {
    return this.#rule;
  }

  /** The resolved options. */
  get options(): ResolvedBalancerOptions {
    return this.#options;
  }

  /**
   * Switches the rule, live: the next pick uses it. Instance states (latency, load, ejections) are kept.
   * @throws KaryonError `ERR_INVALID_OPTION` for an unknown name
   */
  setRule(rule: BalancerRuleName | BalancerRule): void {
    this.#rule = createRule(rule, this.#options.random);
  }

  /** Every instance state, in registry order. */
  get states(): readonly InstanceState<T>[] {
    return this.#states;
  }

  /** The state of one instance. */
  get(instanceId: string): InstanceState<T> | undefined {
    return this.#byId.get(instanceId);
  }

  /**
   * Makes the instance set exactly `targets`: states of instances that stay are kept (their record
   * replaced), new ones start fresh. Returns the states that left.
   */
  update(targets: readonly T[], now: number): InstanceState<T>[] {
    const next: InstanceState<T>[] = [];
    const present = new Set<string>();
    for (const target of targets) {
      if (present.has(target.instanceId)) continue;
      present.add(target.instanceId);
      let state = this.#byId.get(target.instanceId);
      if (state === undefined) {
        state = new InstanceState(target, now, this.#options.latency);
        this.#byId.set(target.instanceId, state);
      } else if (state.target !== target) {
        state.target = target;
        state.zone = target.zone;
      }
      next.push(state);
    }
    const removed: InstanceState<T>[] = [];
    for (const state of this.#states) {
      if (present.has(state.id)) continue;
      this.#byId.delete(state.id);
      state.slot = -1;
      removed.push(state);
    }
    this.#states = next;
    this.#dirty = true;
    return removed;
  }

  /**
   * Picks an instance for one try, or undefined when there is none to pick. Never returns `avoid` (the
   * instance the previous try went to) unless the rule insists and no other candidate exists, in which case
   * it returns undefined.
   */
  pick(now: number, avoid?: InstanceState<T>): InstanceState<T> | undefined {
    if (this.#dirty || now >= this.#nextChangeAt) this.#rebuild(now);
    const candidates = this.#candidates;
    const n = candidates.length;
    if (n === 0) return undefined;
    const chosen = this.#rule.pick(candidates, now, avoid);
    if (chosen !== avoid || chosen === undefined) return chosen;
    if (n === 1) return undefined;
    // A custom rule ignored `avoid`: take the next candidate rather than repeat the failed instance.
    return candidates[(chosen.slot + 1) % n];
  }

  /** The current candidates (after zone affinity, ejection and panic), rebuilding them if due. */
  candidates(now: number): readonly InstanceState<T>[] {
    if (this.#dirty || now >= this.#nextChangeAt) this.#rebuild(now);
    return this.#candidates;
  }

  /** How the candidates were chosen at the last rebuild. */
  scope(now: number): BalancerScope {
    this.candidates(now);
    return this.#scope;
  }

  /** Records that a try was sent to `state`. */
  begin(state: InstanceState<T>): void {
    state.pending++;
    this.#inFlight++;
    state.requests++;
    state.windowRequests++;
    if (state.mode === InstanceMode.PROBING) {
      state.probeInFlight = true;
      this.#dirty = true;
    }
  }

  /**
   * Records a try that got an acceptable answer after `rttMs`.
   *
   * A spike (an answer more than twice the estimate) raises the peak estimate at once. It may be the caller's
   * own stall, though (a garbage collection, the process waiting for a CPU): a stall delays every answer in
   * flight by about as much, so spikes then come from several instances at once, and raising all their
   * estimates would leave an idle slow instance (whose stored estimate no stall touched) the cheapest, and send
   * it the burst of requests that queued during the stall. So a spike that comes while other tries are in
   * flight is remembered for `latency.stallWindowMs` (10 ms). If another instance spikes meanwhile, the
   * smallest excess over the estimates among them is taken for the caller's delay: each of these spikes, and
   * each one while the burst of late answers lasts, keeps only what is left once that delay is taken off (an
   * instance slow by itself still shows), the rest averaged in like any answer.
   */
  succeed(state: InstanceState<T>, rttMs: number, now: number): void {
    state.pending--;
    this.#inFlight--;
    state.successes++;
    const window = this.#options.latency.stallWindowMs;
    if (this.#held.length > 0 && now - this.#heldSince > window) this.#held.length = 0;
    const estimateMs = state.latencyMs(now);
    if (window > 0 && state.sampled && rttMs > 2 * estimateMs && (this.#inFlight > state.pending || this.#held.length > 0 || this.#stallUntil > now)) {
      const stalled = this.#stallUntil > now;
      const averagedMs = state.observe(rttMs, now, !stalled);
      this.#spike(state, rttMs, rttMs - estimateMs, averagedMs, now);
    } else {
      state.observe(rttMs, now);
    }
    if (this.#outliers.onSuccess(state, now)) this.#dirty = true;
  }

  /** A spike while others are in flight: remembered, or part of a stall of the caller. */
  #spike(state: InstanceState<T>, rttMs: number, excessMs: number, averagedMs: number, now: number): void {
    const window = this.#options.latency.stallWindowMs;
    if (this.#stallUntil > now) {
      // The burst of late answers goes on (the spike was averaged in).
      this.#stallMs = Math.min(this.#stallMs, excessMs);
      this.#stallUntil = now + window;
      state.raisePeak(rttMs - this.#stallMs);
      return;
    }
    const held = this.#held;
    let other = false;
    let stallMs = excessMs;
    for (let i = 0; i < held.length; i += 4) {
      if (held[i] !== state) other = true;
      stallMs = Math.min(stallMs, held[i + 2] as number);
    }
    if (other) {
      // Two instances slowed at once: the caller stalled for about the smallest of their excesses.
      for (let i = 0; i < held.length; i += 4) {
        (held[i] as InstanceState<T>).resetPeak(held[i + 3] as number, (held[i + 1] as number) - stallMs);
      }
      state.resetPeak(averagedMs, rttMs - stallMs);
      held.length = 0;
      this.#stallMs = stallMs;
      this.#stallUntil = now + window;
      return;
    }
    if (held.length === 0) this.#heldSince = now;
    held.push(state, rttMs, excessMs, averagedMs);
  }

  /**
   * Records a failed try. A failure is fed to the latency estimate as at least twice the current estimate,
   * so an instance that fails fast does not look fast to latency-driven rules.
   */
  fail(state: InstanceState<T>, kind: FailureKind, rttMs: number, now: number): void {
    state.pending--;
    this.#inFlight--;
    state.failures++;
    state.windowFailures++;
    state.observe(Math.max(rttMs, 2 * state.latencyMs(now), this.#options.latency.priorMs), now);
    if (this.#outliers.onFailure(state, kind, now, this.#ejectedCount(), this.#states.length)) this.#dirty = true;
    if (state.mode === InstanceMode.PROBING && state.probeInFlight) {
      // Ejection is off, so a failed probe cannot re-eject: let the next request probe again.
      state.probeInFlight = false;
      this.#dirty = true;
    }
  }

  /**
   * Records a try answered "out of service" (the instance is leaving): no new request goes there until the
   * registry drops and re-adds it, or `outOfServiceBackoffMs` passes and one request probes it.
   */
  drain(state: InstanceState<T>, now: number): void {
    state.pending--;
    this.#inFlight--;
    state.mode = InstanceMode.DRAINING;
    state.excludedUntil = now + this.#options.outOfServiceBackoffMs;
    state.probeInFlight = false;
    this.#dirty = true;
  }

  /**
   * Records a try that ended without an answer through no fault of the instance (the caller aborted, a hedge
   * won): the time it waited still counts as a lower bound of its latency.
   */
  abandon(state: InstanceState<T>, elapsedMs: number, now: number): void {
    state.pending--;
    this.#inFlight--;
    state.observeAtLeast(elapsedMs, now);
    if (state.mode === InstanceMode.PROBING && state.probeInFlight) {
      state.probeInFlight = false;
      this.#dirty = true;
    }
  }

  #ejectedCount(): number {
    let count = 0;
    for (const state of this.#states) {
      if (state.mode === InstanceMode.EJECTED || (state.mode === InstanceMode.PROBING && state.probeAfter === InstanceMode.EJECTED)) count++;
    }
    return count;
  }

  /**
   * The share of the client's tries an instance got and the share of its tries that failed, over the last
   * complete interval and the current one together (0 when it got none).
   */
  traffic(state: InstanceState<T>): InstanceTraffic {
    let all = this.#lastIntervalRequests;
    for (const other of this.#states) all += other.windowRequests;
    const requests = state.lastRequests + state.windowRequests;
    return { share: all === 0 ? 0 : requests / all, errorRate: requests === 0 ? 0 : (state.lastFailures + state.windowFailures) / requests };
  }

  /** Ends the success-rate interval when it is due: judges it, and starts the next. */
  #interval(now: number): void {
    const intervalMs = this.#options.outlierDetection.successRate.intervalMs;
    if (Number.isNaN(this.#intervalEndsAt)) this.#intervalEndsAt = now + intervalMs;
    if (now < this.#intervalEndsAt) return;
    // An idle gap of several intervals leaves the last one empty.
    const skipped = now >= this.#intervalEndsAt + intervalMs;
    this.#intervalEndsAt = now + intervalMs;
    let total = 0;
    for (const state of this.#states) {
      state.lastRequests = skipped ? 0 : state.windowRequests;
      state.lastFailures = skipped ? 0 : state.windowFailures;
      state.windowRequests = 0;
      state.windowFailures = 0;
      total += state.lastRequests;
    }
    this.#lastIntervalRequests = total;
    const ejected = this.#outliers.onInterval(this.#states, now, this.#ejectedCount());
    for (const state of ejected) this.onEject?.(state);
    this.onInterval?.();
  }

  /** Called with each instance that success-rate ejection ejected (for logs and metrics). */
  onEject: ((state: InstanceState<T>) => void) | undefined = undefined;

  /** Called after each success-rate interval ends (when shares and error rates are new). */
  onInterval: (() => void) | undefined = undefined;

  #rebuild(now: number): void {
    this.#dirty = false;
    this.#interval(now);
    let nextChange = this.#intervalEndsAt;
    const states = this.#states;
    for (const state of states) {
      state.slot = -1;
      if (state.mode !== InstanceMode.EJECTED && state.mode !== InstanceMode.DRAINING) continue;
      if (now >= state.excludedUntil) {
        state.probeAfter = state.mode;
        state.mode = InstanceMode.PROBING;
        state.probeInFlight = false;
      } else if (state.excludedUntil < nextChange) {
        nextChange = state.excludedUntil;
      }
    }

    // Zone affinity, with Ribbon's overrides: leave the zone when too much of it is ejected, when it is
    // loaded, or when too few of its instances are available.
    const affinity = this.#options.zoneAffinity;
    let zoneOnly = false;
    let zoneOverride: BalancerScope['zoneOverride'];
    if (affinity.zone !== undefined) {
      let local = 0;
      let localHealthy = 0;
      let localPending = 0;
      let others = 0;
      for (const state of states) {
        if (state.mode === InstanceMode.DRAINING) continue;
        if (state.zone !== affinity.zone) {
          others++;
        } else {
          local++;
          if (state.eligible) {
            localHealthy++;
            localPending += state.pending;
          }
        }
      }
      if (others > 0) {
        if (local === 0) zoneOverride = 'no-local';
        else if (localHealthy < affinity.minAvailable) zoneOverride = 'too-few';
        else if ((local - localHealthy) * 100 >= affinity.maxEjectedPercent * local) zoneOverride = 'ejected';
        else if (localPending >= affinity.maxLoadPerInstance * localHealthy) zoneOverride = 'load';
        else zoneOnly = true;
        // Load moves with every request: look again after a while even if nothing else changes.
        if (local > 0) nextChange = Math.min(nextChange, now + affinity.recheckMs);
      }
    }

    let total = 0;
    let healthy = 0;
    for (const state of states) {
      if (state.mode === InstanceMode.DRAINING || (zoneOnly && state.zone !== affinity.zone)) continue;
      total++;
      if (state.eligible) healthy++;
    }
    const panic = this.#outliers.options.enabled && this.#outliers.panics(healthy, total);
    const candidates: InstanceState<T>[] = [];
    for (const state of states) {
      if (state.mode === InstanceMode.DRAINING || (zoneOnly && state.zone !== affinity.zone)) continue;
      if (!panic && !state.eligible) continue;
      state.slot = candidates.length;
      candidates.push(state);
    }
    this.#candidates = candidates;
    this.#nextChangeAt = nextChange;
    this.#scope = Object.freeze({ zoneAffinity: zoneOnly, zoneOverride, panic, candidates: candidates.length });
  }
}
