import type { Clock } from '../../common/Clock.js';
import type { Logger } from '../../common/Logger.js';
import { durationMs, invalidOption, positiveInt } from '../../internal/validate.js';
import type { ShadowMetrics } from '../../common/ShadowTrafficEvents.js';
import type { ServiceRegistry } from '../../registry/types.js';
import type { ServiceClientOptions } from '../ServiceClientOptions.js';
import { FieldPattern } from './FieldPattern.js';

/** A route whose requests are copied: every given condition must hold. */
export interface ShadowRoute {
  /**
   * Methods (any case). Non-idempotent ones still need `allowNonIdempotent`.
   * @default every method
   */
  readonly methods?: string | readonly string[];
  /**
   * A prefix the path (without the query) must start with, such as `/api/`.
   * @default any path
   */
  readonly prefix?: string;
  /**
   * A regular expression, or its source, the path (without the query) must match.
   * @default any path
   */
  readonly pattern?: RegExp | string;
}

/** Where noise is learned: a second answer of the current version to the same request. */
export interface ShadowNoiseOptions {
  /**
   * A VIP running the current version: the primary's own VIP (a second primary request) or a dedicated
   * secondary cluster. Fields in which its answer differs from the primary's are noise.
   */
  readonly vip: string;
  /**
   * Share of compared requests also sent there, from 0 to 1.
   * @default 0.05
   */
  readonly rate?: number;
}

/** Diffy-style comparison of the shadow's answers with the primary's. */
export interface ShadowCompareOptions {
  /**
   * Response headers compared (any case).
   * @default ['content-type']
   */
  readonly headers?: readonly string[];
  /**
   * Fields never compared: paths such as `body.generatedAt`, `body.items[*].etag`, `headers.date`
   * (`*` for any key or index, `[*]` for any index); a field covers everything under it.
   * @default none
   */
  readonly ignore?: readonly string[];
  /**
   * Noise learning from two answers of the current version, or false for none.
   * @default false
   */
  readonly noise?: ShadowNoiseOptions | false;
  /**
   * Largest response body kept for comparison, in bytes (each side); a larger body is not compared
   * (status and headers still are).
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * Differences kept for the admin API (the most recent ones).
   * @default 20
   */
  readonly maxDifferences?: number;
  /**
   * How long a client-side copy waits for the caller to finish reading the primary's body before comparing
   * without it, in ms.
   * @default 10000
   */
  readonly primaryWaitMs?: number;
}

/** The settings of shadow traffic: each one can be changed live with `setOptions()`. */
export interface ShadowSettings {
  /** The shadow VIP, or several: each gets its own copy. Required when shadow traffic is created. */
  readonly vip?: string | readonly string[];
  /**
   * The kill switch: false stops teeing at once and drops the copies queued.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Share of the matching requests that are copied, from 0 to 1.
   * @default 1
   */
  readonly rate?: number;
  /**
   * Routes copied: a request is copied when it matches any of them.
   * @default every route
   */
  readonly routes?: readonly ShadowRoute[];
  /**
   * Header conditions, all of which must hold: a string is the exact value, a RegExp tests the value, true
   * means present, false means absent (e.g. `{ 'x-canary': false }`). Names in any case.
   * @default none
   */
  readonly headers?: Readonly<Record<string, string | RegExp | boolean>>;
  /**
   * Copy requests whose method is not idempotent (POST, PATCH...). Only when the shadow honours
   * the `x-karyon-shadow` marker by suppressing side effects.
   * @default false
   */
  readonly allowNonIdempotent?: boolean;
  /**
   * Copies in flight at once, per shadow VIP.
   * @default 16
   */
  readonly maxConcurrent?: number;
  /**
   * Copies waiting for a free slot, per shadow VIP; copies that do not fit are dropped and counted.
   * @default 64
   */
  readonly maxQueue?: number;
  /**
   * Largest request body copied, in bytes; larger requests are not copied (counted as `body_too_large`).
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * Compare the shadow's answers with the primary's: true for the defaults, or the options.
   * @default false
   */
  readonly compare?: ShadowCompareOptions | boolean;
}

