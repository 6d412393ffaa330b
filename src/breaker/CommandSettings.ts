import { MAX_TIMER_MS } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';

/**
 * The settings of a command, all optional; what is left out comes from the registry's defaults, and from
 * Hystrix's defaults below those. Every setting can change at run time (`command.setOptions()`,
 * `registry.setDefaults()`, `PUT /breakers/{name}`), as Hystrix's dynamic properties can.
 */
export interface CommandSettingsOptions {
  /**
   * How long one execution may run, in ms, counted from the call (time waiting in the bulkhead queue counts);
   * 0 turns the timeout off. A timed-out call settles at once with `ERR_COMMAND_TIMEOUT` (or the fallback);
   * the work's signal is aborted when `interruptOnTimeout` is on. At most 2147483647 (2^31 - 1), the longest
   * delay a Node timer takes.
   * @default 1000
   */
  readonly timeoutMs?: number;
  /**
   * Whether a timeout aborts the signal handed to the work (Hystrix's `execution.isolation.thread.interruptOnTimeout`).
   * @default true
   */
  readonly interruptOnTimeout?: boolean;
  /**
   * Whether the circuit breaker acts at all. When off, calls are never short-circuited; metrics are still kept.
   * @default true
   */
  readonly breakerEnabled?: boolean;
  /**
   * How many requests the rolling window must hold before the error percentage can open the circuit; at most
   * 2147483647.
   * @default 20
   */
  readonly requestVolumeThreshold?: number;
  /**
   * The error percentage (0..100, integer percent as Hystrix computes it) at or above which the circuit opens.
   * @default 50
   */
  readonly errorThresholdPercentage?: number;
  /**
   * How long an open circuit short-circuits every call before letting one trial call through, in ms; 1 to
   * 2147483647.
   * @default 5000
   */
  readonly sleepWindowMs?: number;
  /**
   * Forces the circuit open: every call is short-circuited. Wins over `forceClosed`.
   * @default false
   */
  readonly forceOpen?: boolean;
  /**
   * Forces the circuit closed: no call is short-circuited, whatever the error percentage.
   * @default false
   */
  readonly forceClosed?: boolean;
  /**
   * Length of the rolling statistical window, in ms (1 to 2147483647); must be a multiple of `rollingBuckets`.
   * Changing it starts a fresh window.
   * @default 10000
   */
  readonly rollingWindowMs?: number;
  /**
   * Number of buckets the rolling window is divided into, 1 to 1000.
   * @default 10
   */
  readonly rollingBuckets?: number;
  /**
   * Length of the window latency percentiles are computed over, in ms (1 to 2147483647); must be a multiple
   * of `percentileBuckets`. Changing it starts a fresh window.
   * @default 60000
   */
  readonly percentileWindowMs?: number;
  /**
   * Number of buckets the percentile window is divided into, 1 to 100 (each holds two latency histograms).
   * @default 6
   */
  readonly percentileBuckets?: number;
  /**
   * The bulkhead: how many executions may run at once (Hystrix's semaphore isolation), 1 to 1,000,000.
   * @default 10
   */
  readonly maxConcurrent?: number;
  /**
   * How many calls may wait for the bulkhead when it is full; beyond, calls are rejected with
   * `ERR_BULKHEAD_FULL`. 0 rejects at once, as Hystrix's semaphore does; at most 1,000,000.
   * @default 0
   */
  readonly maxQueued?: number;
  /**
   * Whether bulkhead rejections count as errors towards the error percentage. Hystrix counts them (its
   * health counts add `SEMAPHORE_REJECTED` and `THREAD_POOL_REJECTED` to both the total and the errors), so
   * a saturated bulkhead can open the circuit; turn this off to trip on the dependency's own failures only.
   * @default true
   */
  readonly rejectionsCountAsErrors?: boolean;
  /**
   * Whether the fallback is used.
   * @default true
   */
  readonly fallbackEnabled?: boolean;
  /**
   * How many fallbacks may run at once (1 to 1,000,000); beyond, the fallback is rejected and the call fails.
   * @default 10
   */
  readonly fallbackMaxConcurrent?: number;
}

