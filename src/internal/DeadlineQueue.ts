import type { Clock, ClockTimer } from '../common/Clock.js';

/** An entry of a {@link DeadlineQueue}: the queue links entries through these fields to avoid allocating. */
export interface Deadline {
  /** When the entry expires (epoch ms). */
  deadline: number;
  /** The previous entry, while queued. */
  prevDeadline: Deadline | undefined;
  /** The next entry, while queued. */
  nextDeadline: Deadline | undefined;
  /** True while queued. */
  queued: boolean;
  /** Called once when the deadline passes while queued. Must not throw. */
  expire(now: number): void;
}

/**
 * Timeouts for many calls on one timer. A command's calls (or a client's tries) mostly share one timeout, so their deadlines
 * arrive in order: entries sit in a doubly linked list sorted by deadline (an insert walks back from the
 * tail, normally zero steps), removal is O(1), and a single timer is armed for the earliest deadline. That
 * replaces a `setTimeout` plus a `clearTimeout` per call, the largest per-call cost of a timed call.
 *
 * The timer is re-armed lazily: when the earliest entry is removed the timer stays set for its old
 * deadline, fires, finds nothing due, and is set again for the new head. With steady traffic it fires about
 * once per timeout period.
 */
export class DeadlineQueue {
  readonly #clock: Clock;
  #head: Deadline | undefined;
  #tail: Deadline | undefined;
  #size = 0;
  #timer: ClockTimer | undefined;
  #armedFor = Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Number of entries waiting. */
  get size(): number {
    return this.#size;
  }

  /** Adds an entry, whose `deadline` is set. */
  add(entry: Deadline): void {
    let after = this.#tail;
    while (after !== undefined && after.deadline > entry.deadline) after = after.prevDeadline;
    entry.prevDeadline = after;
    entry.nextDeadline = after === undefined ? this.#head : after.nextDeadline;
    if (entry.nextDeadline === undefined) this.#tail = entry;
    else entry.nextDeadline.prevDeadline = entry;
    if (after === undefined) this.#head = entry;
    else after.nextDeadline = entry;
    entry.queued = true;
    this.#size++;
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline);
  }

  /** Removes an entry; does nothing when it is not queued. */
  remove(entry: Deadline): void {
    if (!entry.queued) return;
    entry.queued = false;
    const { prevDeadline: prev, nextDeadline: next } = entry;
    if (prev === undefined) this.#head = next;
    else prev.nextDeadline = next;
    if (next === undefined) this.#tail = prev;
    else next.prevDeadline = prev;
    entry.prevDeadline = undefined;
    entry.nextDeadline = undefined;
    this.#size--;
  }

  /** Removes every entry and returns them in deadline order, without expiring them; clears the timer. */
  drain(): Deadline[] {
    const out: Deadline[] = [];
    while (this.#head !== undefined) {
      const entry = this.#head;
      out.push(entry);
      this.remove(entry);
    }
    this.#timer?.clear();
    this.#timer = undefined;
    this.#armedFor = Infinity;
    return out;
  }

  #arm(at: number): void {
    this.#timer?.clear();
    this.#armedFor = at;
    this.#timer = this.#clock.setTimeout(this.#fire, Math.max(0, at - this.#clock.now())).unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    // Expiring runs fallbacks, which may add entries; the loop reads the head afresh each time.
    for (let entry = this.#head; entry !== undefined && entry.deadline <= now; entry = this.#head) {
      this.remove(entry);
      entry.expire(now);
    }
    if (this.#head !== undefined && this.#head.deadline < this.#armedFor) this.#arm(this.#head.deadline);
  };
}