/** Options of {@link createShadowTraffic}: the settings, plus what shadow traffic works with. */
export interface ShadowTrafficOptions extends ShadowSettings {
  /** The shadow VIP, or several: each gets its own copy. */
  readonly vip: string | readonly string[];
  /** The registry the shadow VIPs are found in. */
  readonly registry: ServiceRegistry;
  /**
   * Options of the clients that send the copies (one per shadow VIP, and one for the noise VIP). Each has a
   * breaker (`breaker: false` for none): once a dead or failing shadow opens it, copies fail at once without
   * a connection attempt, until a probe succeeds. A 5xx answer counts as a failure, so a shadow that fails
   * most requests is short-circuited too.
   * @default the client defaults, with `retries: false` and a breaker on Hystrix's defaults
   */
  readonly client?: Omit<ServiceClientOptions, 'shadow'>;
  /**
   * Where copies, skips, comparisons and latency are reported: `shadowMetrics(service.metrics)`.
   * @default none
   * @deprecated Bind the shadow's events instead: `bindShadowMetrics(shadow, shadowMetrics(metrics))`, from
   * `karyon-ts/extend` (a service does it for the shadow traffic it makes).
   */
  readonly metrics?: ShadowMetrics;
  /**
   * Time source.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where failures of the shadow are logged (at debug level: a failing shadow is expected).
   * @default silentLogger
   */
  readonly logger?: Logger;
  /**
   * Random source in [0, 1), for sampling.
   * @default Math.random
   */
  readonly random?: () => number;
}

/** A {@link ShadowRoute} checked and compiled. */
export interface ResolvedShadowRoute {
  /** Upper-case methods, or undefined for any. */
  readonly methods: ReadonlySet<string> | undefined;
  /** Path prefix, or undefined for any. */
  readonly prefix: string | undefined;
  /** Path pattern (without the global or sticky flag), or undefined for any. */
  readonly pattern: RegExp | undefined;
}

/** One header condition of {@link ShadowSettings.headers}, checked. */
export interface ResolvedHeaderRule {
  /** Lower-case header name. */
  readonly name: string;
  /** Exact value, pattern, or presence. */
  readonly match: string | RegExp | boolean;
}

/** {@link ShadowNoiseOptions} with defaults filled and values checked. */
export interface ResolvedShadowNoiseOptions {
  /** The VIP of the current version. */
  readonly vip: string;
  /** Share of compared requests also sent there. */
  readonly rate: number;
}

/** {@link ShadowCompareOptions} with defaults filled and values checked. */
export interface ResolvedShadowCompareOptions {
  /** Lower-case names of the headers compared. */
  readonly headers: readonly string[];
  /** Fields never compared. */
  readonly ignore: readonly FieldPattern[];
  /** Noise learning, or undefined for none. */
  readonly noise: ResolvedShadowNoiseOptions | undefined;
  /** Largest response body kept, in bytes. */
  readonly maxBodyBytes: number;
  /** Differences kept. */
  readonly maxDifferences: number;
  /** Wait for the caller to read the primary's body, in ms. */
  readonly primaryWaitMs: number;
}

/** {@link ShadowSettings} with defaults filled and values checked. */
export interface ResolvedShadowSettings {
  /** The shadow VIPs, without duplicates. */
  readonly vips: readonly string[];
  /** False when the kill switch is on. */
  readonly enabled: boolean;
  /** Share of matching requests copied. */
  readonly rate: number;
  /** Routes copied; empty for every route. */
  readonly routes: readonly ResolvedShadowRoute[];
  /** Header conditions. */
  readonly headers: readonly ResolvedHeaderRule[];
  /** Whether non-idempotent methods are copied. */
  readonly allowNonIdempotent: boolean;
  /** Copies in flight per VIP. */
  readonly maxConcurrent: number;
  /** Copies waiting per VIP. */
  readonly maxQueue: number;
  /** Largest request body copied, in bytes. */
  readonly maxBodyBytes: number;
  /** Comparison, or undefined when off. */
  readonly compare: ResolvedShadowCompareOptions | undefined;
}

