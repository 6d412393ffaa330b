// The options of a dynamic configuration (what defineConfig() takes) and their one resolution.
import type { ConfigSchema } from './ConfigSchema.js';
import { systemClock } from '../common/Clock.js';
import type { Clock } from '../common/Clock.js';
import { silentLogger } from '../common/Logger.js';
import type { Logger } from '../common/Logger.js';
import { durationMs, invalidOption, positiveInt } from '../internal/validate.js';
import { SchemaIndex } from './SchemaIndex.js';
import type { ConfigKey, ConfigSource, ConfigValue, DeepReadonly } from './types.js';

/**
 * A per-key check beyond the schema's format: returns `true` to accept, or a reason (or `false`) to reject the
 * whole update. Receives the candidate value and the whole candidate snapshot (for checks across keys).
 */
export type ConfigValidator<V = unknown, S = unknown> = (value: V, snapshot: S) => true | false | string;

/** Per-key validators, by dotted key. */
export type ConfigValidators<T> = { readonly [K in ConfigKey<T>]?: ConfigValidator<DeepReadonly<ConfigValue<T, K>>, DeepReadonly<T>> };

/**
 * Transactional changes: after a change is applied, watch readiness for `windowMs` and restore the snapshot in
 * force before the change if readiness turns critical. Given by whoever owns health (the service), so the
 * configuration does not depend on the lifecycle.
 */
export interface RollbackOptions {
  /**
   * How long after a change a readiness failure rolls it back, in ms. A further change within the window
   * extends it; the rollback then restores the snapshot from before the first of them.
   * @default 30000
   */
  readonly windowMs?: number;
  /** True while readiness is not critical. */
  readonly isHealthy: () => boolean;
  /** Subscribes to readiness changes (`false` = a readiness check turned critical); returns an unsubscribe function. */
  readonly onHealthChange: (listener: (healthy: boolean) => void) => () => void;
}

