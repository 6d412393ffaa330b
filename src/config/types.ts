import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';

/**
 * The dotted keys of a settings type `T`, branches and leaves (`'app'`, `'app.port'`). Arrays are leaves.
 * Used to type {@link DynamicConfig.property}: `property('app.port')` is a `Property<number>`.
 */
export type ConfigKey<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: K | (T[K] extends readonly unknown[] ? never : T[K] extends object ? `${K}.${ConfigKey<T[K]>}` : never) }[keyof T &
        string]
    : never;

/**
 * The type of the value at dotted key `K` of a settings type `T` (`unknown` when `T` does not say, as for an
 * untyped configuration).
 */
export type ConfigValue<T, K extends string> = K extends keyof T
  ? T[K]
  : K extends `${infer Head}.${infer Rest}`
    ? Head extends keyof T
      ? ConfigValue<T[Head], Rest>
      : unknown
    : unknown;

/** `T` made readonly all the way down: what a frozen snapshot is. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/**
 * The layers of a dynamic configuration, lowest to highest priority: schema defaults, files, environment
 * variables, command-line arguments, remote sources, runtime overrides.
 */
export type ConfigLayer = 'default' | 'file' | 'env' | 'argv' | 'remote' | 'override';

/** What set off an applied change, a rejection or a rollback: a layer, the first load, or a rollback. */
export type ConfigTrigger = ConfigLayer | 'start' | 'rollback';

/** One key whose value changed. Values of sensitive keys are masked (`'[Sensitive]'`). */
export interface KeyChange {
  /** The dotted key. */
  readonly key: string;
  /** The value before (masked when sensitive). */
  readonly oldValue: unknown;
  /** The value after (masked when sensitive). */
  readonly newValue: unknown;
}

/** One problem found in a configuration update. */
export interface ConfigIssue {
  /** The dotted key at fault, when the problem is tied to one key. */
  readonly key: string | undefined;
  /** Where the faulty value came from (`file:/etc/app.json`, `remote:http://...`, `override`), when known. */
  readonly origin: string | undefined;
  /** What is wrong, naming what was expected; never shows the value of a sensitive key. */
  readonly message: string;
}

/** Payload of the `change` event: a new snapshot is in force. */
export interface ConfigChangeEvent {
  /** The version of the new snapshot; versions only grow. */
  readonly version: number;
  /** The version that was in force before. */
  readonly previousVersion: number;
  /** When it was applied (epoch ms). */
  readonly at: number;
  /** The layer the change came from, or `'rollback'`. */
  readonly trigger: ConfigTrigger;
  /** The source that changed (`file:/etc/app.json`, `remote:http://...`, `override`, `rollback`). */
  readonly source: string;
  /** Every leaf key whose value changed. */
  readonly changes: readonly KeyChange[];
}

/** Payload of the `configRejected` event: an update failed validation and was not applied. */
export interface ConfigRejectedEvent {
  /** When it was rejected (epoch ms). */
  readonly at: number;
  /** The layer the update came from. */
  readonly trigger: ConfigTrigger;
  /** The source of the update. */
  readonly source: string;
  /** Every problem, one line each. */
  readonly reason: string;
  /** Every problem, structured. */
  readonly issues: readonly ConfigIssue[];
  /** The version still in force. */
  readonly version: number;
}

/** Payload of the `rollback` event: a change was undone because readiness turned critical after it. */
export interface ConfigRollbackEvent {
  /** When (epoch ms). */
  readonly at: number;
  /** The version that was undone. */
  readonly undoneVersion: number;
  /** The version whose values are back in force. */
  readonly restoredVersion: number;
  /** The version number of the restored state (a new number: versions only grow). */
  readonly version: number;
  /** Why. */
  readonly reason: string;
}

/** Payload of the `sourceError` and `sourceRecovered` events. */
export interface ConfigSourceEvent {
  /** When (epoch ms). */
  readonly at: number;
  /** The source. */
  readonly source: string;
  /** Its layer. */
  readonly layer: 'file' | 'remote';
  /** What went wrong (`sourceError`), or undefined (`sourceRecovered`). */
  readonly error: string | undefined;
  /** Failures in a row so far; 0 on recovery. */
  readonly consecutiveFailures: number;
}

/** The typed events of a {@link DynamicConfig}. */
export interface DynamicConfigEvents {
  /** A new snapshot is in force. */
  change: [event: ConfigChangeEvent];
  /** An update failed validation; the last good snapshot stays. */
  configRejected: [event: ConfigRejectedEvent];
  /** A change was rolled back after readiness turned critical. */
  rollback: [event: ConfigRollbackEvent];
  /** A source could not be read (remote down, file unreadable); its last good values stay. */
  sourceError: [event: ConfigSourceEvent];
  /** A source that was failing answered again. */
  sourceRecovered: [event: ConfigSourceEvent];
}