/**
 * Fills the defaults of {@link ShadowSettings} and validates them.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the setting that is wrong, what was expected and what was given
 */
export function resolveShadowSettings(settings: ShadowSettings): ResolvedShadowSettings {
  if (typeof settings !== 'object' || settings === null) invalidOption('shadow', 'an object', settings);
  const enabled = settings.enabled ?? true;
  if (typeof enabled !== 'boolean') invalidOption('shadow.enabled', 'a boolean', enabled);
  const allowNonIdempotent = settings.allowNonIdempotent ?? false;
  if (typeof allowNonIdempotent !== 'boolean') invalidOption('shadow.allowNonIdempotent', 'a boolean', allowNonIdempotent);
  return Object.freeze({
    vips: resolveVips(settings.vip),
    enabled,
    rate: share('shadow.rate', settings.rate, 1),
    routes: resolveRoutes(settings.routes),
    headers: resolveHeaderRules(settings.headers),
    allowNonIdempotent,
    maxConcurrent: positiveInt('shadow.maxConcurrent', settings.maxConcurrent, 16),
    maxQueue: nonNegativeInt('shadow.maxQueue', settings.maxQueue, 64),
    maxBodyBytes: nonNegativeInt('shadow.maxBodyBytes', settings.maxBodyBytes, 64 * 1024),
    compare: resolveCompare(settings.compare),
  });
}

/**
 * Merges a partial change into settings: `compare` and `compare.noise` objects are merged into the ones
 * before (false replaces them), everything else is replaced.
 */
export function mergeShadowSettings(current: ShadowSettings, change: ShadowSettings): ShadowSettings {
  if (typeof change !== 'object' || change === null) invalidOption('shadow', 'an object of settings', change);
  const merged: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) continue;
    merged[key] = value;
  }
  const before = current.compare;
  const after = change.compare;
  if (typeof after === 'object' && after !== null) {
    const base: ShadowCompareOptions = typeof before === 'object' && before !== null ? before : {};
    const noiseBefore = base.noise;
    const noiseAfter = after.noise;
    merged.compare = {
      ...base,
      ...after,
      ...(typeof noiseAfter === 'object' && noiseAfter !== null && typeof noiseBefore === 'object' && noiseBefore !== null
        ? { noise: { ...noiseBefore, ...noiseAfter } }
        : {}),
    };
  }
  return merged;
}

function share(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) invalidOption(name, 'a number from 0 to 1', value);
  return value;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) invalidOption(name, 'a non-negative integer', value);
  return value;
}

function resolveVips(vip: string | readonly string[] | undefined): readonly string[] {
  const list = typeof vip === 'string' ? [vip] : vip;
  if (!Array.isArray(list) || list.length === 0) return invalidOption('shadow.vip', 'a VIP address or a non-empty array of them', vip);
  for (const item of list as readonly unknown[]) {
    if (typeof item !== 'string' || item.trim() === '') invalidOption('shadow.vip', 'non-empty VIP address strings', item);
  }
  return Object.freeze([...new Set(list as readonly string[])]);
}

function resolveRoutes(routes: readonly ShadowRoute[] | undefined): readonly ResolvedShadowRoute[] {
  if (routes === undefined) return Object.freeze([]);
  if (!Array.isArray(routes)) return invalidOption('shadow.routes', 'an array of { methods, prefix, pattern }', routes);
  return Object.freeze(
    (routes as readonly ShadowRoute[]).map((route, i) => {
      const name = `shadow.routes[${i}]`;
      if (typeof route !== 'object' || route === null) invalidOption(name, 'an object with methods, prefix and/or pattern', route);
      let methods: ReadonlySet<string> | undefined;
      if (route.methods !== undefined) {
        const list = typeof route.methods === 'string' ? [route.methods] : route.methods;
        if (!Array.isArray(list) || list.length === 0 || !list.every((m) => typeof m === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(m))) {
          invalidOption(`${name}.methods`, 'an HTTP method or a non-empty array of them', route.methods);
        }
        methods = new Set((list as readonly string[]).map((m) => m.toUpperCase()));
      }
      if (route.prefix !== undefined && (typeof route.prefix !== 'string' || !route.prefix.startsWith('/'))) {
        invalidOption(`${name}.prefix`, "a path prefix starting with '/'", route.prefix);
      }
      return Object.freeze({ methods, prefix: route.prefix, pattern: route.pattern === undefined ? undefined : regex(`${name}.pattern`, route.pattern) });
    }),
  );
}

