/** A pending timer made by a {@link Clock}. */
export interface ClockTimer {
  /** Cancels the timer; safe to call more than once or after it fired. */
  clear(): void;
  /** Lets the process exit while this timer is pending. Returns the same timer. */
  unref(): ClockTimer;
}

/**
 * The source of time for everything that waits or measures. Injected (the `clock` option) so tests can
 * drive time by hand with `ManualClock` from `karyon-ts/testing` instead of sleeping.
 */
export interface Clock {
  /**
   * Milliseconds since the epoch, on a clock whose differences are durations: the library measures leases,
   * timeouts, windows and backoffs as differences of `now()`, so a clock that steps makes them wrong.
   */
  now(): number;
  /** Calls `callback` once after `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
}

class SystemTimer implements ClockTimer {
  readonly #timeout: NodeJS.Timeout;
  constructor(timeout: NodeJS.Timeout) {
    this.#timeout = timeout;
  }
  clear(): void {
    clearTimeout(this.#timeout);
  }
  unref(): ClockTimer {
    this.#timeout.unref();
    return this;
  }
}

/**
 * @internal The longest delay Node's timers take (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms,
 * with a warning. Options refuse longer durations rather than turn them into a busy loop.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The real clock: Node's timers, and a `now()` that never steps. It reads the monotonic clock
 * (`performance.now()`) from the wall-clock time the process started at (`performance.timeOrigin`), so the
 * difference of two readings is always the time that passed: a step of the system clock (an operator, NTP after
 * a suspend) expires no lease, fires no timer early and stalls none. Its timestamps drift from the wall clock
 * by any step made since the process started.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Math.floor(performance.timeOrigin + performance.now()),
  // Node fires a delay beyond 2^31 - 1 ms after 1 ms; such a delay waits as long as a timer can instead.
  setTimeout: (callback: () => void, delayMs: number): ClockTimer =>
    new SystemTimer(setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, delayMs)))),
});