/** {@link CommandSettingsOptions} with every value filled and checked. */
export interface CommandSettings {
  /** Execution timeout in ms; 0 = none. */
  readonly timeoutMs: number;
  /** Whether a timeout aborts the work's signal. */
  readonly interruptOnTimeout: boolean;
  /** Whether the circuit breaker acts. */
  readonly breakerEnabled: boolean;
  /** Requests needed in the window before the circuit can open. */
  readonly requestVolumeThreshold: number;
  /** Error percentage at or above which the circuit opens. */
  readonly errorThresholdPercentage: number;
  /** How long the circuit stays open before a trial call, in ms. */
  readonly sleepWindowMs: number;
  /** Whether the circuit is forced open. */
  readonly forceOpen: boolean;
  /** Whether the circuit is forced closed. */
  readonly forceClosed: boolean;
  /** Rolling window length in ms. */
  readonly rollingWindowMs: number;
  /** Buckets in the rolling window. */
  readonly rollingBuckets: number;
  /** Percentile window length in ms. */
  readonly percentileWindowMs: number;
  /** Buckets in the percentile window. */
  readonly percentileBuckets: number;
  /** Executions allowed at once. */
  readonly maxConcurrent: number;
  /** Calls allowed to wait for the bulkhead. */
  readonly maxQueued: number;
  /** Whether bulkhead rejections count as errors. */
  readonly rejectionsCountAsErrors: boolean;
  /** Whether the fallback is used. */
  readonly fallbackEnabled: boolean;
  /** Fallbacks allowed at once. */
  readonly fallbackMaxConcurrent: number;
}

/** Hystrix's defaults, the base every command's settings start from. */
export const hystrixDefaults: CommandSettings = Object.freeze({
  timeoutMs: 1000,
  interruptOnTimeout: true,
  breakerEnabled: true,
  requestVolumeThreshold: 20,
  errorThresholdPercentage: 50,
  sleepWindowMs: 5000,
  forceOpen: false,
  forceClosed: false,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  percentileWindowMs: 60_000,
  percentileBuckets: 6,
  maxConcurrent: 10,
  maxQueued: 0,
  rejectionsCountAsErrors: true,
  fallbackEnabled: true,
  fallbackMaxConcurrent: 10,
});

/** 2^31 - 1: the longest delay a Node timer takes, and the largest value of Hystrix's integer properties. */
const MAX_INT = MAX_TIMER_MS;

/** The range of a numeric setting, both ends included; values are whole numbers. */
export interface CommandSettingLimit {
  /** The smallest value allowed. */
  readonly min: number;
  /** The largest value allowed. */
  readonly max: number;
}

/** The numeric settings of a command. */
export type NumericCommandSetting = {
  [K in keyof CommandSettings]: CommandSettings[K] extends number ? K : never;
}[keyof CommandSettings];

/**
 * The range of every numeric command setting; a value outside is refused with `ERR_INVALID_OPTION`, and each
 * window must also be a multiple of its bucket count. The limits keep a setting from breaking the code that
 * uses it:
 * - durations (`timeoutMs`, `sleepWindowMs`, `rollingWindowMs`, `percentileWindowMs`) at most 2^31 - 1 ms
 *   (about 24.8 days), the longest a Node timer can wait: a longer timeout would fire after 1 ms, again and
 *   again; it is also the largest value of Hystrix's integer properties;
 * - `rollingBuckets` at most 1000: each bucket is 16 counters (128 bytes) allocated up front, so 1000 is
 *   128 KB per command and a snapshot sums 13,000 counters (Hystrix's default is 10);
 * - `percentileBuckets` at most 100: each bucket holds two latency histograms of 464 counters (3.7 KB)
 *   allocated up front, so 100 is 371 KB per command (Hystrix's default is 6);
 * - `maxConcurrent`, `maxQueued` and `fallbackMaxConcurrent` at most 1,000,000: each call running or waiting
 *   holds its execution, promise and closures (several hundred bytes), so a larger number no longer limits
 *   anything before memory runs out;
 * - `requestVolumeThreshold` at most 2^31 - 1, as Hystrix's integer property;
 * - `errorThresholdPercentage` from 0 to 100.
 */
export const commandSettingLimits: Readonly<Record<NumericCommandSetting, CommandSettingLimit>> = Object.freeze({
  timeoutMs: Object.freeze({ min: 0, max: MAX_INT }),
  requestVolumeThreshold: Object.freeze({ min: 0, max: MAX_INT }),
  errorThresholdPercentage: Object.freeze({ min: 0, max: 100 }),
  sleepWindowMs: Object.freeze({ min: 1, max: MAX_INT }),
  rollingWindowMs: Object.freeze({ min: 1, max: MAX_INT }),
  rollingBuckets: Object.freeze({ min: 1, max: 1000 }),
  percentileWindowMs: Object.freeze({ min: 1, max: MAX_INT }),
  percentileBuckets: Object.freeze({ min: 1, max: 100 }),
  maxConcurrent: Object.freeze({ min: 1, max: 1_000_000 }),
  maxQueued: Object.freeze({ min: 0, max: 1_000_000 }),
  fallbackMaxConcurrent: Object.freeze({ min: 1, max: 1_000_000 }),
});

