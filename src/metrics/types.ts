/**
 * Tags (dimensions) attached to a metric: statsd tags in the DogStatsD or Telegraf format, and labels in the
 * Prometheus exposition. Tags whose value is the empty string are left out.
 */
export type MetricTags = Readonly<Record<string, string | number | boolean>>;

/** The kinds of metric, as statsd names them. */
export type MetricType = 'counter' | 'timer' | 'gauge' | 'histogram' | 'distribution' | 'set';

/** How tags are written on the statsd wire. */
export type TagFormat = 'dogstatsd' | 'telegraf' | 'none';

/** Per-metric options given when a handle is created. */
export interface MetricOptions {
  /**
   * The description shown as `# HELP` in the Prometheus exposition.
   * @default the metric's type and statsd name
   */
  readonly help?: string;
  /**
   * Upper bounds of the Prometheus histogram buckets, strictly increasing. For timers they are in
   * seconds (Prometheus' base unit) although timers record milliseconds.
   * @default the registry's `timerBuckets` or `histogramBuckets`
   */
  readonly buckets?: readonly number[];
}

/** A pre-bound counter: name and tags fixed once, so recording builds no strings beyond the value. */
export interface CounterHandle {
  /** Adds `value` (default 1). Negative values reach statsd but are ignored by Prometheus counters. */
  increment(value?: number): void;
}

/** A pre-bound timer recording milliseconds. */
export interface TimerHandle {
  /** Records a duration in milliseconds. */
  record(ms: number): void;
  /** Runs `fn`, records how long it took (also when it throws) and returns its result. */
  time<T>(fn: () => T): T;
  /** Awaits `fn()`, records how long it took (also when it rejects) and returns its result. */
  timeAsync<T>(fn: () => PromiseLike<T>): Promise<T>;
  /** Starts a stopwatch; calling the returned function records the elapsed ms and returns it. */
  start(): () => number;
}

/** A pre-bound gauge: a value that goes up and down. */
export interface GaugeHandle {
  /** Sets the value (negative values too: a 0 is sent first so statsd does not read them as a delta). */
  set(value: number): void;
  /** Moves the value by `delta` (a statsd gauge delta, `+n` or `-n`). */
  add(delta: number): void;
}

/** A pre-bound histogram or distribution: a sample of values whose spread matters. */
export interface HistogramHandle {
  /** Records one value. */
  record(value: number): void;
}

/** A pre-bound set: counts distinct values per flush interval (statsd) or per window (Prometheus). */
export interface SetHandle {
  /** Records one member. */
  add(member: string | number): void;
}

/** What a metrics sink has done so far; for self-monitoring and tests. */
export interface MetricsStats {
  /** Lines handed to the statsd transport (buffered or sent). */
  readonly sent: number;
  /**
   * Lines not sent: the host did not resolve (yet), the sink was closed, or the value was not a finite
   * number.
   */
  readonly dropped: number;
  /** Transport errors reported by hot-shots (one may cover a whole buffered datagram). */
  readonly errors: number;
  /** Series in the Prometheus registry (0 without Prometheus). */
  readonly prometheusSeries: number;
  /** Records that Prometheus ignored because the series limit was reached or the name's type conflicted. */
  readonly prometheusDropped: number;
}

/** The text of a Prometheus exposition and how to serve it. */
export interface PrometheusExposition {
  /** The `Content-Type` of the text format 0.0.4. */
  readonly contentType: string;
  /** Renders every series in the text exposition format 0.0.4. */
  render(): string;
}

/**
 * Application metrics: pre-bound handles for hot paths, one-shot calls, timing helpers and child scopes.
 * Sends to statsd through hot-shots, aggregates for Prometheus, both, or neither (a no-op costing nearly
 * nothing). `gauge`, `histogram` and `distribution` return a handle when called with tags, and record at
 * once when called with a number.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({ host: '127.0.0.1', prefix: 'greeter', globalTags: { zone: 'a' } });
 * const served = metrics.counter('requests', { route: '/hello' });
 * served.increment();
 * metrics.timing('db.query', 12.5, { table: 'users' });
 * await metrics.close(); // flushes: nothing buffered is lost
 * ```
 */
export interface Metrics extends AsyncDisposable {
  /** False for the no-op sink (statsd and Prometheus both off). */
  readonly enabled: boolean;
  /** The Prometheus exposition, when `prometheus` is on. */
  readonly prometheus: PrometheusExposition | undefined;

  /** A pre-bound counter. */
  counter(name: string, tags?: MetricTags, options?: MetricOptions): CounterHandle;
  /** A pre-bound timer (milliseconds). */
  timer(name: string, tags?: MetricTags, options?: MetricOptions): TimerHandle;
  /** A pre-bound gauge. */
  gauge(name: string, tags?: MetricTags, options?: MetricOptions): GaugeHandle;
  /** Sets a gauge once. */
  gauge(name: string, value: number, tags?: MetricTags): void;
  /** A pre-bound histogram (statsd `h`). */
  histogram(name: string, tags?: MetricTags, options?: MetricOptions): HistogramHandle;
  /** Records a histogram value once. */
  histogram(name: string, value: number, tags?: MetricTags): void;
  /** A pre-bound distribution (DogStatsD `d`, aggregated server-side across hosts). */
  distribution(name: string, tags?: MetricTags, options?: MetricOptions): HistogramHandle;
  /** Records a distribution value once. */
  distribution(name: string, value: number, tags?: MetricTags): void;
  /** A pre-bound set. */
  set(name: string, tags?: MetricTags, options?: MetricOptions): SetHandle;

  /** Adds `value` (default 1) to a counter once. */
  increment(name: string, value?: number, tags?: MetricTags): void;
  /** Records a duration in milliseconds once. */
  timing(name: string, ms: number, tags?: MetricTags): void;
  /** Records a set member once. */
  unique(name: string, member: string | number, tags?: MetricTags): void;
  /** Runs `fn` and records its duration under the timer `name`. */
  time<T>(name: string, fn: () => T, tags?: MetricTags): T;
  /** Awaits `fn()` and records its duration under the timer `name`. */
  timeAsync<T>(name: string, fn: () => PromiseLike<T>, tags?: MetricTags): Promise<T>;

  /**
   * A child whose names are prefixed with `prefix` (joined with a dot) and whose tags add to (and override)
   * this one's. It shares this sink: closing it only flushes.
   */
  scope(prefix: string, tags?: MetricTags): Metrics;
  /** Sends whatever is buffered now. Never rejects: transport errors go to the `errorHandler`. */
  flush(): Promise<void>;
  /** Flushes, then closes the socket. Idempotent; records after it are dropped. Never rejects. */
  close(): Promise<void>;
  /** What has been sent, dropped and failed so far. */
  stats(): MetricsStats;
}
