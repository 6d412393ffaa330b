import type { CommandSettingsOptions } from '../breaker/CommandSettings.js';
import type { BalancerOptions, LatencyOptions, ResolvedBalancerOptions } from '../balancer/Balancer.js';
import { resolveBalancerOptions } from '../balancer/Balancer.js';
import type { BalancerRule, BalancerRuleName } from '../balancer/BalancerRule.js';
import type { OutlierDetectionOptions, SuccessRateOptions } from '../balancer/OutlierDetector.js';
import type { ZoneAffinityOptions } from '../balancer/ZoneAffinity.js';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import { durationMs, invalidOption, positiveInt } from '../internal/validate.js';
import type { FetchFunction } from './FetchTransport.js';
import type { ResolvedRetryBudgetOptions, RetryBudgetOptions } from './RetryBudget.js';
import { resolveRetryBudgetOptions } from './RetryBudget.js';
import type { ShadowTee } from './ShadowTee.js';

/** Retry settings of a service client. */
export interface RetryOptions {
  /**
   * Most retries of one request (on top of the first try). Every retry goes to another instance than the
   * try before it.
   * @default 2
   */
  readonly maxRetries?: number;
  /**
   * The retry budget shared by every request of the client, or false for none (then only `maxRetries` limits
   * retries: not recommended).
   * @default 20% of requests + 10/s over 10 s
   */
  readonly budget?: RetryBudgetOptions | false;
  /**
   * Statuses retried on another instance, for idempotent requests.
   * @default [502, 503, 504]
   */
  readonly retryOnStatus?: readonly number[];
}

/** Hedging settings: a second copy of a slow idempotent request, to another instance. */
export interface HedgingOptions {
  /**
   * The quantile of the first instance's latency after which the hedge is sent.
   * @default 0.95
   */
  readonly quantile?: number;
  /**
   * Samples the instance needs in its latency window before it is hedged against.
   * @default 20
   */
  readonly minSamples?: number;
  /**
   * Shortest hedging delay, in ms, so a very fast service is not hedged on noise.
   * @default 1
   */
  readonly minDelayMs?: number;
}

/** Connection pool settings of the default (undici) transport. */
export interface PoolOptions {
  /**
   * Most connections per instance.
   * @default no limit
   */
  readonly connections?: number;
  /**
   * How long an idle keep-alive connection is kept, in ms.
   * @default 4000
   */
  readonly keepAliveTimeoutMs?: number;
}

/**
 * Options of a service client, as `service.client(vip, options)` takes them. The balancer's options (`rule`,
 * `zoneAffinity`, `outlierDetection`, `latency`, `outOfServiceBackoffMs`, `random`) are those of
 * {@link BalancerOptions}, declared there once; the caller's zone is the service's (or `createServiceClient`'s).
 */
export interface ServiceClientOptions extends Omit<BalancerOptions, 'zone'> {
  /**
   * The former name of `rule`, still accepted: `rule` wins when both are given.
   * @deprecated use `rule`, the option's name everywhere else (`balancer.rule` in the configuration, `setRule()`,
   * `stats().rule`)
   */
  readonly balancer?: BalancerRuleName | BalancerRule;
  /**
   * Retries, or false for none.
   * @default up to 2 retries within the retry budget
   */
  readonly retries?: RetryOptions | false;
  /**
   * Hedging of idempotent requests, true for the defaults, or false for none.
   * @default false
   */
  readonly hedging?: HedgingOptions | boolean;
  /**
   * Connect timeout, in ms.
   * @default 2000
   */
  readonly connectTimeoutMs?: number;
  /**
   * Per-try timeout until the response headers arrive, in ms; with the undici transport also the longest
   * pause between two body chunks.
   * @default 5000
   */
  readonly timeoutMs?: number;
  /**
   * Deadline of a whole call, retries and hedges included, until the response headers arrive, in ms.
   * @default 10000
   */
  readonly deadlineMs?: number;
  /**
   * A fetch-compatible function to send requests with instead of undici's pools (node-fetch, the global
   * `fetch`...).
   * @default undici pools, one per instance, keep-alive
   */
  readonly transport?: FetchFunction;
  /**
   * Settings of the client's command (`client:<vip>`, used when the client has a command registry, as
   * `service.client()` clients do), or false for no breaker. A call that ends in a thrown error or a 5xx
   * response counts as a failure; 4xx responses, the caller's own mistakes and cancellations, and having no
   * instance to call do not. The command's own
   * timeout is off by default: the client's per-try timeouts and deadline bound a call. When one is set, a call
   * the command gives up on is aborted.
   * @default Hystrix's breaker settings, `timeoutMs: 0`, `maxConcurrent: 1000`
   */
  readonly breaker?: CommandSettingsOptions | false;
  /**
   * Connection pools of the default transport.
   * @default no connection limit, 4 s keep-alive
   */
  readonly pool?: PoolOptions;
  /**
   * Which address of an instance to connect to.
   * @default 'ip'
   */
  readonly address?: 'ip' | 'hostname';
  /**
   * How long `close()` lets requests in flight finish before cutting them, in ms.
   * @default 5000
   */
  readonly closeTimeoutMs?: number;
  /**
   * Time source.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where ejections and out-of-service answers are logged.
   * @default silentLogger
   */
  readonly logger?: Logger;
  /**
   * Shadow traffic the client's calls are teed to (see `createShadowTraffic`): a sampled share of them is
   * copied to the shadow VIPs once the primary call settled, without delaying it. The caller owns it (and
   * closes it); several clients may share one. Undefined is none (`shadow: service.shadow`).
   * @default none
   */
  readonly shadow?: ShadowTee | undefined;
}

