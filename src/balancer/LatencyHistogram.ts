/** Buckets grow by 2^(1/3) (about 26%), from 0.1 ms: 64 buckets reach past 200 s. */
const BUCKETS = 64;
const FIRST_BOUND_MS = 0.1;
const STEPS_PER_DOUBLING = 3;

/** Upper bound of each bucket, in ms, computed once. */
const upperBounds = new Float64Array(BUCKETS);
for (let i = 0; i < BUCKETS; i++) upperBounds[i] = FIRST_BOUND_MS * 2 ** (i / STEPS_PER_DOUBLING);

function bucketOf(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0;
  const index = Math.ceil(Math.log2(ms / FIRST_BOUND_MS) * STEPS_PER_DOUBLING);
  return index < BUCKETS ? index : BUCKETS - 1;
}

/**
 * A fixed-size latency histogram over a sliding window: two generations of log-spaced buckets, the older one
 * dropped each `windowMs`, so a quantile reflects the last one to two windows. Memory is constant (two
 * 64-bucket arrays); recording is O(1); a quantile is O(buckets) and reports the bucket's upper bound, so it
 * errs towards the slower side by at most one bucket (26%).
 */
export class LatencyHistogram {
  readonly #windowMs: number;
  #current = new Uint32Array(BUCKETS);
  #previous = new Uint32Array(BUCKETS);
  #currentCount = 0;
  #previousCount = 0;
  #windowStart: number;

  /**
   * @param windowMs - how long one generation lasts, in ms
   * @param now - the current time, in ms
   */
  constructor(windowMs: number, now: number) {
    this.#windowMs = windowMs;
    this.#windowStart = now;
  }

  /** Samples in the window. */
  count(now: number): number {
    this.#rotate(now);
    return this.#currentCount + this.#previousCount;
  }

  /** Records one latency, in ms. */
  record(latencyMs: number, now: number): void {
    this.#rotate(now);
    const bucket = bucketOf(latencyMs);
    this.#current[bucket] = (this.#current[bucket] as number) + 1;
    this.#currentCount++;
  }

  /**
   * The latency below which `quantile` (0..1) of the samples in the window fall, in ms; undefined when the
   * window holds fewer than `minSamples` samples.
   */
  quantile(quantile: number, now: number, minSamples = 1): number | undefined {
    this.#rotate(now);
    const total = this.#currentCount + this.#previousCount;
    if (total === 0 || total < minSamples) return undefined;
    const rank = Math.max(1, Math.ceil(quantile * total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += (this.#current[i] as number) + (this.#previous[i] as number);
      if (seen >= rank) return upperBounds[i];
    }
    return upperBounds[BUCKETS - 1];
  }

  #rotate(now: number): void {
    const elapsed = now - this.#windowStart;
    if (elapsed < this.#windowMs) return;
    if (elapsed >= 2 * this.#windowMs) {
      // Both generations are stale: start empty rather than keep numbers from long ago.
      this.#current.fill(0);
      this.#previous.fill(0);
      this.#currentCount = 0;
      this.#previousCount = 0;
      this.#windowStart = now;
      return;
    }
    const recycled = this.#previous;
    recycled.fill(0);
    this.#previous = this.#current;
    this.#previousCount = this.#currentCount;
    this.#current = recycled;
    this.#currentCount = 0;
    this.#windowStart += this.#windowMs;
  }
}
