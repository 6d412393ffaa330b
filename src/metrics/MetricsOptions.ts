import { isIP } from 'node:net';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { durationMs, invalidOption, nonEmptyString, oneOf, port as portOption, positiveInt } from '../internal/validate.js';
import type { TagFormat, MetricTags } from './types.js';

/** Options of the in-process Prometheus aggregation. */
export interface PrometheusOptions {
  /**
   * Bucket upper bounds of timers, in seconds, strictly increasing.
   * @default [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
   */
  readonly timerBuckets?: readonly number[];
  /**
   * Bucket upper bounds of histograms and distributions, strictly increasing.
   * @default [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
   */
  readonly histogramBuckets?: readonly number[];
  /**
   * Most series kept; records of further series are ignored (and counted), so unbounded tag values cannot
   * exhaust memory.
   * @default 10000
   */
  readonly maxSeries?: number;
  /**
   * The window a set counts distinct members over, in ms. The exposition shows the count of the last
   * complete window (or of the current one before any window completed).
   * @default 60000
   */
  readonly setWindowMs?: number;
}

/** Options of {@link createMetrics}. Without `host`, `path` and `prometheus`, metrics are a no-op. */
export interface MetricsOptions {
  /**
   * The statsd host (UDP), a name or an IP. A name is resolved once, at creation, never per send.
   * @default none: no statsd
   */
  readonly host?: string;
  /**
   * The statsd UDP port; ignored without `host`.
   * @default 8125
   */
  readonly port?: number;
  /**
   * A Unix datagram socket to send to instead of UDP (e.g. the Datadog agent's `dsd.socket`).
   * @default none
   */
  readonly path?: string;
  /**
   * Prefix of every metric name, joined with a dot.
   * @default none
   */
  readonly prefix?: string;
  /**
   * Tags added to every metric, e.g. `{ app, instance, zone, version }`. A metric's own tags override them.
   * @default none
   */
  readonly globalTags?: MetricTags;
  /**
   * How tags are written: DogStatsD (`name:1|c|#k:v`), Telegraf (`name,k=v:1|c`) or not at all (plain statsd,
   * e.g. for collectd or Etsy statsd, which reject tagged lines).
   * @default 'dogstatsd'
   */
  readonly tagFormat?: TagFormat;
  /**
   * Bytes buffered before a datagram is sent; 0 sends one datagram per metric.
   * @default 1400 over UDP (fits one Ethernet frame), 8192 over a Unix socket
   */
  readonly maxBufferSize?: number;
  /**
   * How often a partly filled buffer is sent, in ms.
   * @default 1000
   */
  readonly flushIntervalMs?: number;
  /**
   * Aggregate in process for a Prometheus exposition (`GET /metrics`), alongside statsd or alone.
   * @default false
   */
  readonly prometheus?: boolean | PrometheusOptions;
  /**
   * Called with every transport error (DNS failure, socket error, send failure). Must not throw.
   * @default logs a warning through `logger`, at most one line a minute with the count of errors since
   */
  readonly errorHandler?: (error: Error) => void;
  /**
   * Resolves `host` to an IP address. The signal aborts when the attempt times out or `close()` cuts a retry
   * short.
   * @default dns.lookup, preferring IPv4
   */
  readonly lookup?: (host: string, signal: AbortSignal) => Promise<string>;
  /**
   * How long one resolution of `host` may take, in ms.
   * @default 5000
   */
  readonly lookupTimeoutMs?: number;
  /**
   * First delay before resolving `host` again after a failure, in ms; doubled after each failure.
   * @default 1000
   */
  readonly lookupRetryMs?: number;
  /**
   * Longest delay between resolution attempts, in ms.
   * @default 60000
   */
  readonly lookupRetryMaxMs?: number;
  /**
   * Monotonic milliseconds, used by `time()`, `timeAsync()` and `start()`.
   * @default performance.now
   */
  readonly now?: () => number;
  /**
   * Time source of the flush interval, resolution retries and Prometheus set windows.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where transport errors are logged by the default `errorHandler`.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** {@link PrometheusOptions} with defaults filled. */
export interface ResolvedPrometheusOptions {
  /** Timer bucket bounds, seconds. */
  readonly timerBuckets: readonly number[];
  /** Histogram bucket bounds. */
  readonly histogramBuckets: readonly number[];
  /** Most series kept. */
  readonly maxSeries: number;
  /** Set window, ms. */
  readonly setWindowMs: number;
}

/** statsd over UDP. */
export interface UdpStatsdTarget {
  /** UDP. */
  readonly kind: 'udp';
  /** Host name or IP address (resolved once when it is a name). */
  readonly host: string;
  /** UDP port. */
  readonly port: number;
}

/** statsd over a Unix datagram socket. */
export interface UnixStatsdTarget {
  /** A Unix datagram socket. */
  readonly kind: 'uds';
  /** The socket's path. */
  readonly path: string;
}

/** Where statsd lines go. */
export type StatsdTarget = UdpStatsdTarget | UnixStatsdTarget;

/** {@link MetricsOptions} with defaults filled and values checked. */
export interface ResolvedMetricsOptions {
  /** The statsd target, or undefined when statsd is off. */
  readonly statsd: StatsdTarget | undefined;
  /** Name prefix without a trailing dot; '' for none. */
  readonly prefix: string;
  /** Tags of every metric. */
  readonly globalTags: MetricTags;
  /** Tag format. */
  readonly tagFormat: TagFormat;
  /** Buffer size in bytes; 0 = unbuffered. */
  readonly maxBufferSize: number;
  /** Flush interval, ms. */
  readonly flushIntervalMs: number;
  /** Prometheus options, or undefined when off. */
  readonly prometheus: ResolvedPrometheusOptions | undefined;
  /** The error handler, or undefined for the default (rate-limited logging). */
  readonly errorHandler: ((error: Error) => void) | undefined;
  /** Host resolver, or undefined for dns.lookup. */
  readonly lookup: ((host: string, signal: AbortSignal) => Promise<string>) | undefined;
  /** Resolution timeout, ms. */
  readonly lookupTimeoutMs: number;
  /** First resolution retry delay, ms. */
  readonly lookupRetryMs: number;
  /** Longest resolution retry delay, ms. */
  readonly lookupRetryMaxMs: number;
  /** Monotonic ms source. */
  readonly now: () => number;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

const defaultTimerBuckets = Object.freeze([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
const defaultHistogramBuckets = Object.freeze([1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]);

/** Largest UDP payload over IPv4; a bigger buffer could never be sent. */
const maxUdpPayload = 65507;

/**
 * Fills the defaults of {@link MetricsOptions} and validates them.
 * @throws KaryonError ERR_INVALID_OPTION naming the option, what was expected and what was given.
 */
export function resolveMetricsOptions(options: MetricsOptions = {}): ResolvedMetricsOptions {
  if (typeof options !== 'object' || options === null) invalidOption('metrics', 'an options object', options);
  const statsd = resolveTarget(options);
  const maxBufferSize = options.maxBufferSize ?? (statsd?.kind === 'uds' ? 8192 : 1400);
  if (typeof maxBufferSize !== 'number' || !Number.isInteger(maxBufferSize) || maxBufferSize < 0 || maxBufferSize > maxUdpPayload) {
    invalidOption('metrics.maxBufferSize', `an integer number of bytes between 0 and ${maxUdpPayload}`, maxBufferSize);
  }
  const flushIntervalMs = durationMs('metrics.flushIntervalMs', options.flushIntervalMs, 1000);
  if (flushIntervalMs < 1) invalidOption('metrics.flushIntervalMs', 'at least 1 millisecond', flushIntervalMs);
  const lookupRetryMs = durationMs('metrics.lookupRetryMs', options.lookupRetryMs, 1000);
  const lookupRetryMaxMs = durationMs('metrics.lookupRetryMaxMs', options.lookupRetryMaxMs, 60_000);
  if (lookupRetryMs < 1) invalidOption('metrics.lookupRetryMs', 'at least 1 millisecond', lookupRetryMs);
  if (lookupRetryMaxMs < lookupRetryMs) {
    invalidOption('metrics.lookupRetryMaxMs', `at least lookupRetryMs (${lookupRetryMs})`, lookupRetryMaxMs);
  }
  for (const name of ['errorHandler', 'lookup', 'now'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') invalidOption(`metrics.${name}`, 'a function', options[name]);
  }
  return Object.freeze({
    statsd,
    prefix: resolvePrefix(options.prefix),
    globalTags: resolveTags('metrics.globalTags', options.globalTags),
    tagFormat: oneOf<TagFormat>('metrics.tagFormat', options.tagFormat, ['dogstatsd', 'telegraf', 'none'], 'dogstatsd'),
    maxBufferSize,
    flushIntervalMs,
    prometheus: resolvePrometheus(options.prometheus),
    errorHandler: options.errorHandler,
    lookup: options.lookup,
    lookupTimeoutMs: durationMs('metrics.lookupTimeoutMs', options.lookupTimeoutMs, 5000),
    lookupRetryMs,
    lookupRetryMaxMs,
    now: options.now ?? (() => performance.now()),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}

function resolveTarget(options: MetricsOptions): StatsdTarget | undefined {
  if (options.host !== undefined && options.path !== undefined) {
    invalidOption('metrics.path', "unset when 'metrics.host' is set (UDP or a Unix socket, not both)", options.path);
  }
  if (options.path !== undefined) {
    if (options.port !== undefined) invalidOption('metrics.port', "unset with 'metrics.path' (a Unix socket has no port)", options.port);
    return Object.freeze({ kind: 'uds', path: nonEmptyString('metrics.path', options.path) });
  }
  if (options.host === undefined) {
    // A port alone is checked but ignored: settings carry a default port whether or not a host is set.
    portOption('metrics.port', options.port, 8125);
    return undefined;
  }
  const host = nonEmptyString('metrics.host', options.host).trim();
  // A bracketed IPv6 literal is what people paste from URLs; hot-shots wants it bare.
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIP(bare) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/.test(bare)) {
    invalidOption('metrics.host', 'a host name or an IP address', options.host);
  }
  const port = portOption('metrics.port', options.port, 8125);
  if (port === 0) invalidOption('metrics.port', 'a port between 1 and 65535', port);
  return Object.freeze({ kind: 'udp', host: bare, port });
}

function resolvePrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string') return invalidOption('metrics.prefix', 'a string', prefix);
  return prefix.replace(/^\.+|\.+$/g, '');
}

/** Checks a tags object: plain keys with string, number or boolean values. */
export function resolveTags(name: string, tags: MetricTags | undefined): MetricTags {
  if (tags === undefined) return Object.freeze({});
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) return invalidOption(name, 'an object of tag values', tags);
  const copy: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(tags)) {
    if (key === '') invalidOption(name, 'tags with non-empty names', key);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      invalidOption(`${name}.${key}`, 'a string, number or boolean', value);
    }
    copy[key] = value;
  }
  return Object.freeze(copy);
}

function resolvePrometheus(option: boolean | PrometheusOptions | undefined): ResolvedPrometheusOptions | undefined {
  if (option === undefined || option === false) return undefined;
  const options: PrometheusOptions = option === true ? {} : option;
  if (typeof options !== 'object' || options === null) return invalidOption('metrics.prometheus', 'a boolean or an options object', option);
  const setWindowMs = durationMs('metrics.prometheus.setWindowMs', options.setWindowMs, 60_000);
  if (setWindowMs < 1) invalidOption('metrics.prometheus.setWindowMs', 'at least 1 millisecond', setWindowMs);
  return Object.freeze({
    timerBuckets: resolveBuckets('metrics.prometheus.timerBuckets', options.timerBuckets, defaultTimerBuckets),
    histogramBuckets: resolveBuckets('metrics.prometheus.histogramBuckets', options.histogramBuckets, defaultHistogramBuckets),
    maxSeries: positiveInt('metrics.prometheus.maxSeries', options.maxSeries, 10_000),
    setWindowMs,
  });
}

/** Checks histogram bucket bounds: a non-empty, strictly increasing list of finite numbers. */
export function resolveBuckets(name: string, buckets: readonly number[] | undefined, fallback: readonly number[]): readonly number[] {
  if (buckets === undefined) return fallback;
  if (!Array.isArray(buckets) || buckets.length === 0) return invalidOption(name, 'a non-empty array of numbers', buckets);
  const list: readonly unknown[] = buckets as readonly unknown[];
  for (let i = 0; i < list.length; i++) {
    const bound = list[i];
    if (typeof bound !== 'number' || !Number.isFinite(bound)) return invalidOption(`${name}[${i}]`, 'a finite number', bound);
    if (i > 0 && bound <= (buckets[i - 1] as number)) return invalidOption(name, 'strictly increasing bounds', buckets.join(', '));
  }
  return Object.freeze(list.slice() as number[]);
}