/**
 * What a key of the client options takes, for options read from data (a JSON file, an environment variable):
 * `'value'`, a plain value (a number, a string, a list); `'code'`, a function or object only code can give (a
 * transport, a clock, a logger), which data cannot carry; or, for a key taking nested options, the keys of
 * those (the key may also take a boolean where its type allows one, as `retries: false`).
 */
export type ClientOptionKey = 'value' | 'code' | { readonly [key: string]: ClientOptionKey };

// Each list below must name exactly the keys of its type (`satisfies` fails the build on a missing or extra
// key), so a key added to an option type cannot be forgotten by the checks of options read from data.

const retryBudgetKeys = Object.freeze({ ratio: 'value', minRetriesPerSecond: 'value', ttlMs: 'value' } satisfies Record<keyof RetryBudgetOptions, ClientOptionKey>);

const retryKeys = Object.freeze({ maxRetries: 'value', budget: retryBudgetKeys, retryOnStatus: 'value' } satisfies Record<keyof RetryOptions, ClientOptionKey>);

const hedgingKeys = Object.freeze({ quantile: 'value', minSamples: 'value', minDelayMs: 'value' } satisfies Record<keyof HedgingOptions, ClientOptionKey>);

const poolKeys = Object.freeze({ connections: 'value', keepAliveTimeoutMs: 'value' } satisfies Record<keyof PoolOptions, ClientOptionKey>);

const latencyKeys = Object.freeze({ decayMs: 'value', priorMs: 'value', idleDecayMs: 'value', stallWindowMs: 'value' } satisfies Record<keyof LatencyOptions, ClientOptionKey>);

const zoneAffinityKeys = Object.freeze({
  zone: 'value',
  maxEjectedPercent: 'value',
  maxLoadPerInstance: 'value',
  minAvailable: 'value',
  recheckMs: 'value',
} satisfies Record<keyof ZoneAffinityOptions, ClientOptionKey>);

const successRateKeys = Object.freeze({
  intervalMs: 'value',
  requestVolume: 'value',
  minimumHosts: 'value',
  gapPercent: 'value',
} satisfies Record<keyof SuccessRateOptions, ClientOptionKey>);

const outlierDetectionKeys = Object.freeze({
  consecutiveFailures: 'value',
  ejectOnConnectFailure: 'value',
  baseEjectionMs: 'value',
  maxEjectionMs: 'value',
  maxEjectedPercent: 'value',
  panicThresholdPercent: 'value',
  successRate: successRateKeys,
} satisfies Record<keyof OutlierDetectionOptions, ClientOptionKey>);

