import { LogLinearHistogram } from './LogLinearHistogram.js';

/**
 * The outcomes a command counts, as Hystrix's event types name them. Indexes into flat typed arrays, so
 * counting an event is one array increment.
 */
export const CommandEventType = {
  SUCCESS: 0,
  FAILURE: 1,
  TIMEOUT: 2,
  SHORT_CIRCUITED: 3,
  SEMAPHORE_REJECTED: 4,
  BAD_REQUEST: 5,
  FALLBACK_SUCCESS: 6,
  FALLBACK_FAILURE: 7,
  FALLBACK_REJECTION: 8,
  FALLBACK_MISSING: 9,
  EXCEPTION_THROWN: 10,
  CANCELLED: 11,
  /** Not an outcome: an execution that got past the breaker and the bulkhead and started. */
  EXECUTED: 12,
} as const;

/** One of {@link CommandEventType}'s values. */
export type CommandEventType = (typeof CommandEventType)[keyof typeof CommandEventType];

const EVENTS = 13;

/** Counts of each outcome, over the rolling window or since the command was made. */
export interface CommandCounts {
  /** Executions that returned. */
  readonly success: number;
  /** Executions that threw (bad requests excluded). */
  readonly failure: number;
  /** Executions that ran out of time. */
  readonly timeout: number;
  /** Calls refused because the circuit was open. */
  readonly shortCircuited: number;
  /** Calls refused because the bulkhead and its queue were full. */
  readonly semaphoreRejected: number;
  /** Executions that threw an error the command was told not to count (`isBadRequest`). */
  readonly badRequest: number;
  /** Fallbacks that returned. */
  readonly fallbackSuccess: number;
  /** Fallbacks that threw. */
  readonly fallbackFailure: number;
  /** Fallbacks refused because too many ran at once. */
  readonly fallbackRejection: number;
  /** Failed calls that had no fallback. */
  readonly fallbackMissing: number;
  /** Calls that ended with an error thrown to the caller after a failure (no fallback, or it failed). */
  readonly exceptionsThrown: number;
  /** Calls abandoned by the caller's signal. */
  readonly cancelled: number;
  /** Executions started (past the breaker and the bulkhead). */
  readonly executed: number;
}

/** The error percentage's inputs, as Hystrix's `HealthCounts`. */
export interface HealthCounts {
  /** Requests counted: successes, failures, timeouts and (when they count as errors) bulkhead rejections. */
  readonly requestCount: number;
  /** Failures, timeouts and (when they count as errors) bulkhead rejections. */
  readonly errorCount: number;
  /** `errorCount * 100 / requestCount`, rounded down as Hystrix does; 0 without requests. */
  readonly errorPercentage: number;
}

/** Latency percentiles, keyed as the Hystrix stream keys them, in whole ms. */
export type LatencyPercentiles = Readonly<Record<'0' | '25' | '50' | '75' | '90' | '95' | '99' | '99.5' | '100', number>>;

/** The percentiles Hystrix reports, in ascending order. */
export const percentileKeys = ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'] as const;
const percentileValues = percentileKeys.map(Number);

/** Latency over the percentile window. */
export interface LatencySummary {
  /** Mean, in whole ms (rounded down, as Hystrix reports it). */
  readonly mean: number;
  /** Percentiles, in whole ms. */
  readonly percentiles: LatencyPercentiles;
  /** Number of samples. */
  readonly count: number;
}

/** Geometry of a ring of time buckets that rotates lazily: on each touch, never on a timer. */
class BucketRing {
  readonly size: number;
  readonly bucketMs: number;
  head = 0;
  start: number;

  constructor(windowMs: number, buckets: number, now: number) {
    this.size = buckets;
    this.bucketMs = windowMs / buckets;
    this.start = now;
  }

  /** How many buckets the head must move forward to reach `now` (0 almost always). */
  lag(now: number): number {
    const elapsed = now - this.start;
    return elapsed < this.bucketMs ? 0 : Math.floor(elapsed / this.bucketMs);
  }
}

/**
 * A command's rolling statistics: event counts over a rolling window of buckets (Hystrix's
 * `HystrixRollingNumber`), running health totals kept up to date so the trip check is two comparisons, the
 * rolling maximum concurrency, and latency histograms over a (longer) percentile window.
 *
 * Buckets rotate lazily when an event or a read finds the current one expired, so no command owns a
 * timer; that is the "shared rotate controller" opossum asks for, taken to its limit.
 */
export class CommandMetrics {
  #ring: BucketRing;
  #counts: Float64Array;
  #healthTotal: Float64Array;
  #healthErrors: Float64Array;
  #maxConcurrent: Float64Array;
  #total = 0;
  #errors = 0;
  readonly #cumulative = new Float64Array(EVENTS);

  #latencyRing: BucketRing;
  #execute: LogLinearHistogram[];
  #totalLatency: LogLinearHistogram[];