const kinds: Readonly<Record<keyof CommandSettings, CommandSettingLimit | 'boolean'>> = {
  timeoutMs: commandSettingLimits.timeoutMs,
  interruptOnTimeout: 'boolean',
  breakerEnabled: 'boolean',
  requestVolumeThreshold: commandSettingLimits.requestVolumeThreshold,
  errorThresholdPercentage: commandSettingLimits.errorThresholdPercentage,
  sleepWindowMs: commandSettingLimits.sleepWindowMs,
  forceOpen: 'boolean',
  forceClosed: 'boolean',
  rollingWindowMs: commandSettingLimits.rollingWindowMs,
  rollingBuckets: commandSettingLimits.rollingBuckets,
  percentileWindowMs: commandSettingLimits.percentileWindowMs,
  percentileBuckets: commandSettingLimits.percentileBuckets,
  maxConcurrent: commandSettingLimits.maxConcurrent,
  maxQueued: commandSettingLimits.maxQueued,
  rejectionsCountAsErrors: 'boolean',
  fallbackEnabled: 'boolean',
  fallbackMaxConcurrent: commandSettingLimits.fallbackMaxConcurrent,
};

/** The names of every command setting. */
export const commandSettingNames: readonly (keyof CommandSettings)[] = Object.freeze(Object.keys(kinds) as (keyof CommandSettings)[]);

function valid(kind: CommandSettingLimit | 'boolean', value: unknown): boolean {
  if (kind === 'boolean') return typeof value === 'boolean';
  return Number.isInteger(value) && (value as number) >= kind.min && (value as number) <= kind.max;
}

function expected(kind: CommandSettingLimit | 'boolean'): string {
  return kind === 'boolean' ? 'a boolean' : `an integer from ${kind.min} to ${kind.max}`;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

/**
 * Checks a partial set of settings: every key must be a known setting with a value of the right kind.
 * Returns a frozen copy holding only the keys given, so it can be layered over other settings.
 *
 * @param where - what the settings belong to, for the message (`command 'getUser'`)
 * @throws KaryonError `ERR_INVALID_OPTION` naming the setting, what was expected and what was given
 */
export function checkCommandSettings(options: unknown, where: string): CommandSettingsOptions {
  if (options === undefined) return Object.freeze({});
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new KaryonError('ERR_INVALID_OPTION', `settings of ${where} must be an object (got ${describe(options)})`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const kind = Object.hasOwn(kinds, key) ? kinds[key as keyof CommandSettings] : undefined;
    if (kind === undefined) {
      throw new KaryonError(
        'ERR_INVALID_OPTION',
        `${where} has no setting '${key}' (known settings: ${commandSettingNames.join(', ')})`,
      );
    }
    if (!valid(kind, value)) {
      throw new KaryonError('ERR_INVALID_OPTION', `setting '${key}' of ${where} must be ${expected(kind)} (got ${describe(value)})`);
    }
    out[key] = value;
  }
  return Object.freeze(out);
}

/**
 * Layers settings (later layers win) over Hystrix's defaults and checks the combination: each window must
 * divide evenly into its buckets, as Hystrix requires.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` when a layer is invalid or the combination is
 */
export function resolveCommandSettings(where: string, ...layers: readonly (CommandSettingsOptions | undefined)[]): CommandSettings {
  const merged: Record<string, unknown> = { ...hystrixDefaults };
  for (const layer of layers) Object.assign(merged, checkCommandSettings(layer, where));
  const settings = merged as unknown as CommandSettings;
  if (settings.rollingWindowMs % settings.rollingBuckets !== 0) {
    throw new KaryonError(
      'ERR_INVALID_OPTION',
      `setting 'rollingWindowMs' of ${where} must be a multiple of 'rollingBuckets' (got ${settings.rollingWindowMs} ms in ${settings.rollingBuckets} buckets)`,
    );
  }
  if (settings.percentileWindowMs % settings.percentileBuckets !== 0) {
    throw new KaryonError(
      'ERR_INVALID_OPTION',
      `setting 'percentileWindowMs' of ${where} must be a multiple of 'percentileBuckets' (got ${settings.percentileWindowMs} ms in ${settings.percentileBuckets} buckets)`,
    );
  }
  return Object.freeze(settings);
}
