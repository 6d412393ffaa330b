import { durationMs, invalidOption, positiveInt } from '../internal/validate.js';
import type { BalancerTarget , InstanceState } from './InstanceState.js';
import { InstanceMode } from './InstanceState.js';

/** Options of outlier ejection (Envoy's outlier detection, Finagle's failure accrual). */
export interface OutlierDetectionOptions {
  /**
   * Failures in a row (5xx answers, timeouts, connections reset before the response) that eject an instance.
   * @default 5
   */
  readonly consecutiveFailures?: number;
  /**
   * Whether one failed connection (refused, unreachable, connect timeout) ejects an instance at once.
   * @default true
   */
  readonly ejectOnConnectFailure?: boolean;
  /**
   * Ejection time for a first ejection, in ms; the n-th ejection in a row lasts n times as long.
   * @default 30000
   */
  readonly baseEjectionMs?: number;
  /**
   * Longest ejection, in ms.
   * @default 300000
   */
  readonly maxEjectionMs?: number;
  /**
   * Largest share of instances ejected at once, in percent; at least one instance may always be ejected.
   * @default 10
   */
  readonly maxEjectedPercent?: number;
  /**
   * Success-rate ejection (Envoy's, with a median in place of the standard deviation): every `intervalMs`,
   * the instances with at least `requestVolume` tries in the interval are compared, when at least
   * `minimumHosts` of them have that many; one whose success rate is more than `gapPercent` points below the
   * median of theirs is ejected. It finds an instance that fails part of its requests (too few in a row for
   * `consecutiveFailures`), and ejects nothing when every instance fails alike. `false` turns it off.
   * @default { intervalMs: 10000, requestVolume: 50, minimumHosts: 3, gapPercent: 10 }
   */
  readonly successRate?: SuccessRateOptions | false;
  /**
   * Panic threshold, in percent: when fewer than this share of the instances are healthy, the balancer
   * ignores ejections and balances across all of them, as a wrong ejection costs less than a pile-up.
   * @default 50
   */
  readonly panicThresholdPercent?: number;
}

/** Options of success-rate ejection (see {@link OutlierDetectionOptions.successRate}). */
export interface SuccessRateOptions {
  /**
   * Length of one interval, in ms; the interval's counts also give each instance's share and error rate.
   * @default 10000
   */
  readonly intervalMs?: number;
  /**
   * Tries in the interval for an instance to be judged (Envoy's default is 100; an instance that fails is
   * sent less by latency-driven rules, so the default here is lower).
   * @default 50
   */
  readonly requestVolume?: number;
  /**
   * Instances with `requestVolume` tries needed for any to be judged.
   * @default 3
   */
  readonly minimumHosts?: number;
  /**
   * How far below the median success rate, in percentage points, an instance is ejected. Envoy compares with
   * the mean less 1.9 standard deviations, which cannot eject one instance of fewer than five.
   * @default 10
   */
  readonly gapPercent?: number;
}

/** {@link SuccessRateOptions} with defaults filled and values checked. */
export interface ResolvedSuccessRateOptions {
  /** Whether instances are ejected for their success rate. */
  readonly enabled: boolean;
  /** Interval length, in ms. */
  readonly intervalMs: number;
  /** Tries in an interval for an instance to be judged. */
  readonly requestVolume: number;
  /** Judged instances needed. */
  readonly minimumHosts: number;
  /** Gap below the median success rate that ejects, in percentage points. */
  readonly gapPercent: number;
}

/** {@link OutlierDetectionOptions} with defaults filled and values checked. */
export interface ResolvedOutlierDetectionOptions {
  /** Whether ejection is on at all. */
  readonly enabled: boolean;
  /** Failures in a row that eject. */
  readonly consecutiveFailures: number;
  /** Whether one failed connection ejects. */
  readonly ejectOnConnectFailure: boolean;
  /** First ejection time, in ms. */
  readonly baseEjectionMs: number;
  /** Longest ejection, in ms. */
  readonly maxEjectionMs: number;
  /** Largest share ejected, in percent. */
  readonly maxEjectedPercent: number;
  /** Success-rate ejection; `intervalMs` is kept even when it is off, for shares and error rates. */
  readonly successRate: ResolvedSuccessRateOptions;
  /** Panic threshold, in percent. */
  readonly panicThresholdPercent: number;
}

