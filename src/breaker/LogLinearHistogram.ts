// Values below 2^SUB_BITS are counted exactly; above, each power of two is split into 2^SUB_BITS equal
// sub-buckets (HdrHistogram's layout with one significant hex digit), so a reported value is at most 1/16
// (6.25%) above the true one. Latencies are whole milliseconds, as Hystrix reports them.
const SUB_BITS = 4;
const SUB_COUNT = 1 << SUB_BITS;
const MAX_EXPONENT = 31;
/** Number of counters: the exact range plus one row of sub-buckets per power of two up to 2^31 ms. */
const SIZE = SUB_COUNT + (MAX_EXPONENT - SUB_BITS + 1) * SUB_COUNT;
const MAX_VALUE = 2 ** MAX_EXPONENT * 2 - 1;

/** The counter index of a non-negative integer value. */
function indexOf(value: number): number {
  if (value < SUB_COUNT) return value;
  const exponent = 31 - Math.clz32(value);
  const sub = (value >>> (exponent - SUB_BITS)) & (SUB_COUNT - 1);
  return SUB_COUNT + (exponent - SUB_BITS) * SUB_COUNT + sub;
}

/** The largest value counted at `index` (HdrHistogram's "highest equivalent value"). */
function highestOf(index: number): number {
  if (index < SUB_COUNT) return index;
  const row = Math.floor((index - SUB_COUNT) / SUB_COUNT);
  const sub = (index - SUB_COUNT) % SUB_COUNT;
  const exponent = row + SUB_BITS;
  const width = 2 ** (exponent - SUB_BITS);
  return 2 ** exponent + sub * width + width - 1;
}

/**
 * A fixed-size histogram of whole-millisecond latencies: recording is a few integer operations on a typed
 * array, never an allocation or a sort, and percentiles are computed only when asked for. Sums of several
 * histograms (the buckets of a rolling window) are made with {@link LogLinearHistogram.addTo}.
 */
export class LogLinearHistogram {
  readonly #counts = new Uint32Array(SIZE);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Number of values recorded. */
  get count(): number {
    return this.#count;
  }

  /** Sum of the values recorded, in ms. */
  get sum(): number {
    return this.#sum;
  }

  /** Largest value recorded (0 when empty). */
  get max(): number {
    return this.#max;
  }

  /** Records one latency in ms; negative and fractional values are clamped and rounded down. */
  record(latencyMs: number): void {
    let value = latencyMs > 0 ? Math.floor(latencyMs) : 0;
    if (value > MAX_VALUE) value = MAX_VALUE;
    const i = indexOf(value);
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#count++;
    this.#sum += value;
    if (value > this.#max) this.#max = value;
  }

  /** Forgets every value. */
  clear(): void {
    if (this.#count === 0) return;
    this.#counts.fill(0);
    this.#count = 0;
    this.#sum = 0;
    this.#max = 0;
  }

  /** Adds this histogram's values into `target`. */
  addTo(target: LogLinearHistogram): void {
    if (this.#count === 0) return;
    const into = target.#counts;
    const from = this.#counts;
    for (let i = 0; i < SIZE; i++) {
      const n = from[i] as number;
      if (n !== 0) into[i] = (into[i] as number) + n;
    }
    target.#count += this.#count;
    target.#sum += this.#sum;
    if (this.#max > target.#max) target.#max = this.#max;
  }

  /**
   * The values at each percentile (0..100), by nearest rank as Hystrix computes them; each is the top of
   * its counter's range, capped at the largest value recorded so the 100th percentile is exact. All 0 when
   * empty. `percentiles` must be in ascending order.
   */
  percentiles(percentiles: readonly number[]): number[] {
    const out = new Array<number>(percentiles.length).fill(0);
    if (this.#count === 0) return out;
    let index = 0;
    let seen = 0;
    for (let p = 0; p < percentiles.length; p++) {
      const rank = Math.max(1, Math.ceil(((percentiles[p] as number) / 100) * this.#count));
      while (seen + (this.#counts[index] as number) < rank) {
        seen += this.#counts[index] as number;
        index++;
      }
      out[p] = Math.min(highestOf(index), this.#max);
    }
    return out;
  }
}