const breakerKeys = Object.freeze({
  timeoutMs: 'value',
  interruptOnTimeout: 'value',
  breakerEnabled: 'value',
  requestVolumeThreshold: 'value',
  errorThresholdPercentage: 'value',
  sleepWindowMs: 'value',
  forceOpen: 'value',
  forceClosed: 'value',
  rollingWindowMs: 'value',
  rollingBuckets: 'value',
  percentileWindowMs: 'value',
  percentileBuckets: 'value',
  maxConcurrent: 'value',
  maxQueued: 'value',
  rejectionsCountAsErrors: 'value',
  fallbackEnabled: 'value',
  fallbackMaxConcurrent: 'value',
} satisfies Record<keyof CommandSettingsOptions, ClientOptionKey>);

/**
 * Every key of {@link ServiceClientOptions}, exactly (checked when the library is built), with what it takes,
 * nested options included: for checking client options read from data, where an unknown key would otherwise
 * be silently ignored. `service.client()` itself does not use it.
 */
export const serviceClientOptionKeys: Readonly<Record<keyof ServiceClientOptions, ClientOptionKey>> = Object.freeze({
  rule: 'value',
  balancer: 'value',
  zoneAffinity: zoneAffinityKeys,
  outlierDetection: outlierDetectionKeys,
  latency: latencyKeys,
  outOfServiceBackoffMs: 'value',
  retries: retryKeys,
  hedging: hedgingKeys,
  connectTimeoutMs: 'value',
  timeoutMs: 'value',
  deadlineMs: 'value',
  transport: 'code',
  breaker: breakerKeys,
  pool: poolKeys,
  address: 'value',
  closeTimeoutMs: 'value',
  clock: 'code',
  logger: 'code',
  random: 'code',
  shadow: 'code',
} satisfies Record<keyof ServiceClientOptions, ClientOptionKey>);

/** {@link RetryOptions} with defaults filled and values checked. */
export interface ResolvedRetryOptions {
  /** Most retries of one request. */
  readonly maxRetries: number;
  /** The retry budget, or undefined for none. */
  readonly budget: ResolvedRetryBudgetOptions | undefined;
  /** Statuses retried for idempotent requests. */
  readonly retryOnStatus: ReadonlySet<number>;
}

/** {@link HedgingOptions} with defaults filled and values checked. */
export interface ResolvedHedgingOptions {
  /** Latency quantile after which the hedge goes. */
  readonly quantile: number;
  /** Samples needed before hedging. */
  readonly minSamples: number;
  /** Shortest hedging delay, in ms. */
  readonly minDelayMs: number;
}

/** {@link ServiceClientOptions} with defaults filled and values checked. */
export interface ResolvedServiceClientOptions {
  /** Balancer settings. */
  readonly balancer: ResolvedBalancerOptions;
  /** Retry settings, or undefined when retries are off. */
  readonly retries: ResolvedRetryOptions | undefined;
  /** Hedging settings, or undefined when hedging is off. */
  readonly hedging: ResolvedHedgingOptions | undefined;
  /** Connect timeout, in ms. */
  readonly connectTimeoutMs: number;
  /** Per-try timeout, in ms. */
  readonly timeoutMs: number;
  /** Whole-call deadline, in ms. */
  readonly deadlineMs: number;
  /** The fetch function, or undefined for undici pools. */
  readonly transport: FetchFunction | undefined;
  /** Connections per instance, or undefined for no limit. */
  readonly connections: number | undefined;
  /** Keep-alive of idle connections, in ms. */
  readonly keepAliveTimeoutMs: number;
  /** Which address to connect to. */
  readonly address: 'ip' | 'hostname';
  /** Close deadline, in ms. */
  readonly closeTimeoutMs: number;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
  /** Shadow traffic the calls are teed to, or undefined. */
  readonly shadow: ShadowTee | undefined;
}

/**
 * Fills the defaults of {@link ServiceClientOptions} and validates them; `zone` is the caller's zone.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option that is wrong, what was expected and what was given
 */
