import { KaryonError } from '../common/KaryonError.js';
import { invalidOption } from '../internal/validate.js';
import { Counter, Gauge, Histogram, Timer, UniqueSet } from './handles.js';
import type { HandleTargets } from './handles.js';
import { resolveMetricsOptions, resolveTags } from './MetricsOptions.js';
import type { MetricsOptions, ResolvedMetricsOptions } from './MetricsOptions.js';
import { noopMetrics } from './noopMetrics.js';
import { PrometheusRegistry } from './PrometheusRegistry.js';
import type { PrometheusSeriesOf } from './PrometheusRegistry.js';
import { StatsdSink } from './StatsdSink.js';
import { joinName, statsdLineParts } from './statsdWire.js';
import type {
  CounterHandle,
  GaugeHandle,
  HistogramHandle,
  MetricOptions,
  Metrics,
  MetricsStats,
  MetricType,
  PrometheusExposition,
  SetHandle,
  MetricTags,
  TimerHandle,
} from './types.js';

/** Handles kept for one-shot calls without tags, per type; past this many names they are built per call. */
const maxCachedNames = 1000;

/** What every scope of one `createMetrics()` shares. */
interface Core {
  readonly options: ResolvedMetricsOptions;
  readonly sink: StatsdSink | undefined;
  readonly registry: PrometheusRegistry | undefined;
}

type HandleOf = {
  counter: Counter;
  timer: Timer;
  gauge: Gauge;
  histogram: Histogram;
  distribution: Histogram;
  set: UniqueSet;
};

/**
 * Creates the application's metrics: statsd through hot-shots when `host` or `path` is given, an in-process
 * Prometheus aggregation when `prometheus` is on, both, or a no-op costing nearly nothing when neither is.
 * The caller owns the result: `close()` it on shutdown so nothing buffered is lost.
 * @throws KaryonError ERR_INVALID_OPTION when an option is wrong.
 *
 * @example
 * ```ts
 * const metrics = createMetrics({
 *   host: 'statsd.internal', prefix: 'greeter', tagFormat: 'dogstatsd',
 *   globalTags: { app: 'greeter', zone: 'eu-1a', version: '1.4.2' },
 *   prometheus: true,
 * });
 * const latency = metrics.timer('http.latency', { route: '/hello' });
 * const result = await latency.timeAsync(() => handle(request));
 * await metrics.close();
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const resolved = resolveMetricsOptions(options);
  if (resolved.statsd === undefined && resolved.prometheus === undefined) return noopMetrics;
  const registry =
    resolved.prometheus === undefined
      ? undefined
      : new PrometheusRegistry(resolved.prometheus, { clock: resolved.clock, logger: resolved.logger });
  const sink = resolved.statsd === undefined ? undefined : new StatsdSink(resolved.statsd, resolved);
  return new MetricsScope({ options: resolved, sink, registry }, resolved.prefix, resolved.globalTags, true);
}

/** One view of a metrics core: a name prefix and tags. The root one owns the sink. */
class MetricsScope implements Metrics {
  readonly enabled = true;
  readonly #core: Core;
  readonly #prefix: string;
  readonly #tags: MetricTags;
  readonly #root: boolean;
  readonly #untagged: { [T in MetricType]?: Map<string, HandleOf[T]> } = {};

  constructor(core: Core, prefix: string, tags: MetricTags, root: boolean) {
    this.#core = core;
    this.#prefix = prefix;
    this.#tags = tags;
    this.#root = root;
  }

  get prometheus(): PrometheusExposition | undefined {
    return this.#core.registry;
  }

  counter(name: string, tags?: MetricTags, options?: MetricOptions): CounterHandle {
    return this.#handle('counter', name, tags, options);
  }

  timer(name: string, tags?: MetricTags, options?: MetricOptions): TimerHandle {
    return this.#handle('timer', name, tags, options);
  }

  gauge(name: string, tags?: MetricTags, options?: MetricOptions): GaugeHandle;
  gauge(name: string, value: number, tags?: MetricTags): void;
  gauge(name: string, second?: MetricTags | number, third?: MetricTags | MetricOptions): GaugeHandle | undefined {
    if (typeof second === 'number') {
      this.#oneShot('gauge', name, third as MetricTags | undefined)?.set(second);
      return undefined;
    }
    return this.#handle('gauge', name, second, third);
  }

  histogram(name: string, tags?: MetricTags, options?: MetricOptions): HistogramHandle;
  histogram(name: string, value: number, tags?: MetricTags): void;
  histogram(name: string, second?: MetricTags | number, third?: MetricTags | MetricOptions): HistogramHandle | undefined {
    if (typeof second === 'number') {
      this.#oneShot('histogram', name, third as MetricTags | undefined)?.record(second);
      return undefined;
    }
    return this.#handle('histogram', name, second, third);
  }

  distribution(name: string, tags?: MetricTags, options?: MetricOptions): HistogramHandle;
  distribution(name: string, value: number, tags?: MetricTags): void;
  distribution(name: string, second?: MetricTags | number, third?: MetricTags | MetricOptions): HistogramHandle | undefined {
    if (typeof second === 'number') {
      this.#oneShot('distribution', name, third as MetricTags | undefined)?.record(second);
      return undefined;
    }
    return this.#handle('distribution', name, second, third);
  }

