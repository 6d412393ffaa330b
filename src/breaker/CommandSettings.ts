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
   * the work's signal is aborted when `interruptOnTimeout` is on.
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
   * How many requests the rolling window must hold before the error percentage can open the circuit.
   * @default 20
   */
  readonly requestVolumeThreshold?: number;
  /**
   * The error percentage (0..100, integer percent as Hystrix computes it) at or above which the circuit opens.
   * @default 50
   */
  readonly errorThresholdPercentage?: number;
  /**
   * How long an open circuit short-circuits every call before letting one trial call through, in ms.
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
   * Length of the rolling statistical window, in ms; must be a multiple of `rollingBuckets`. Changing it
   * starts a fresh window.
   * @default 10000
   */
  readonly rollingWindowMs?: number;
  /**
   * Number of buckets the rolling window is divided into.
   * @default 10
   */
  readonly rollingBuckets?: number;
  /**
   * Length of the window latency percentiles are computed over, in ms; must be a multiple of
   * `percentileBuckets`. Changing it starts a fresh window.
   * @default 60000
   */
  readonly percentileWindowMs?: number;
  /**
   * Number of buckets the percentile window is divided into.
   * @default 6
   */
  readonly percentileBuckets?: number;
  /**
   * The bulkhead: how many executions may run at once (Hystrix's semaphore isolation).
   * @default 10
   */
  readonly maxConcurrent?: number;
  /**
   * How many calls may wait for the bulkhead when it is full; beyond, calls are rejected with
   * `ERR_BULKHEAD_FULL`. 0 rejects at once, as Hystrix's semaphore does.
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
   * How many fallbacks may run at once; beyond, the fallback is rejected and the call fails.
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

type Kind = 'boolean' | 'nonNegativeInt' | 'positiveInt' | 'percent';

const kinds: Readonly<Record<keyof CommandSettings, Kind>> = {
  timeoutMs: 'nonNegativeInt',
  interruptOnTimeout: 'boolean',
  breakerEnabled: 'boolean',
  requestVolumeThreshold: 'nonNegativeInt',
  errorThresholdPercentage: 'percent',
  sleepWindowMs: 'positiveInt',
  forceOpen: 'boolean',
  forceClosed: 'boolean',
  rollingWindowMs: 'positiveInt',
  rollingBuckets: 'positiveInt',
  percentileWindowMs: 'positiveInt',
  percentileBuckets: 'positiveInt',
  maxConcurrent: 'positiveInt',
  maxQueued: 'nonNegativeInt',
  rejectionsCountAsErrors: 'boolean',
  fallbackEnabled: 'boolean',
  fallbackMaxConcurrent: 'positiveInt',
};

const expected: Readonly<Record<Kind, string>> = {
  boolean: 'a boolean',
  nonNegativeInt: 'an integer >= 0',
  positiveInt: 'an integer >= 1',
  percent: 'an integer between 0 and 100',
};

/** The names of every command setting. */
export const commandSettingNames: readonly (keyof CommandSettings)[] = Object.freeze(Object.keys(kinds) as (keyof CommandSettings)[]);

function valid(kind: Kind, value: unknown): boolean {
  switch (kind) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'nonNegativeInt':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'positiveInt':
      return Number.isSafeInteger(value) && (value as number) >= 1;
    case 'percent':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 100;
  }
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
      throw new KaryonError('ERR_INVALID_OPTION', `setting '${key}' of ${where} must be ${expected[kind]} (got ${describe(value)})`);
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