export function resolveServiceClientOptions(options: ServiceClientOptions = {}, zone?: string): ResolvedServiceClientOptions {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  // Groups read key by key would silently ignore a value of another kind (`pool: true`): refuse it.
  for (const [name, value, orFalse] of [
    ['pool', options.pool, false],
    ['latency', options.latency, false],
    ['breaker', options.breaker, true],
  ] as const) {
    if (value !== undefined && !(orFalse && value === false) && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      invalidOption(name, orFalse ? 'an object or false' : 'an object', value);
    }
  }
  const rule = options.rule ?? options.balancer;
  const balancerOptions: BalancerOptions = {
    ...(rule !== undefined && { rule }),
    ...(zone !== undefined && { zone }),
    ...(options.zoneAffinity !== undefined && { zoneAffinity: options.zoneAffinity }),
    ...(options.outlierDetection !== undefined && { outlierDetection: options.outlierDetection }),
    ...(options.latency !== undefined && { latency: options.latency }),
    ...(options.outOfServiceBackoffMs !== undefined && { outOfServiceBackoffMs: options.outOfServiceBackoffMs }),
    ...(options.random !== undefined && { random: options.random }),
  };
  const timeoutMs = positiveDuration('timeoutMs', options.timeoutMs, 5000);
  const address = options.address ?? 'ip';
  if (address !== 'ip' && address !== 'hostname') invalidOption('address', "'ip' or 'hostname'", address);
  if (options.transport !== undefined && typeof options.transport !== 'function') {
    invalidOption('transport', 'a fetch-compatible function', options.transport);
  }
  const clock = options.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function') invalidOption('clock', 'a Clock', clock);
  const shadow = options.shadow;
  if (shadow !== undefined && (typeof shadow !== 'object' || shadow === null || typeof shadow.teeCall !== 'function')) {
    invalidOption('shadow', 'a ShadowTraffic made by createShadowTraffic()', shadow);
  }
  return Object.freeze({
    balancer: resolveBalancerOptions(balancerOptions),
    retries: resolveRetries(options.retries),
    hedging: resolveHedging(options.hedging),
    connectTimeoutMs: positiveDuration('connectTimeoutMs', options.connectTimeoutMs, 2000),
    timeoutMs,
    deadlineMs: positiveDuration('deadlineMs', options.deadlineMs, 10_000),
    transport: options.transport,
    connections: options.pool?.connections === undefined ? undefined : positiveInt('pool.connections', options.pool.connections, 1),
    keepAliveTimeoutMs: positiveDuration('pool.keepAliveTimeoutMs', options.pool?.keepAliveTimeoutMs, 4000),
    address,
    closeTimeoutMs: durationMs('closeTimeoutMs', options.closeTimeoutMs, 5000),
    clock,
    logger: options.logger ?? silentLogger,
    shadow,
  });
}

function positiveDuration(name: string, value: number | undefined, fallback: number): number {
  const resolved = durationMs(name, value, fallback);
  if (resolved === 0) invalidOption(name, 'a positive number of milliseconds', value);
  return resolved;
}

function resolveRetries(options: RetryOptions | false | undefined): ResolvedRetryOptions | undefined {
  if (options === false) return undefined;
  const given = options ?? {};
  if (typeof given !== 'object' || given === null) return invalidOption('retries', 'an object or false', given);
  const maxRetries = given.maxRetries ?? 2;
  if (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0) {
    invalidOption('retries.maxRetries', 'a non-negative integer', maxRetries);
  }
  const statuses = given.retryOnStatus ?? [502, 503, 504];
  if (!Array.isArray(statuses) || !statuses.every((status) => Number.isInteger(status) && status >= 100 && status <= 599)) {
    invalidOption('retries.retryOnStatus', 'an array of HTTP statuses', statuses);
  }
  return Object.freeze({
    maxRetries,
    budget: given.budget === false ? undefined : resolveRetryBudgetOptions(given.budget ?? {}),
    retryOnStatus: new Set(statuses),
  });
}

function resolveHedging(options: HedgingOptions | boolean | undefined): ResolvedHedgingOptions | undefined {
  if (options === undefined || options === false) return undefined;
  const given = options === true ? {} : options;
  if (typeof given !== 'object' || given === null) return invalidOption('hedging', 'a boolean or an object', given);
  const quantile = given.quantile ?? 0.95;
  if (typeof quantile !== 'number' || !(quantile > 0 && quantile < 1)) invalidOption('hedging.quantile', 'a number between 0 and 1', quantile);
  return Object.freeze({
    quantile,
    minSamples: positiveInt('hedging.minSamples', given.minSamples, 20),
    minDelayMs: durationMs('hedging.minDelayMs', given.minDelayMs, 1),
  });
}
