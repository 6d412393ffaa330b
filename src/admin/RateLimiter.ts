import type { Clock } from '../common/Clock.js';

/** Settings of a {@link RateLimiter}. */
export interface RateLimiterSettings {
  /** Source of time; buckets refill lazily from it, with no timer. */
  readonly clock: Clock;
  /** The most units a key may spend at once (the bucket size). */
  readonly burst: number;
  /** Units returned to each bucket per minute. */
  readonly perMinute: number;
  /**
   * The most keys tracked. Beyond it the buckets idle longest are dropped: a dropped bucket is a full one,
   * so a flood of distinct keys (spoofed actors, many addresses) costs bounded memory at worst forgiving the
   * oldest keys.
   * @default 10000
   */
  readonly maxKeys?: number;
}

interface Bucket {
  units: number;
  at: number;
}

/**
 * Token buckets by key (an actor, an address), refilled lazily on the injected clock. `check()` looks without
 * spending, `take()` spends: the admin server checks before a mutation and spends once it changed something.
 */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #perMs: number;
  readonly #maxKeys: number;
  /** Insertion order is recency order: a touched bucket is moved to the end. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(settings: RateLimiterSettings) {
    this.#clock = settings.clock;
    this.#burst = settings.burst;
    this.#perMs = settings.perMinute / 60_000;
    this.#maxKeys = settings.maxKeys ?? 10_000;
  }

  /** Milliseconds until `key` has a whole unit to spend; 0 when it has one now. */
  check(key: string): number {
    const units = this.#refill(key)?.units ?? this.#burst;
    if (units >= 1) return 0;
    return this.#perMs > 0 ? Math.ceil((1 - units) / this.#perMs) : Number.POSITIVE_INFINITY;
  }

  /** Spends one unit of `key`; returns 0, or the ms to wait when it had none (nothing is spent then). */
  take(key: string): number {
    const wait = this.check(key);
    if (wait > 0) return wait;
    const bucket = this.#buckets.get(key) ?? { units: this.#burst, at: this.#clock.now() };
    bucket.units -= 1;
    this.#buckets.delete(key);
    this.#buckets.set(key, bucket);
    this.#prune();
    return 0;
  }

  /** How many keys hold a bucket that is not full (for tests and diagnostics). */
  get size(): number {
    return this.#buckets.size;
  }

  #refill(key: string): Bucket | undefined {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return undefined;
    const now = this.#clock.now();
    // A clock that went back adds nothing rather than taking units away.
    bucket.units = Math.min(this.#burst, bucket.units + Math.max(0, now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (bucket.units >= this.#burst) {
      // A full bucket is the same as none: forget it, so idle keys cost no memory.
      this.#buckets.delete(key);
      return undefined;
    }
    return bucket;
  }

  #prune(): void {
    if (this.#buckets.size <= this.#maxKeys) return;
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxKeys) return;
      this.#buckets.delete(key);
    }
  }
}