  set(name: string, tags?: MetricTags, options?: MetricOptions): SetHandle {
    return this.#handle('set', name, tags, options);
  }

  increment(name: string, value = 1, tags?: MetricTags): void {
    this.#oneShot('counter', name, tags)?.increment(value);
  }

  timing(name: string, ms: number, tags?: MetricTags): void {
    this.#oneShot('timer', name, tags)?.record(ms);
  }

  unique(name: string, member: string | number, tags?: MetricTags): void {
    this.#oneShot('set', name, tags)?.add(member);
  }

  time<T>(name: string, fn: () => T, tags?: MetricTags): T {
    const timer = this.#oneShot('timer', name, tags);
    return timer === undefined ? fn() : timer.time(fn);
  }

  timeAsync<T>(name: string, fn: () => PromiseLike<T>, tags?: MetricTags): Promise<T> {
    const timer = this.#oneShot('timer', name, tags);
    return timer === undefined ? (async () => fn())() : timer.timeAsync(fn);
  }

  scope(prefix: string, tags?: MetricTags): Metrics {
    if (typeof prefix !== 'string') invalidOption('scope prefix', 'a string', prefix);
    const merged = tags === undefined ? this.#tags : Object.freeze({ ...this.#tags, ...resolveTags('scope tags', tags) });
    return new MetricsScope(this.#core, joinName(this.#prefix, prefix.replace(/^\.+|\.+$/g, '')), merged, false);
  }

  flush(): Promise<void> {
    return this.#core.sink?.flush() ?? Promise.resolve();
  }

  close(): Promise<void> {
    // A scope shares its root's socket: only the root closes it.
    if (!this.#root) return this.flush();
    return this.#core.sink?.close() ?? Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  stats(): MetricsStats {
    const { sink, registry } = this.#core;
    return {
      sent: sink?.sent ?? 0,
      dropped: sink?.dropped ?? 0,
      errors: sink?.errors ?? 0,
      prometheusSeries: registry?.seriesCount ?? 0,
      prometheusDropped: registry?.dropped ?? 0,
    };
  }

  /**
   * Builds a handle: validates, builds the statsd line parts once and finds the Prometheus series once.
   * @throws KaryonError ERR_INVALID_OPTION on a bad name or tags, or a name whose Prometheus type clashes.
   */
  #handle<T extends MetricType>(type: T, name: string, tags: MetricTags | undefined, options: MetricOptions | undefined): HandleOf[T] {
    if (typeof name !== 'string' || name.trim() === '') invalidOption(`${type} name`, 'a non-empty string', name);
    const own = tags === undefined ? undefined : resolveTags(`tags of ${type} '${name}'`, tags);
    return this.#build(type, name, own, options);
  }

  #build<T extends MetricType>(type: T, name: string, own: MetricTags | undefined, options: MetricOptions | undefined): HandleOf[T] {
    const { sink, registry, options: resolved } = this.#core;
    const fullName = joinName(this.#prefix, name);
    const tags = own === undefined ? this.#tags : { ...this.#tags, ...own };
    const parts = statsdLineParts(fullName, type, tags, resolved.tagFormat);
    const series = registry?.series(fullName, type, tags, { help: options?.help, buckets: options?.buckets });
    return makeHandle(type, { sink, parts, series }, resolved.now);
  }

  /**
   * The handle behind a one-shot call. Untagged calls reuse a cached handle; tagged ones build one (the
   * cost a pre-bound handle avoids). Never throws: a bad name, bad tags or a type clash drops the record.
   */
  #oneShot<T extends MetricType>(type: T, name: string, tags: MetricTags | undefined): HandleOf[T] | undefined {
    try {
      if (typeof name !== 'string' || name === '') throw new KaryonError('ERR_INVALID_OPTION', 'metric name must be a non-empty string');
      if (tags !== undefined) return this.#build(type, name, tags, undefined);
      let cache = this.#untagged[type];
      const cached = cache?.get(name);
      if (cached !== undefined) return cached;
      const handle = this.#build(type, name, undefined, undefined);
      if (cache === undefined) {
        cache = new Map();
        (this.#untagged as Record<string, Map<string, HandleOf[T]>>)[type] = cache;
      }
      if (cache.size < maxCachedNames) cache.set(name, handle);
      return handle;
    } catch {
      this.#core.sink?.drop();
      this.#core.registry?.drop();
      return undefined;
    }
  }
}

function makeHandle<T extends MetricType>(type: T, targets: HandleTargets<PrometheusSeriesOf[T]>, now: () => number): HandleOf[T] {
  switch (type) {
    case 'counter':
      return new Counter(targets as HandleTargets<PrometheusSeriesOf['counter']>) as HandleOf[T];
    case 'timer':
      return new Timer(targets as HandleTargets<PrometheusSeriesOf['timer']>, now) as HandleOf[T];
    case 'gauge':
      return new Gauge(targets as HandleTargets<PrometheusSeriesOf['gauge']>) as HandleOf[T];
    case 'histogram':
    case 'distribution':
      return new Histogram(targets as HandleTargets<PrometheusSeriesOf['histogram']>) as HandleOf[T];
    case 'set':
      return new UniqueSet(targets as HandleTargets<PrometheusSeriesOf['set']>) as HandleOf[T];
    default:
      throw new KaryonError('ERR_INVALID_OPTION', `unknown metric type '${String(type)}'`);
  }
}