  /**
   * @param windowMs - rolling window length, in ms
   * @param buckets - buckets in the rolling window
   * @param percentileWindowMs - percentile window length, in ms
   * @param percentileBuckets - buckets in the percentile window
   * @param now - the current time
   */
  constructor(windowMs: number, buckets: number, percentileWindowMs: number, percentileBuckets: number, now: number) {
    const rolling = newRollingWindow(windowMs, buckets, now);
    const latency = newLatencyWindow(percentileWindowMs, percentileBuckets, now);
    this.#ring = rolling.ring;
    this.#counts = rolling.counts;
    this.#healthTotal = rolling.healthTotal;
    this.#healthErrors = rolling.healthErrors;
    this.#maxConcurrent = rolling.maxConcurrent;
    this.#latencyRing = latency.ring;
    this.#execute = latency.execute;
    this.#totalLatency = latency.total;
  }

  /**
   * Prepares windows of a new shape (a settings change): everything they need is allocated now, so anything
   * that can fail fails here, and nothing changes until the returned function is called. That function
   * starts a fresh rolling window and/or a fresh percentile window where the shape changed (cumulative counts
   * are kept) and cannot throw.
   */
  prepareReshape(windowMs: number, buckets: number, percentileWindowMs: number, percentileBuckets: number, now: number): () => void {
    const rolling = sameShape(this.#ring, windowMs, buckets) ? undefined : newRollingWindow(windowMs, buckets, now);
    const latency = sameShape(this.#latencyRing, percentileWindowMs, percentileBuckets) ? undefined : newLatencyWindow(percentileWindowMs, percentileBuckets, now);
    return () => {
      if (rolling !== undefined) {
        this.#ring = rolling.ring;
        this.#counts = rolling.counts;
        this.#healthTotal = rolling.healthTotal;
        this.#healthErrors = rolling.healthErrors;
        this.#maxConcurrent = rolling.maxConcurrent;
        this.#total = 0;
        this.#errors = 0;
      }
      if (latency !== undefined) {
        this.#latencyRing = latency.ring;
        this.#execute = latency.execute;
        this.#totalLatency = latency.total;
      }
    };
  }

  /** Counts one event. */
  count(event: CommandEventType, now: number): void {
    const ring = this.#ring;
    if (now - ring.start >= ring.bucketMs) this.#rotate(now);
    const i = ring.head * EVENTS + event;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#cumulative[event] = (this.#cumulative[event] as number) + 1;
  }

  /** Counts one event that is also a request towards the error percentage (an error when `error`). */
  countRequest(event: CommandEventType, error: boolean, now: number): void {
    const ring = this.#ring;
    if (now - ring.start >= ring.bucketMs) this.#rotate(now);
    const h = ring.head;
    const i = h * EVENTS + event;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#cumulative[event] = (this.#cumulative[event] as number) + 1;
    this.#healthTotal[h] = (this.#healthTotal[h] as number) + 1;
    this.#total++;
    if (error) {
      this.#healthErrors[h] = (this.#healthErrors[h] as number) + 1;
      this.#errors++;
    }
  }

  /** Counts an execution that started, with the number running now (for the rolling maximum). */
  started(running: number, now: number): void {
    const ring = this.#ring;
    if (now - ring.start >= ring.bucketMs) this.#rotate(now);
    const h = ring.head;
    const i = h * EVENTS + CommandEventType.EXECUTED;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.#cumulative[CommandEventType.EXECUTED] = (this.#cumulative[CommandEventType.EXECUTED] as number) + 1;
    if (running > (this.#maxConcurrent[h] as number)) this.#maxConcurrent[h] = running;
  }

  /**
   * Records latencies in ms: an execution's (the work alone) and/or a whole call's (fallback included);
   * a negative value records nothing.
   */
  latency(executeMs: number, totalMs: number, now: number): void {
    const ring = this.#latencyRing;
    if (now - ring.start >= ring.bucketMs) this.#rotateLatency(now);
    if (executeMs >= 0) (this.#execute[ring.head] as LogLinearHistogram).record(executeMs);
    if (totalMs >= 0) (this.#totalLatency[ring.head] as LogLinearHistogram).record(totalMs);
  }

  /** Requests in the window counted towards the error percentage. */
  requestCount(now: number): number {
    this.#touch(now);
    return this.#total;
  }

  /** The error percentage's inputs over the window. */
  healthCounts(now: number): HealthCounts {
    this.#touch(now);
    const requestCount = this.#total;
    const errorCount = this.#errors;
    return { requestCount, errorCount, errorPercentage: requestCount === 0 ? 0 : Math.floor((errorCount * 100) / requestCount) };
  }

  /**
   * True when the window holds at least `volume` requests and the error percentage is at or above
   * `threshold`: Hystrix's trip condition. Runs after every counted request, so it stays two comparisons
   * and an integer division.
   */
  shouldTrip(volume: number, threshold: number, now: number): boolean {
    this.#touch(now);
    const total = this.#total;
    return total > 0 && total >= volume && Math.floor((this.#errors * 100) / total) >= threshold;
  }

  /** Forgets the window's health counts (when a trial call closes the circuit), keeping the event counts. */
  resetHealth(): void {
    this.#healthTotal.fill(0);
    this.#healthErrors.fill(0);
    this.#total = 0;
    this.#errors = 0;
  }

  /** Event counts over the rolling window. */
  rollingCounts(now: number): CommandCounts {
    this.#touch(now);
    const sums = new Float64Array(EVENTS);
    for (let b = 0; b < this.#ring.size; b++) {
      for (let e = 0; e < EVENTS; e++) sums[e] = (sums[e] as number) + (this.#counts[b * EVENTS + e] as number);
    }
    return toCounts(sums);
  }

  /** Event counts since the command was made. */
  cumulativeCounts(): CommandCounts {
    return toCounts(this.#cumulative);
  }

  /** Largest number of executions running at once within the rolling window. */
  rollingMaxConcurrent(now: number): number {
    this.#touch(now);
    let max = 0;
    for (const m of this.#maxConcurrent) if (m > max) max = m;
    return max;
  }

  /** Latency of executions (the work alone) and of whole calls, over the percentile window. */
  latencies(now: number): { readonly execute: LatencySummary; readonly total: LatencySummary } {
    const ring = this.#latencyRing;
    if (now - ring.start >= ring.bucketMs) this.#rotateLatency(now);
    return { execute: summarize(this.#execute), total: summarize(this.#totalLatency) };
  }

  #touch(now: number): void {
    if (now - this.#ring.start >= this.#ring.bucketMs) this.#rotate(now);
  }

  #rotate(now: number): void {
    const ring = this.#ring;
    const steps = Math.min(ring.lag(now), ring.size);
    for (let s = 0; s < steps; s++) {
      ring.head = (ring.head + 1) % ring.size;
      const h = ring.head;
      this.#total -= this.#healthTotal[h] as number;
      this.#errors -= this.#healthErrors[h] as number;
      this.#healthTotal[h] = 0;
      this.#healthErrors[h] = 0;
      this.#maxConcurrent[h] = 0;
      this.#counts.fill(0, h * EVENTS, (h + 1) * EVENTS);
    }
    // Keep bucket boundaries on the original grid, so a quiet spell does not shift them.
    ring.start += ring.lag(now) * ring.bucketMs;
  }

  #rotateLatency(now: number): void {
    const ring = this.#latencyRing;
    const steps = Math.min(ring.lag(now), ring.size);
    for (let s = 0; s < steps; s++) {
      ring.head = (ring.head + 1) % ring.size;
      (this.#execute[ring.head] as LogLinearHistogram).clear();
      (this.#totalLatency[ring.head] as LogLinearHistogram).clear();
    }
    ring.start += ring.lag(now) * ring.bucketMs;
  }
}

function sameShape(ring: BucketRing, windowMs: number, buckets: number): boolean {
  return ring.bucketMs * ring.size === windowMs && ring.size === buckets;
}

/** The arrays of a fresh rolling window. */
function newRollingWindow(windowMs: number, buckets: number, now: number) {
  return {
    ring: new BucketRing(windowMs, buckets, now),
    counts: new Float64Array(buckets * EVENTS),
    healthTotal: new Float64Array(buckets),
    healthErrors: new Float64Array(buckets),
    maxConcurrent: new Float64Array(buckets),
  };
}

/** The histograms of a fresh percentile window. */
function newLatencyWindow(windowMs: number, buckets: number, now: number) {
  return {
    ring: new BucketRing(windowMs, buckets, now),
    execute: Array.from({ length: buckets }, () => new LogLinearHistogram()),
    total: Array.from({ length: buckets }, () => new LogLinearHistogram()),
  };
}

function summarize(buckets: readonly LogLinearHistogram[]): LatencySummary {
  const sum = new LogLinearHistogram();
  for (const bucket of buckets) bucket.addTo(sum);
  const values = sum.percentiles(percentileValues);
  const percentiles = {} as Record<(typeof percentileKeys)[number], number>;
  percentileKeys.forEach((key, i) => (percentiles[key] = values[i] as number));
  return { mean: sum.count === 0 ? 0 : Math.floor(sum.sum / sum.count), percentiles, count: sum.count };
}

function toCounts(sums: Float64Array): CommandCounts {
  const at = (event: CommandEventType): number => sums[event] as number;
  return {
    success: at(CommandEventType.SUCCESS),
    failure: at(CommandEventType.FAILURE),
    timeout: at(CommandEventType.TIMEOUT),
    shortCircuited: at(CommandEventType.SHORT_CIRCUITED),
    semaphoreRejected: at(CommandEventType.SEMAPHORE_REJECTED),
    badRequest: at(CommandEventType.BAD_REQUEST),
    fallbackSuccess: at(CommandEventType.FALLBACK_SUCCESS),
    fallbackFailure: at(CommandEventType.FALLBACK_FAILURE),
    fallbackRejection: at(CommandEventType.FALLBACK_REJECTION),
    fallbackMissing: at(CommandEventType.FALLBACK_MISSING),
    exceptionsThrown: at(CommandEventType.EXCEPTION_THROWN),
    cancelled: at(CommandEventType.CANCELLED),
    executed: at(CommandEventType.EXECUTED),
  };
}