/** Options of {@link defineConfig}. */
export interface DynamicConfigOptions<T> {
  /** The schema (convict's format): `doc`, `format`, `default`, `env`, `arg`, `sensitive`, `nullable` of every key. */
  readonly schema: ConfigSchema<T>;
  /**
   * Files (watched) and remote sources (polled), e.g. `fileSource(...)`, `remoteSource(...)`. Within a layer,
   * later sources win over earlier ones.
   * @default none
   */
  readonly sources?: readonly ConfigSource[];
  /**
   * Environment variables for the keys that declare `env`, e.g. `process.env`. Empty values count as unset.
   * @default none read
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Command-line arguments for the keys that declare `arg` (`--app-port 9090`, `--app-port=9090`), e.g.
   * `process.argv.slice(2)`.
   * @default none read
   */
  readonly argv?: readonly string[];
  /**
   * The environment name (`prod`): cascaded files read `name-${environment}.json` after `name.json`, and Spring
   * Cloud Config sources use it as the default profile. Undefined is none (`environment: process.env.NODE_ENV`).
   * @default none
   */
  readonly environment?: string | undefined;
  /**
   * Per-key validators run after the schema's formats; any `false` or reason rejects the whole update.
   * @default none
   */
  readonly validators?: ConfigValidators<T>;
  /**
   * Roll back a change when readiness turns critical soon after it.
   * @default off
   */
  readonly rollback?: RollbackOptions;
  /**
   * How many applied changes, rejections and rollbacks `history()` keeps.
   * @default 100
   */
  readonly historyLimit?: number;
  /**
   * Largest value one key may hold, in bytes (a string's UTF-8 length, or a list or object as JSON). Larger
   * values reject the update: a runaway template or a pasted file does not become a setting.
   * @default 65536
   */
  readonly maxValueBytes?: number;
  /**
   * Time source for rollback windows, file debouncing and polling.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where to log applied changes, rejections and source failures.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** {@link DynamicConfigOptions} with defaults filled and values checked. */
export interface ResolvedDynamicConfigOptions {
  /** The schema, analysed. */
  readonly index: SchemaIndex;
  /** The sources. */
  readonly sources: readonly ConfigSource[];
  /** Environment variables. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Arguments. */
  readonly argv: readonly string[];
  /** The environment name. */
  readonly environment: string | undefined;
  /** Validators, by key. */
  readonly validators: ReadonlyMap<string, ConfigValidator>;
  /** Rollback, when on. */
  readonly rollback: ResolvedRollbackOptions | undefined;
  /** History size. */
  readonly historyLimit: number;
  /** Largest value, in bytes. */
  readonly maxValueBytes: number;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

/**
 * Checks and completes {@link DynamicConfigOptions}.
 * @throws KaryonError ERR_INVALID_OPTION naming the option that is wrong.
 */
export function resolveDynamicConfigOptions<T>(options: DynamicConfigOptions<T>): ResolvedDynamicConfigOptions {
  if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
  if (typeof options.schema !== 'object' || options.schema === null) invalidOption('schema', 'a convict schema object', options.schema);
  const index = new SchemaIndex(options.schema);
  const givenSources: unknown = options.sources ?? [];
  if (!Array.isArray(givenSources)) invalidOption('sources', 'an array of configuration sources', givenSources);
  const sources = givenSources as readonly ConfigSource[];
  const names = new Set<string>();
  for (const [i, source] of sources.entries()) {
    const s = source as Partial<ConfigSource> | undefined;
    if (typeof s !== 'object' || s === null || typeof s.open !== 'function' || (s.layer !== 'file' && s.layer !== 'remote')) {
      invalidOption(`sources[${i}]`, "a configuration source (fileSource(), remoteSource() or an object with layer 'file' or 'remote' and open())", source);
    }
    if (names.has(source.name)) invalidOption(`sources[${i}]`, 'a source with a name of its own', source.name);
    names.add(source.name);
  }
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null)) invalidOption('env', 'an object of environment variables', options.env);
  const givenArgv: unknown = options.argv ?? [];
  if (!Array.isArray(givenArgv) || givenArgv.some((a) => typeof a !== 'string')) invalidOption('argv', 'an array of strings', givenArgv);
  const argv = givenArgv as readonly string[];
  if (options.environment !== undefined && (typeof options.environment !== 'string' || !/^[A-Za-z0-9._,-]+$/.test(options.environment))) {
    invalidOption('environment', 'a name of letters, digits, ".", "_", "," or "-"', options.environment);
  }
  const validators = new Map<string, ConfigValidator>();
  for (const [key, validator] of Object.entries((options.validators ?? {}) as Record<string, unknown>)) {
    if (!index.has(key)) invalidOption(`validators['${key}']`, 'a validator of a key declared in the schema', key);
    if (typeof validator !== 'function') invalidOption(`validators['${key}']`, 'a function', validator);
    validators.set(key, validator as ConfigValidator);
  }
  const rollback = options.rollback === undefined ? undefined : resolveRollbackOptions(options.rollback);
  return Object.freeze({
    index,
    sources: Object.freeze([...sources]),
    env: { ...(options.env ?? {}) },
    argv: Object.freeze([...argv]),
    environment: options.environment,
    validators,
    rollback,
    historyLimit: positiveInt('historyLimit', options.historyLimit, 100),
    maxValueBytes: positiveInt('maxValueBytes', options.maxValueBytes, 64 * 1024),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}

/** {@link RollbackOptions} with the window's default filled. */
export type ResolvedRollbackOptions = RollbackOptions & { readonly windowMs: number };

/** Checks and completes {@link RollbackOptions}. */
export function resolveRollbackOptions(options: RollbackOptions): ResolvedRollbackOptions {
  if (typeof options !== 'object' || options === null) invalidOption('rollback', 'an object with isHealthy and onHealthChange', options);
  if (typeof options.isHealthy !== 'function') invalidOption('rollback.isHealthy', 'a function', options.isHealthy);
  if (typeof options.onHealthChange !== 'function') invalidOption('rollback.onHealthChange', 'a function', options.onHealthChange);
  return Object.freeze({ ...options, windowMs: durationMs('rollback.windowMs', options.windowMs, 30_000) });
}
