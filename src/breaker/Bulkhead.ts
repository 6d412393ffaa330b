/** A call waiting for the bulkhead. */
export interface BulkheadWaiter {
  /** Called when the waiter gets a permit (already counted as running). Must not throw. */
  admit(): void;
}

/**
 * A semaphore bulkhead with an optional bounded queue: at most `maxConcurrent` executions run at once, at
 * most `maxQueued` wait, the rest are turned away. Limits are passed on each call so a settings change takes
 * effect on the next call. Waiters are admitted in arrival order.
 */
export class Bulkhead {
  #running = 0;
  #largest = 0;
  #completed = 0;
  #queue: (BulkheadWaiter | undefined)[] = [];
  #queueHead = 0;
  #queued = 0;

  /** Executions holding a permit. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a permit. */
  get queued(): number {
    return this.#queued;
  }

  /** The most executions that ever held permits at once. */
  get largest(): number {
    return this.#largest;
  }

  /** Permits given back since the bulkhead was made. */
  get completed(): number {
    return this.#completed;
  }

  /** Takes a permit when one is free and nobody is waiting for one (waiters go first). */
  tryAcquire(maxConcurrent: number): boolean {
    if (this.#running >= maxConcurrent || this.#queued > 0) return false;
    this.#take();
    return true;
  }

  /** Queues a waiter when the queue has room; returns false when it has not. */
  enqueue(waiter: BulkheadWaiter, maxQueued: number): boolean {
    if (this.#queued >= maxQueued) return false;
    this.#queue.push(waiter);
    this.#queued++;
    return true;
  }

  /** Takes a waiter out of the queue (its call timed out or was cancelled); false when it was not queued. */
  cancel(waiter: BulkheadWaiter): boolean {
    const at = this.#queue.indexOf(waiter, this.#queueHead);
    if (at < 0) return false;
    this.#queue[at] = undefined;
    this.#queued--;
    // Cancelled slots are skipped on admission; drop them when they outnumber the live waiters.
    if (this.#queue.length - this.#queueHead > 2 * this.#queued + 32) {
      this.#queue = this.#queue.filter((w, i) => i >= this.#queueHead && w !== undefined);
      this.#queueHead = 0;
    }
    return true;
  }

  /** Gives a permit back and admits waiters while permits are free. */
  release(maxConcurrent: number): void {
    this.#running--;
    this.#completed++;
    this.admit(maxConcurrent);
  }

  /** Admits waiters while permits are free (also after `maxConcurrent` grew). */
  admit(maxConcurrent: number): void {
    while (this.#queued > 0 && this.#running < maxConcurrent) {
      const waiter = this.#queue[this.#queueHead];
      this.#queue[this.#queueHead++] = undefined;
      if (waiter === undefined) continue;
      this.#queued--;
      this.#take();
      waiter.admit();
    }
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#queued === 0 && this.#queue.length > 0) {
      this.#queue = [];
      this.#queueHead = 0;
    }
  }

  /** Empties the queue without admitting anyone; returns the waiters in arrival order. */
  drain(): BulkheadWaiter[] {
    const waiters = this.#queue.slice(this.#queueHead).filter((w): w is BulkheadWaiter => w !== undefined);
    this.#queue = [];
    this.#queueHead = 0;
    this.#queued = 0;
    return waiters;
  }

  #take(): void {
    this.#running++;
    if (this.#running > this.#largest) this.#largest = this.#running;
  }
}