/** One entry of {@link DynamicConfig.history}. */
export type ConfigHistoryEntry =
  | {
      /** A change was applied. */
      readonly kind: 'applied';
      /** When (epoch ms). */
      readonly at: number;
      /** The version it produced. */
      readonly version: number;
      /** Its layer, or `'start'` for the first load. */
      readonly trigger: ConfigTrigger;
      /** Its source. */
      readonly source: string;
      /** What changed (masked where sensitive). */
      readonly changes: readonly KeyChange[];
    }
  | {
      /** An update was rejected. */
      readonly kind: 'rejected';
      /** When (epoch ms). */
      readonly at: number;
      /** The version that stayed in force. */
      readonly version: number;
      /** Its layer. */
      readonly trigger: ConfigTrigger;
      /** Its source. */
      readonly source: string;
      /** Every problem, one line each. */
      readonly reason: string;
      /** Every problem, structured. */
      readonly issues: readonly ConfigIssue[];
    }
  | {
      /** A change was rolled back. */
      readonly kind: 'rolledBack';
      /** When (epoch ms). */
      readonly at: number;
      /** The version number of the restored state. */
      readonly version: number;
      /** Always `'rollback'`. */
      readonly trigger: 'rollback';
      /** Always `'rollback'`. */
      readonly source: string;
      /** The version undone. */
      readonly undoneVersion: number;
      /** The version whose values are back. */
      readonly restoredVersion: number;
      /** Why. */
      readonly reason: string;
      /** What changed back (masked where sensitive). */
      readonly changes: readonly KeyChange[];
    };

/** How one key is set now, as {@link DynamicConfig.describe} reports it. */
export interface ConfigKeyDescription {
  /** The dotted key. */
  readonly key: string;
  /** The value in force (`'[Sensitive]'` for sensitive keys). */
  readonly value: unknown;
  /** The layer it came from. */
  readonly layer: ConfigLayer;
  /** The origin within the layer (`default`, `file:/etc/app.json`, `env:PORT`, `argv:--app-port`, `remote:...`, `override`). */
  readonly source: string;
  /** True when the key is marked `sensitive` in the schema. */
  readonly sensitive: boolean;
  /** The schema's `doc`, when given. */
  readonly doc: string | undefined;
}

/** The whole configuration as {@link DynamicConfig.describe} reports it. */
export interface ConfigDescription {
  /** The version in force. */
  readonly version: number;
  /** When it was applied (epoch ms). */
  readonly updatedAt: number;
  /** Every leaf key, in schema order. */
  readonly keys: readonly ConfigKeyDescription[];
  /** The runtime overrides in force (masked where sensitive). */
  readonly overrides: Readonly<Record<string, unknown>>;
}

/** The state of one source, as {@link DynamicConfig.sources} reports it. */
export interface ConfigSourceStatus {
  /** The source's name (`file:/etc/app`, `remote:http://...`); credentials in URLs are masked. */
  readonly name: string;
  /** Its layer. */
  readonly layer: 'file' | 'remote';
  /** `ok`: the last read worked; `failing`: the last read failed and the last good values are in force; `closed`. */
  readonly state: 'pending' | 'ok' | 'failing' | 'closed';
  /** The origins it currently contributes (files found, the URL), lowest priority first. */
  readonly origins: readonly string[];
  /** When it last read successfully (epoch ms). */
  readonly lastSuccessAt: number | undefined;
  /** The last error, while failing. */
  readonly lastError: string | undefined;
  /** Failures in a row. */
  readonly consecutiveFailures: number;
  /** Source-specific details (ETag, Spring Cloud Config version, watched directory). */
  readonly details: Readonly<Record<string, unknown>>;
}

/** The values of one origin of a source: a nested object (dotted keys are split too). */
export interface SourceOrigin {
  /** The origin's name (`file:/etc/app-prod.json`); shown as the source of each key it sets. */
  readonly name: string;
  /** The values, a nested object; string values are coerced to the schema's types. */
  readonly values: unknown;
}

/**
 * What a source read: the values of each of its origins (lowest priority first), or why it could not use what
 * it read (a parse error: the update is rejected and the last good values stay).
 */
export type SourceContent =
  | {
      /** The values of each origin, lowest priority first. */
      readonly origins: readonly SourceOrigin[];
    }
  | {
      /** Why what was read cannot be used (`invalid JSON: ...`). */
      readonly error: string;
    };

/** What happened to content a source offered. */
export type SourceUpdateOutcome = 'applied' | 'unchanged' | 'rejected' | 'pending';

/** What a {@link ConfigSource} is given when it opens. */
export interface ConfigSourceContext {
  /** The environment name (`prod`), for cascaded files and Spring profiles; undefined when none was given. */
  readonly environment: string | undefined;
  /** The clock for debouncing and polling. */
  readonly clock: Clock;
  /** Where to log. */
  readonly logger: Logger;
  /** Aborts when the configuration closes. */
  readonly signal: AbortSignal;
  /**
   * Offers new content (validated with everything else, applied whole or rejected whole).
   * Returns `pending` before the first snapshot exists (the content is used by `start()`).
   */
  update(content: SourceContent): SourceUpdateOutcome;
  /** Reports that reading failed (the last good values stay in force). */
  failed(error: string, consecutiveFailures: number): void;
  /** Reports that reading works again after failures. */
  recovered(): void;
}

/**
 * A layer provider that changes over time: files (watched) and remote sources (polled) are built in; write
 * your own for another store. Layer `file` ranks below environment and arguments, `remote` above them.
 */
export interface ConfigSource {
  /** Its layer. */
  readonly layer: 'file' | 'remote';
  /** Its name, shown in `sources()`, history and events. */
  readonly name: string;
  /**
   * What to do with keys the schema does not declare: reject the update (the default) or ignore them (for a
   * shared store that also holds other applications' keys).
   */
  readonly unknownKeys?: 'reject' | 'ignore';
  /** Reads the first content and starts watching or polling, offering later content through `context.update()`. */
  open(context: ConfigSourceContext): Promise<SourceContent>;
  /** Reads again now (an operator's "reload"), offering what changed. */
  refresh(signal?: AbortSignal): Promise<void>;
  /** Its current state. */
  status(): ConfigSourceStatus;
  /** Stops watching or polling. Idempotent. */
  close(): Promise<void>;
}