function percent(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100) {
    return invalidOption(name, 'a percentage between 0 and 100', value);
  }
  return value;
}

/**
 * Fills the defaults of {@link OutlierDetectionOptions} and validates them; `false` turns ejection off.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option that is wrong
 */
export function resolveOutlierDetectionOptions(options: OutlierDetectionOptions | false = {}): ResolvedOutlierDetectionOptions {
  const given = options === false ? {} : options;
  const baseEjectionMs = durationMs('outlierDetection.baseEjectionMs', given.baseEjectionMs, 30_000);
  const maxEjectionMs = durationMs('outlierDetection.maxEjectionMs', given.maxEjectionMs, 300_000);
  if (maxEjectionMs < baseEjectionMs) {
    invalidOption('outlierDetection.maxEjectionMs', `at least baseEjectionMs (${baseEjectionMs})`, maxEjectionMs);
  }
  const ejectOnConnectFailure = given.ejectOnConnectFailure ?? true;
  if (typeof ejectOnConnectFailure !== 'boolean') {
    invalidOption('outlierDetection.ejectOnConnectFailure', 'a boolean', ejectOnConnectFailure);
  }
  const rate = given.successRate === false ? {} : (given.successRate ?? {});
  if (typeof rate !== 'object' || rate === null) invalidOption('outlierDetection.successRate', 'an object or false', rate);
  const successRate = Object.freeze({
    enabled: options !== false && given.successRate !== false,
    intervalMs: durationMs('outlierDetection.successRate.intervalMs', rate.intervalMs, 10_000) || invalidOption('outlierDetection.successRate.intervalMs', 'a positive number of milliseconds', 0),
    requestVolume: positiveInt('outlierDetection.successRate.requestVolume', rate.requestVolume, 50),
    minimumHosts: positiveInt('outlierDetection.successRate.minimumHosts', rate.minimumHosts, 3),
    gapPercent: percent('outlierDetection.successRate.gapPercent', rate.gapPercent, 10),
  });
  return Object.freeze({
    enabled: options !== false,
    successRate,
    consecutiveFailures: positiveInt('outlierDetection.consecutiveFailures', given.consecutiveFailures, 5),
    ejectOnConnectFailure,
    baseEjectionMs,
    maxEjectionMs,
    maxEjectedPercent: percent('outlierDetection.maxEjectedPercent', given.maxEjectedPercent, 10),
    panicThresholdPercent: percent('outlierDetection.panicThresholdPercent', given.panicThresholdPercent, 50),
  });
}

/** How a try failed, as far as ejection is concerned. */
export const FailureKind = {
  /** No connection could be made: refused, unreachable, connect timeout. Nothing was sent. */
  CONNECT: 'connect',
  /** Sent, but answered with an error status, reset before the response, or timed out. */
  RESPONSE: 'response',
} as const;

/** How a try failed, as far as ejection is concerned. */
export type FailureKind = (typeof FailureKind)[keyof typeof FailureKind];

/**
 * Decides ejections: counts failures in a row, ejects for a time that grows with each ejection, holds to the
 * cap on how many instances may be out at once, and readmits an instance on one successful probe.
 * Works on the balancer's instance states; every method returns true when an instance's eligibility changed,
 * so the balancer knows to rebuild its candidates.
 */
export class OutlierDetector {
  readonly #options: ResolvedOutlierDetectionOptions;

  /** @param options - resolved ejection options */
  constructor(options: ResolvedOutlierDetectionOptions) {
    this.#options = options;
  }

  /** The resolved options. */
  get options(): ResolvedOutlierDetectionOptions {
    return this.#options;
  }

