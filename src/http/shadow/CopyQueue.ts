import { setMaxListeners } from 'node:events';

/** Work queued by {@link CopyQueue}. */
export interface CopyTask {
  /** Does the work; `signal` aborts when the queue is cleared. Never rejects (failures are the task's to count). */
  run(signal: AbortSignal): Promise<void>;
  /** Called instead of `run` when the task is dropped before it started. */
  drop(): void;
}

/** The limits, read at each decision so that live changes apply at once. */
export interface CopyQueueLimits {
  /** Tasks running at once. */
  readonly maxConcurrent: number;
  /** Tasks waiting for a slot. */
  readonly maxQueue: number;
}

/**
 * Bounded concurrency and a bounded queue for fire-and-forget work: `offer()` never waits, it accepts or
 * refuses. Accepted work starts on a later turn of the event loop (`setImmediate`), so whoever offered it
 * (a primary request on its way out) finishes its own turn first.
 */
export class CopyQueue {
  readonly #limits: () => CopyQueueLimits;
  readonly #waiting: CopyTask[] = [];
  // Running tasks are only ever aborted all at once (kill switch, close), so they share one controller per
  // generation: an AbortController per task would cost about as much as a tenth of the copy itself.
  #generation = CopyQueue.#controller();
  #running = 0;
  #scheduled = false;
  #closed = false;

  static #controller(): AbortController {
    const controller = new AbortController();
    // Every copy in flight listens on it: that is expected, not a leak.
    setMaxListeners(0, controller.signal);
    return controller;
  }

  /** @param limits - returns the current limits */
  constructor(limits: () => CopyQueueLimits) {
    this.#limits = limits;
  }

  /** Tasks running now. */
  get inFlight(): number {
    return this.#running;
  }

  /** Tasks waiting now. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Accepts the task when a slot or a queue place is free; false when it does not fit (or the queue is closed). */
  offer(task: CopyTask): boolean {
    const { maxConcurrent, maxQueue } = this.#limits();
    if (this.#closed || this.#running + this.#waiting.length >= maxConcurrent + maxQueue) return false;
    this.#waiting.push(task);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#pump);
    }
    return true;
  }

  /** Drops the waiting tasks beyond the current limits (after the limits shrank). */
  trim(): void {
    const { maxConcurrent, maxQueue } = this.#limits();
    // The oldest go first: they are the stalest copies of traffic.
    while (this.#waiting.length > 0 && this.#running + this.#waiting.length > maxConcurrent + maxQueue) {
      (this.#waiting.shift() as CopyTask).drop();
    }
  }

  /** Drops every waiting task and aborts every running one (the kill switch). */
  clear(reason: Error): void {
    for (const task of this.#waiting.splice(0)) task.drop();
    if (this.#running === 0) return;
    this.#generation.abort(reason);
    this.#generation = CopyQueue.#controller();
  }

  /** Clears and refuses further tasks. */
  close(reason: Error): void {
    this.#closed = true;
    this.clear(reason);
  }

  readonly #pump = (): void => {
    this.#scheduled = false;
    const { maxConcurrent } = this.#limits();
    while (this.#running < maxConcurrent && this.#waiting.length > 0) this.#start(this.#waiting.shift() as CopyTask);
  };

  readonly #done = (): void => {
    this.#running--;
    if (!this.#closed) this.#pump();
  };

  #start(task: CopyTask): void {
    this.#running++;
    let running: Promise<void>;
    try {
      running = task.run(this.#generation.signal);
    } catch {
      this.#done();
      return;
    }
    running.then(this.#done, this.#done);
  }
}
