import type { Clock, ClockTimer } from '../common/Clock.js';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cleared: boolean;
}

/**
 * A clock that moves only when told: for tests of timeouts, intervals and hysteresis without sleeping.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const service = createService({ name: 'test', clock, admin: false });
 * const started = service.start();
 * await clock.advanceAsync(30_000); // a hook that never ends now times out
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #pending: Pending[] = [];

  /** @param startMs - the initial time (epoch ms) */
  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `callback` at now + `delayMs`. */
  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const entry: Pending = { at: this.#now + Math.max(0, delayMs), seq: this.#seq++, callback, cleared: false };
    this.#pending.push(entry);
    const timer: ClockTimer = {
      clear: () => {
        entry.cleared = true;
      },
      unref: () => timer,
    };
    return timer;
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#pending.filter((p) => !p.cleared).length;
  }

  /** Moves time forward by `ms`, firing due timers in order, synchronously. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (let next = this.#next(target); next !== undefined; next = this.#next(target)) {
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order and letting promises and I/O callbacks settle
   * after each, so async work scheduled by a timer runs before the next one fires.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.#now + ms;
    await settle();
    for (let next = this.#next(target); next !== undefined; next = this.#next(target)) {
      this.#now = next.at;
      next.callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }

  #next(target: number): Pending | undefined {
    this.#pending = this.#pending.filter((p) => !p.cleared);
    let best: Pending | undefined;
    for (const p of this.#pending) {
      if (p.at <= target && (best === undefined || p.at < best.at || (p.at === best.at && p.seq < best.seq))) best = p;
    }
    if (best !== undefined) best.cleared = true;
    return best;
  }
}

/** Lets pending promise callbacks and immediate I/O callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
