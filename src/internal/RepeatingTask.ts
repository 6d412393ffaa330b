import type { Clock, ClockTimer } from '../common/Clock.js';

/** Options of {@link RepeatingTask}. */
export interface RepeatingTaskOptions {
  readonly clock: Clock;
  /**
   * The work. Returns the delay before the next run in ms (so a task can back off after a failure).
   * Receives a signal that aborts when the task is closed. Must not throw: errors are the task's own business.
   */
  readonly run: (signal: AbortSignal) => Promise<number>;
  /** Delay before the first run. */
  readonly initialDelayMs: number;
}

/**
 * Repeating background work on one chain of `setTimeout`s: never two runs at once, never keeps the
 * process alive (every timer is unref'd), and `close()` cancels the next run and waits for a running one.
 */
export class RepeatingTask {
  readonly #options: RepeatingTaskOptions;
  readonly #controller = new AbortController();
  #timer: ClockTimer | undefined;
  #running: Promise<void> | undefined;
  #rerun = false;

  constructor(options: RepeatingTaskOptions) {
    this.#options = options;
    this.#schedule(options.initialDelayMs);
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#controller.signal.aborted;
  }

  /** Runs now (or right after the current run) instead of waiting for the timer. */
  trigger(): void {
    if (this.closed) return;
    if (this.#running) {
      this.#rerun = true;
      return;
    }
    this.#timer?.clear();
    this.#fire();
  }

  /** Stops for good; resolves when a run in progress has finished. */
  async close(): Promise<void> {
    if (!this.closed) {
      this.#controller.abort();
      this.#timer?.clear();
    }
    await this.#running;
  }

  #schedule(delayMs: number): void {
    if (this.closed) return;
    this.#timer = this.#options.clock.setTimeout(() => this.#fire(), Math.max(0, delayMs)).unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#running = this.#options
      .run(this.#controller.signal)
      .catch(() => this.#options.initialDelayMs)
      .then((next) => {
        this.#running = undefined;
        if (this.#rerun) {
          this.#rerun = false;
          this.#schedule(0);
        } else {
          this.#schedule(next);
        }
      });
  }
}