/** A RegExp without the global and sticky flags, whose `lastIndex` would make `test()` answer differently each call. */
function regex(name: string, value: RegExp | string): RegExp {
  if (value instanceof RegExp) return value.global || value.sticky ? new RegExp(value.source, value.flags.replace(/[gy]/g, '')) : value;
  if (typeof value !== 'string') return invalidOption(name, 'a RegExp or its source', value);
  try {
    return new RegExp(value);
  } catch (error) {
    return invalidOption(name, `a valid regular expression (${(error as Error).message})`, value);
  }
}

function resolveHeaderRules(headers: ShadowSettings['headers']): readonly ResolvedHeaderRule[] {
  if (headers === undefined) return Object.freeze([]);
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return invalidOption('shadow.headers', 'an object of header name to value, RegExp or boolean', headers);
  }
  return Object.freeze(
    Object.entries(headers).map(([name, match]) => {
      if (typeof match !== 'string' && typeof match !== 'boolean' && !(match instanceof RegExp)) {
        invalidOption(`shadow.headers.${name}`, 'a string, a RegExp or a boolean', match);
      }
      return Object.freeze({ name: name.toLowerCase(), match: match instanceof RegExp ? regex(`shadow.headers.${name}`, match) : match });
    }),
  );
}

function resolveCompare(compare: ShadowCompareOptions | boolean | undefined): ResolvedShadowCompareOptions | undefined {
  if (compare === undefined || compare === false) return undefined;
  const given = compare === true ? {} : compare;
  if (typeof given !== 'object' || given === null) return invalidOption('shadow.compare', 'a boolean or an object', given);
  const headers = given.headers ?? ['content-type'];
  if (!Array.isArray(headers) || !headers.every((h) => typeof h === 'string' && h !== '')) {
    invalidOption('shadow.compare.headers', 'an array of header names', headers);
  }
  const ignore = given.ignore ?? [];
  if (!Array.isArray(ignore)) invalidOption('shadow.compare.ignore', 'an array of field paths', ignore);
  return Object.freeze({
    headers: Object.freeze([...new Set((headers as readonly string[]).map((h) => h.toLowerCase()))]),
    ignore: Object.freeze((ignore as readonly string[]).map((pattern, i) => new FieldPattern(pattern, `shadow.compare.ignore[${i}]`))),
    noise: resolveNoise(given.noise),
    maxBodyBytes: nonNegativeInt('shadow.compare.maxBodyBytes', given.maxBodyBytes, 64 * 1024),
    maxDifferences: nonNegativeInt('shadow.compare.maxDifferences', given.maxDifferences, 20),
    primaryWaitMs: durationMs('shadow.compare.primaryWaitMs', given.primaryWaitMs, 10_000),
  });
}

function resolveNoise(noise: ShadowNoiseOptions | false | undefined): ResolvedShadowNoiseOptions | undefined {
  if (noise === undefined || noise === false) return undefined;
  if (typeof noise !== 'object' || noise === null) return invalidOption('shadow.compare.noise', 'false or { vip, rate }', noise);
  if (typeof noise.vip !== 'string' || noise.vip.trim() === '') invalidOption('shadow.compare.noise.vip', 'a non-empty VIP address', noise.vip);
  return Object.freeze({ vip: noise.vip, rate: share('shadow.compare.noise.rate', noise.rate, 0.05) });
}
