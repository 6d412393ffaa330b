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
  /** Milliseconds since the epoch. */
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

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, delayMs: number): ClockTimer =>
    new SystemTimer(setTimeout(callback, Math.max(0, delayMs))),
});