  /** Records a success; a probing instance is readmitted. */
  onSuccess<T extends BalancerTarget>(state: InstanceState<T>, now: number): boolean {
    state.consecutiveFailures = 0;
    if (state.mode !== InstanceMode.PROBING) return false;
    state.mode = InstanceMode.ACTIVE;
    state.probeInFlight = false;
    state.excludedUntil = 0;
    // Draining instances did not fail: their ejection count stays as it was.
    if (state.probeAfter === InstanceMode.EJECTED) state.readmittedAt = now;
    state.probeAfter = InstanceMode.ACTIVE;
    return true;
  }

  /**
   * Records a failure and ejects when the rules say so and the cap allows.
   * @param ejected - instances ejected now (probing ones included), for the cap
   * @param total - instances known to the balancer, for the cap
   */
  onFailure<T extends BalancerTarget>(state: InstanceState<T>, kind: FailureKind, now: number, ejected: number, total: number): boolean {
    state.consecutiveFailures++;
    if (!this.#options.enabled) return false;
    const probing = state.mode === InstanceMode.PROBING;
    const trigger =
      probing ||
      (kind === FailureKind.CONNECT && this.#options.ejectOnConnectFailure) ||
      state.consecutiveFailures >= this.#options.consecutiveFailures;
    if (!trigger) return false;
    if (state.mode === InstanceMode.EJECTED) return false;
    // A probing instance is already counted as ejected, so sending it back does not need room under the cap.
    if (!probing && !this.mayEject(ejected, total)) return false;
    this.#eject(state, now);
    state.ejectionReason = probing ? 'failed-probe' : kind === FailureKind.CONNECT && this.#options.ejectOnConnectFailure ? 'connect-failure' : 'consecutive-failures';
    return true;
  }

  /** Whether one more instance may be ejected, with `ejected` of `total` out already. */
  mayEject(ejected: number, total: number): boolean {
    const cap = Math.max(1, Math.floor((total * this.#options.maxEjectedPercent) / 100));
    return ejected < cap;
  }

  /** Whether `healthy` out of `total` is below the panic threshold. */
  panics(healthy: number, total: number): boolean {
    return total > 0 && healthy * 100 < total * this.#options.panicThresholdPercent;
  }

  /**
   * Judges the interval that just ended (each state's `lastRequests` and `lastFailures`): ejects the
   * instances whose success rate is an outlier, as far as the cap allows, worst first. Returns the ejected.
   */
  onInterval<T extends BalancerTarget>(states: readonly InstanceState<T>[], now: number, ejected: number): InstanceState<T>[] {
    const rule = this.#options.successRate;
    if (!this.#options.enabled || !rule.enabled) return [];
    const judged = states.filter((state) => state.mode === InstanceMode.ACTIVE && state.lastRequests >= rule.requestVolume);
    if (judged.length < rule.minimumHosts) return [];
    const rates = judged.map((state) => 1 - state.lastFailures / state.lastRequests);
    const sorted = [...rates].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
    const threshold = median - rule.gapPercent / 100;
    const outliers = judged.filter((_, i) => rates[i]! < threshold).sort((a, b) => a.lastFailures / a.lastRequests - b.lastFailures / b.lastRequests).reverse();
    const done: InstanceState<T>[] = [];
    for (const state of outliers) {
      if (!this.mayEject(ejected + done.length, states.length)) break;
      this.#eject(state, now);
      state.ejectionReason = 'success-rate';
      done.push(state);
    }
    return done;
  }

  #eject<T extends BalancerTarget>(state: InstanceState<T>, now: number): void {
    // An instance that stayed healthy for a full maximum ejection since its readmission starts over, so one
    // bad afternoon does not condemn it to five-minute ejections for good.
    if (state.timesEjected > 0 && state.probeAfter !== InstanceMode.EJECTED && now - state.readmittedAt >= this.#options.maxEjectionMs) {
      state.timesEjected = 0;
    }
    state.timesEjected++;
    const duration = Math.min(this.#options.baseEjectionMs * state.timesEjected, this.#options.maxEjectionMs);
    state.mode = InstanceMode.EJECTED;
    state.excludedUntil = now + duration;
    state.probeInFlight = false;
    state.probeAfter = InstanceMode.ACTIVE;
  }
}
