// Over 500 lines because DynamicConfig is one state machine over one snapshot: loading the layers, validating
// a change whole, swapping the snapshot, the history and the rollback window all read and write the same
// private state (#state, #history, the dispatch queue), and splitting them would expose that state between files.
// Its options, the schema index, the live properties and the types are in their own files.
import convict from 'convict';
import { EventEmitter } from 'eventemitter3';
import type { ClockTimer } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import { abortReason, errorMessage } from '../internal/async.js';
import { invalidOption } from '../internal/validate.js';
import { PropertyHandle } from './Property.js';
import type { Property } from './Property.js';
import type { SchemaIndex, ValueLimits } from './SchemaIndex.js';
import type {
  ConfigChangeEvent,
  ConfigDescription,
  ConfigHistoryEntry,
  ConfigIssue,
  ConfigKey,
  ConfigLayer,
  ConfigSource,
  ConfigSourceContext,
  ConfigSourceStatus,
  ConfigTrigger,
  ConfigValue,
  DeepReadonly,
  DynamicConfigEvents,
  KeyChange,
  SourceContent,
  SourceUpdateOutcome,
} from './types.js';
import { deepFreeze, sameValue, shareUnchanged, walk } from './values.js';
import { resolveDynamicConfigOptions, resolveRollbackOptions } from './DynamicConfigOptions.js';
import type { ConfigValidator, DynamicConfigOptions, ResolvedDynamicConfigOptions, ResolvedRollbackOptions, RollbackOptions } from './DynamicConfigOptions.js';

export type { ConfigValidator, ConfigValidators, DynamicConfigOptions, RollbackOptions } from './DynamicConfigOptions.js';

/** What `setOverride()` and `clearOverride()` did. */
export interface ConfigChangeResult {
  /** `applied`: a new snapshot is in force; `unchanged`: the values in force did not change. */
  readonly outcome: 'applied' | 'unchanged';
  /** The version in force afterwards. */
  readonly version: number;
  /** The keys whose values changed (masked where sensitive). */
  readonly changes: readonly KeyChange[];
}

interface Origin {
  readonly name: string;
  readonly layer: ConfigLayer;
  readonly entries: ReadonlyMap<string, unknown>;
}

interface ConfigState {
  readonly version: number;
  readonly appliedAt: number;
  readonly snapshot: unknown;
  /** The accepted origins of each source, by the source's index. */
  readonly sourceOrigins: readonly (readonly Origin[])[];
  readonly overrides: ReadonlyMap<string, unknown>;
  /** The origin of each leaf not at its default. */
  readonly keyOrigins: ReadonlyMap<string, Origin>;
}

type BuildResult = { readonly ok: true; readonly snapshot: unknown; readonly keyOrigins: Map<string, Origin> } | { readonly ok: false; readonly issues: ConfigIssue[] };

interface RollbackWindow {
  readonly target: ConfigState;
  timer: ClockTimer;
}

const noop = (): void => undefined;

/**
 * Archaius-style live configuration on a convict schema. Layers, lowest to highest: schema defaults, files,
 * environment variables, command-line arguments, remote sources, runtime overrides. Every change builds a new
 * convict instance from all layers, validates it strictly (formats, unknown keys, per-key validators) and only
 * then swaps one deeply frozen snapshot in, so readers never see a mix of old and new values. An invalid
 * update is rejected whole: the last good snapshot stays and `configRejected` says why.
 *
 * Create it with {@link defineConfig}.
 */
export class DynamicConfig<T extends object = Record<string, unknown>> extends EventEmitter<DynamicConfigEvents> {
  readonly #options: ResolvedDynamicConfigOptions;
  readonly #index: SchemaIndex;
  readonly #limits: ValueLimits;
  readonly #controller = new AbortController();
  readonly #properties = new Map<string, PropertyHandle<unknown>>();
  readonly #history: ConfigHistoryEntry[] = [];
  readonly #dispatchQueue: (() => void)[] = [];
  #dispatching = false;
  #state: ConfigState | undefined;
  #fixedOrigins: { env: Origin[]; argv: Origin[] } = { env: [], argv: [] };
  #pendingContents: (SourceContent | undefined)[] = [];
  #nextVersion = 1;
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #window: RollbackWindow | undefined;
  #readiness: ResolvedRollbackOptions | undefined;
  #unsubscribeHealth: () => void = noop;

  /** Use {@link defineConfig}. */
  constructor(options: DynamicConfigOptions<T>) {
    super();
    this.#options = resolveDynamicConfigOptions(options);
    this.#index = this.#options.index;
    this.#limits = { maxValueBytes: this.#options.maxValueBytes };
    this.#readiness = this.#options.rollback;
  }

  /** True once `start()` has loaded a valid snapshot. */
  get started(): boolean {
    return this.#state !== undefined;
  }

  /**
   * The values in force: one deeply frozen object, replaced whole on every change. Read it once per unit of
   * work to see one consistent version.
   * @throws KaryonError ERR_INVALID_STATE before `start()`.
   */
  get snapshot(): DeepReadonly<T> {
    return this.#requireState().snapshot as DeepReadonly<T>;
  }

  /** The version of the snapshot in force (starts at 1, grows with every applied change); 0 before `start()`. */
  get version(): number {
    return this.#state?.version ?? 0;
  }

  /**
   * Loads every layer (files, environment, arguments, the first fetch of each remote source), validates the
   * whole, puts it in force, then starts watching files and polling remote sources. Idempotent.
   * @throws KaryonError ERR_INVALID_CONFIG naming every bad key (and where it came from) when the initial
   * configuration is invalid; the sources are closed again and this configuration stays unusable (define a new
   * one once the values are fixed).
   */
  start(signal?: AbortSignal): Promise<void> {
    if (this.#starting !== undefined) return this.#starting;
    if (this.#closing !== undefined) return Promise.reject(new KaryonError('ERR_INVALID_STATE', 'configuration is closed'));
    this.#starting = this.#start(signal);
    return this.#starting;
  }

  /**
   * A live handle on `key` (a leaf or a group of the schema); the same handle for the same key.
   * @throws KaryonError ERR_INVALID_CONFIG when the schema has no such key.
   */
  property<K extends ConfigKey<T>>(key: K): Property<DeepReadonly<ConfigValue<T, K>>> {
    let handle = this.#properties.get(key);
    if (handle === undefined) {
      if (typeof key !== 'string' || !this.#index.has(key)) {
        throw new KaryonError('ERR_INVALID_CONFIG', `unknown configuration key '${String(key)}': not declared in the schema`);
      }
      handle = new PropertyHandle<unknown>(key, this.#options.logger);
      if (this.#state !== undefined) handle.moveTo(this.#state.snapshot);
      this.#properties.set(key, handle);
    }
    return handle as Property<DeepReadonly<ConfigValue<T, K>>>;
  }

  /**
   * The current value of `key`. For a value read often, keep a {@link property} handle instead.
   * @throws KaryonError ERR_INVALID_CONFIG for an unknown key, ERR_INVALID_STATE before `start()`.
   */
  get<K extends ConfigKey<T>>(key: K): DeepReadonly<ConfigValue<T, K>> {
    return this.property(key).get();
  }

  /** Calls `listener` after every applied change (and rollback); returns a function that removes it. */
  onChange(listener: (event: ConfigChangeEvent) => void): () => void {
    const wrapped = (event: ConfigChangeEvent): void => listener(event);
    this.on('change', wrapped);
    return () => {
      this.off('change', wrapped);
    };
  }

  /**
   * Turns on transactional changes after construction, for the owner of health (the service) to call: after an
   * applied change, a readiness failure within `windowMs` restores the previous snapshot. Replaces the
   * `rollback` option or an earlier call. Returns a function that turns it off again.
   * @throws KaryonError ERR_INVALID_OPTION when an option is wrong.
   */
  watchReadiness(options: RollbackOptions): () => void {
    const resolved = resolveRollbackOptions(options);
    this.#detachReadiness();
    this.#readiness = resolved;
    this.#subscribeReadiness();
    return () => {
      if (this.#readiness !== resolved) return;
      this.#detachReadiness();
      this.#readiness = undefined;
    };
  }

  /**
   * Sets a runtime override (the highest layer), validated with everything else like any other change.
   * @throws KaryonError ERR_INVALID_CONFIG when the key is unknown or the value is rejected (the reason names it;
   * `errors` lists each {@link ConfigIssue}); ERR_INVALID_STATE before `start()`.
   */
  setOverride(key: string, value: unknown): ConfigChangeResult {
    const state = this.#requireState();
    if (typeof key !== 'string' || key === '') invalidOption('key', 'a dotted configuration key', key);
    const flat = this.#index.flatten({ [key]: value }, 'override', this.#limits);
    if (flat.issues.length === 0 && !this.#index.leaves.has(key)) {
      flat.issues.push({ key, origin: 'override', message: `'${key}' is a group of settings; override its keys one by one` });
    }
    if (flat.issues.length > 0) return this.#throwRejected('override', 'override', flat.issues);
    const overrides = new Map(state.overrides);
    overrides.set(key, flat.entries.get(key));
    return this.#override(overrides);
  }

  /**
   * Removes a runtime override, so the key falls back to the layers below (validated like any change).
   * @throws KaryonError ERR_INVALID_CONFIG when the values underneath are rejected; ERR_INVALID_STATE before `start()`.
   */
  clearOverride(key: string): ConfigChangeResult {
    const state = this.#requireState();
    if (!state.overrides.has(key)) return { outcome: 'unchanged', version: state.version, changes: [] };
    const overrides = new Map(state.overrides);
    overrides.delete(key);
    return this.#override(overrides);
  }

  /** The runtime overrides in force, by key (sensitive values masked). */
  overrides(): Readonly<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of this.#state?.overrides ?? []) out[key] = this.#index.mask(key, value);
    return out;
  }

  /** True when `key` has a runtime override. */
  hasOverride(key: string): boolean {
    return this.#state?.overrides.has(key) ?? false;
  }

  /** True when the schema declares `key` (a leaf or a group). */
  hasKey(key: string): boolean {
    return this.#index.has(key);
  }

  /** True when `key` is marked `sensitive` in the schema, or is a group holding such a key. */
  isSensitiveKey(key: string): boolean {
    return this.#index.isSensitive(key);
  }

  /** True when the schema declares `key` as a single value (not a group), as overrides need. */
  isLeafKey(key: string): boolean {
    return this.#index.leaves.has(key);
  }

  /** Reads every source again now (files re-read, remote sources fetched), applying what changed. */
  async reload(signal?: AbortSignal): Promise<void> {
    this.#requireState();
    await Promise.all(this.#options.sources.map((source) => source.refresh(signal)));
  }

  /** Each key's value in force and the layer it came from; sensitive values masked. */
  describe(): ConfigDescription {
    const state = this.#requireState();
    const keys = [...this.#index.leaves.values()].map((leaf) => {
      const origin = state.keyOrigins.get(leaf.key);
      return Object.freeze({
        key: leaf.key,
        value: this.#index.mask(leaf.key, walk(state.snapshot, leaf.segments)),
        layer: origin?.layer ?? 'default',
        source: origin?.name ?? 'default',
        sensitive: leaf.sensitive,
        doc: leaf.doc,
      });
    });
    return Object.freeze({ version: state.version, updatedAt: state.appliedAt, keys: Object.freeze(keys), overrides: this.overrides() });
  }

  /** The state of every source: working or failing, the files found, the last error. */
  sources(): readonly ConfigSourceStatus[] {
    return this.#options.sources.map((source) => source.status());
  }

  /** Recent applied changes, rejections and rollbacks, oldest first (at most `historyLimit`). */
  history(): readonly ConfigHistoryEntry[] {
    return [...this.#history];
  }

  /** Stops watching files and polling remote sources; the last snapshot stays readable. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#controller.abort(new KaryonError('ERR_INVALID_STATE', 'configuration closed'));
      this.#detachReadiness();
      await this.#starting?.catch(noop);
      await Promise.allSettled(this.#options.sources.map((source) => source.close()));
    })();
    return this.#closing;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const { sources, clock, logger } = this.#options;
    if (signal?.aborted) throw abortReason(signal);
    const issues: ConfigIssue[] = [];
    this.#fixedOrigins = { env: this.#envOrigins(issues), argv: this.#argvOrigins(issues) };
    this.#pendingContents = sources.map(() => undefined);
    const contexts = sources.map((source, i): ConfigSourceContext => this.#context(source, i));
    const onAbort = (): void => this.#controller.abort(abortReason(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    let contents: SourceContent[];
    try {
      const opened = await Promise.allSettled(sources.map((source, i) => source.open(contexts[i] as ConfigSourceContext)));
      if (this.#controller.signal.aborted) throw abortReason(this.#controller.signal);
      const failures = opened.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failures.length > 0) {
        const first = failures[0]?.reason as unknown;
        if (failures.length === 1 && isKaryonError(first)) throw first;
        throw new KaryonError('ERR_INVALID_CONFIG', `configuration sources failed to open: ${failures.map((f) => errorMessage(f.reason)).join('; ')}`, {
          cause: first,
          errors: failures.map((f) => f.reason as unknown),
          retryable: true,
        });
      }
      contents = opened.map((r, i) => this.#pendingContents[i] ?? (r as PromiseFulfilledResult<SourceContent>).value);
    } catch (error) {
      await this.#abandon();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    const sourceOrigins = contents.map((content, i) => this.#toOrigins(sources[i] as ConfigSource, content, issues));
    const built = issues.length === 0 ? this.#build(sourceOrigins, new Map(), undefined) : undefined;
    if (built === undefined || !built.ok) {
      const all = built === undefined ? issues : built.issues;
      await this.#abandon();
      throw new KaryonError('ERR_INVALID_CONFIG', `invalid configuration:\n${formatIssues(all)}`, { errors: all });
    }
    const state: ConfigState = {
      version: this.#nextVersion++,
      appliedAt: clock.now(),
      snapshot: built.snapshot,
      sourceOrigins,
      overrides: new Map(),
      keyOrigins: built.keyOrigins,
    };
    this.#state = state;
    for (const handle of this.#properties.values()) handle.moveTo(state.snapshot);
    this.#record({ kind: 'applied', at: state.appliedAt, version: state.version, trigger: 'start', source: 'start', changes: [] });
    logger.info('configuration loaded', { version: state.version, sources: sources.map((s) => s.name) });
    this.#subscribeReadiness();
  }

  #subscribeReadiness(): void {
    const readiness = this.#readiness;
    if (readiness === undefined || this.#state === undefined || this.#controller.signal.aborted) return;
    this.#unsubscribeHealth = readiness.onHealthChange((healthy) => {
      if (!healthy && this.#window !== undefined && this.#readiness === readiness) this.#rollBack('readiness turned critical');
    });
  }

  #detachReadiness(): void {
    this.#unsubscribeHealth();
    this.#unsubscribeHealth = noop;
    this.#window?.timer.clear();
    this.#window = undefined;
  }

  async #abandon(): Promise<void> {
    this.#controller.abort(new KaryonError('ERR_INVALID_STATE', 'configuration start failed'));
    await Promise.allSettled(this.#options.sources.map((source) => source.close()));
  }

  #context(source: ConfigSource, index: number): ConfigSourceContext {
    const { clock, logger, environment } = this.#options;
    return {
      environment,
      clock,
      logger,
      signal: this.#controller.signal,
      update: (content) => this.#offer(index, content),
      failed: (error, consecutiveFailures) => {
        logger.warn('configuration source failed; keeping its last good values', { source: source.name, error, consecutiveFailures });
        this.#dispatch(() => this.#emit('sourceError', { at: clock.now(), source: source.name, layer: source.layer, error, consecutiveFailures }));
      },
      recovered: () => {
        logger.info('configuration source recovered', { source: source.name });
        this.#dispatch(() => this.#emit('sourceRecovered', { at: clock.now(), source: source.name, layer: source.layer, error: undefined, consecutiveFailures: 0 }));
      },
    };
  }

  #offer(index: number, content: SourceContent): SourceUpdateOutcome {
    if (this.#controller.signal.aborted) return 'unchanged';
    const state = this.#state;
    if (state === undefined) {
      // Still starting: the newest content of each source is what start() uses.
      this.#pendingContents[index] = content;
      return 'pending';
    }
    const source = this.#options.sources[index] as ConfigSource;
    const issues: ConfigIssue[] = [];
    const origins = this.#toOrigins(source, content, issues);
    if (issues.length > 0) {
      this.#reject(source.layer, source.name, issues);
      return 'rejected';
    }
    const sourceOrigins = [...state.sourceOrigins];
    sourceOrigins[index] = origins;
    const result = this.#apply(sourceOrigins, state.overrides, source.layer, source.name);
    return result.ok ? result.outcome : 'rejected';
  }

  #override(overrides: Map<string, unknown>): ConfigChangeResult {
    const state = this.#requireState();
    const result = this.#apply(state.sourceOrigins, overrides, 'override', 'override');
    if (!result.ok) return this.#throwRejected('override', 'override', result.issues, true);
    return { outcome: result.outcome, version: this.#requireState().version, changes: result.changes };
  }

  #throwRejected(trigger: ConfigTrigger, source: string, issues: ConfigIssue[], recorded = false): never {
    if (!recorded) this.#reject(trigger, source, issues);
    throw new KaryonError('ERR_INVALID_CONFIG', `configuration change rejected:\n${formatIssues(issues)}`, { errors: issues });
  }

  /** Builds, validates and, when valid, swaps in a state with these contents. */
  #apply(
    sourceOrigins: readonly (readonly Origin[])[],
    overrides: ReadonlyMap<string, unknown>,
    trigger: ConfigTrigger,
    source: string,
  ): { ok: true; outcome: 'applied' | 'unchanged'; changes: KeyChange[] } | { ok: false; issues: ConfigIssue[] } {
    const previous = this.#requireState();
    const built = this.#build(sourceOrigins, overrides, previous.snapshot);
    if (!built.ok) {
      this.#reject(trigger, source, built.issues);
      return { ok: false, issues: built.issues };
    }
    const changes = this.#changes(previous.snapshot, built.snapshot);
    if (changes.length === 0) {
      // Same values (a touched file, an override equal to the value in force): keep the version, but remember
      // the new contents so later changes of other layers fall back correctly.
      this.#state = { ...previous, sourceOrigins, overrides, keyOrigins: built.keyOrigins };
      return { ok: true, outcome: 'unchanged', changes };
    }
    const next: ConfigState = {
      version: this.#nextVersion++,
      appliedAt: this.#options.clock.now(),
      snapshot: built.snapshot,
      sourceOrigins,
      overrides,
      keyOrigins: built.keyOrigins,
    };
    this.#swap(next, previous, trigger, source, changes);
    this.#armRollback(previous);
    return { ok: true, outcome: 'applied', changes };
  }

  /** The one place a new state comes into force: snapshot and every property handle in one synchronous pass. */
  #swap(next: ConfigState, previous: ConfigState, trigger: ConfigTrigger, source: string, changes: KeyChange[], reason?: string): void {
    this.#state = next;
    const notifications: (() => void)[] = [];
    for (const handle of this.#properties.values()) {
      const notify = handle.moveTo(next.snapshot);
      if (notify !== undefined) notifications.push(notify);
    }
    const event: ConfigChangeEvent = Object.freeze({
      version: next.version,
      previousVersion: previous.version,
      at: next.appliedAt,
      trigger,
      source,
      changes: Object.freeze(changes),
    });
    if (trigger !== 'rollback') {
      this.#record({ kind: 'applied', at: next.appliedAt, version: next.version, trigger, source, changes });
      this.#options.logger.info('configuration changed', { version: next.version, source, keys: changes.map((c) => c.key) });
    } else {
      this.#options.logger.warn('configuration rolled back', { version: next.version, reason, keys: changes.map((c) => c.key) });
    }
    // Listeners run only after every handle points at the new snapshot.
    this.#dispatch(() => {
      for (const notify of notifications) notify();
      this.#emit('change', event);
    });
  }

  #reject(trigger: ConfigTrigger, source: string, issues: readonly ConfigIssue[]): void {
    const at = this.#options.clock.now();
    const reason = issues.map((issue) => issue.message).join('; ');
    const version = this.version;
    this.#record({ kind: 'rejected', at, version, trigger, source, reason, issues });
    this.#options.logger.warn('configuration update rejected; keeping the last good values', { source, reason });
    this.#dispatch(() => this.#emit('configRejected', Object.freeze({ at, trigger, source, reason, issues: Object.freeze([...issues]), version })));
  }

  #armRollback(previous: ConfigState): void {
    const rollback = this.#readiness;
    if (rollback === undefined) return;
    const schedule = (): ClockTimer =>
      this.#options.clock
        .setTimeout(() => {
          // A verdict that changed without a notification still counts at the end of the window.
          if (!safeHealthy(rollback)) this.#rollBack('readiness was critical at the end of the window');
          else this.#window = undefined;
        }, rollback.windowMs)
        .unref();
    if (this.#window !== undefined) {
      this.#window.timer.clear();
      this.#window.timer = schedule();
      return;
    }
    if (!safeHealthy(rollback)) {
      // Rolling back to a snapshot that was already unhealthy would undo a change that may be the fix.
      this.#options.logger.warn('configuration changed while not ready; no rollback window opened', { version: this.version });
      return;
    }
    this.#window = { target: previous, timer: schedule() };
  }

  #rollBack(reason: string): void {
    const window = this.#window;
    const current = this.#state;
    if (window === undefined || current === undefined || this.#controller.signal.aborted) return;
    window.timer.clear();
    this.#window = undefined;
    const restored: ConfigState = { ...window.target, version: this.#nextVersion++, appliedAt: this.#options.clock.now() };
    const changes = this.#changes(current.snapshot, restored.snapshot);
    const fullReason = `${reason} within ${this.#readiness?.windowMs ?? 0} ms of version ${current.version}`;
    this.#record({
      kind: 'rolledBack',
      at: restored.appliedAt,
      version: restored.version,
      trigger: 'rollback',
      source: 'rollback',
      undoneVersion: current.version,
      restoredVersion: window.target.version,
      reason: fullReason,
      changes,
    });
    this.#swap(restored, current, 'rollback', 'rollback', changes, fullReason);
    this.#dispatch(() =>
      this.#emit('rollback', {
        at: restored.appliedAt,
        undoneVersion: current.version,
        restoredVersion: window.target.version,
        version: restored.version,
        reason: fullReason,
      }),
    );
  }

  #build(sourceOrigins: readonly (readonly Origin[])[], overrides: ReadonlyMap<string, unknown>, previous: unknown): BuildResult {
    const { sources, validators } = this.#options;
    const ordered: Origin[] = [];
    const byLayer = (layer: 'file' | 'remote'): void => {
      sources.forEach((source, i) => {
        if (source.layer === layer) ordered.push(...(sourceOrigins[i] ?? []));
      });
    };
    byLayer('file');
    ordered.push(...this.#fixedOrigins.env, ...this.#fixedOrigins.argv);
    byLayer('remote');
    if (overrides.size > 0) ordered.push({ name: 'override', layer: 'override', entries: overrides });

    const keyOrigins = new Map<string, Origin>();
    const values = new Map<string, unknown>();
    for (const origin of ordered) {
      for (const [key, value] of origin.entries) {
        values.set(key, value);
        keyOrigins.set(key, origin);
      }
    }
    // A fresh convict instance each time: load() on a live instance merges in place, keeps removed keys and
    // lets readers see half-applied state. set() replaces each leaf whole (object leaves are not merged).
    const instance = convict(this.#index.schema, { env: {}, args: [] });
    const issues: ConfigIssue[] = [];
    for (const [key, value] of values) instance.set(key, value);
    try {
      instance.validate({ allowed: 'strict', output: noop });
    } catch (error) {
      issues.push(...this.#convictIssues(errorMessage(error), keyOrigins));
    }
    if (issues.length > 0) return { ok: false, issues };
    const snapshot = deepFreeze(shareUnchanged(instance.getProperties(), previous));
    for (const [key, validator] of validators) {
      const winner = keyOrigins.get(key);
      const why = verdictOf(validator, walk(snapshot, key.split('.')), snapshot);
      if (why !== undefined) issues.push({ key, origin: winner?.name ?? 'default', message: `'${key}': ${why}` });
      // A value a higher layer hides is checked too, for the day that layer lets go of the key.
      for (const origin of ordered) {
        if (origin === winner || !origin.entries.has(key)) continue;
        const hidden = verdictOf(validator, origin.entries.get(key), snapshot);
        if (hidden !== undefined) issues.push({ key, origin: origin.name, message: `'${key}': ${hidden} (in ${origin.name}, hidden by ${winner?.name ?? 'default'})` });
      }
    }
    return issues.length > 0 ? { ok: false, issues } : { ok: true, snapshot, keyOrigins };
  }

  #convictIssues(message: string, keyOrigins: ReadonlyMap<string, Origin>): ConfigIssue[] {
    return message
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line): ConfigIssue => {
        const match = /^([^\s:]+): (.*)$/s.exec(line);
        const key = match?.[1];
        if (key !== undefined && this.#index.has(key)) {
          return { key, origin: keyOrigins.get(key)?.name ?? 'default', message: `'${key}': ${match?.[2] ?? ''}` };
        }
        // convict's messages about structure name the key inside the sentence.
        const named = /configuration param '([^']+)'/.exec(line)?.[1];
        return { key: named, origin: named === undefined ? undefined : this.#originOf(named, keyOrigins)?.name, message: line };
      });
  }

  /** The origin of `key`, or of the leaf `key` lies under. */
  #originOf(key: string, keyOrigins: ReadonlyMap<string, Origin>): Origin | undefined {
    for (let end = key.length; end > 0; end = key.lastIndexOf('.', end - 1)) {
      const origin = keyOrigins.get(key.slice(0, end));
      if (origin !== undefined) return origin;
    }
    return undefined;
  }

  #toOrigins(source: ConfigSource, content: SourceContent, issues: ConfigIssue[]): Origin[] {
    if ('error' in content) {
      issues.push({ key: undefined, origin: source.name, message: `${source.name}: ${content.error}` });
      return [];
    }
    return content.origins.map((origin) => this.#origin(origin.values, origin.name, source.layer, source.unknownKeys ?? 'reject', issues));
  }

  /**
   * Flattens and checks the values of one origin on their own. A value that is wrong for its key's format is
   * refused even when a higher layer hides it today: otherwise it would surface, and be blamed on another
   * source, the day that layer drops the key.
   */
  #origin(raw: unknown, name: string, layer: ConfigLayer, unknownKeys: 'reject' | 'ignore', issues: ConfigIssue[]): Origin {
    const flat = this.#index.flatten(raw, name, this.#limits, unknownKeys);
    issues.push(...flat.issues);
    if (flat.issues.length === 0 && flat.entries.size > 0) {
      const probe = convict(this.#index.schema, { env: {}, args: [] });
      for (const [key, value] of flat.entries) probe.set(key, value);
      try {
        probe.validate({ allowed: 'strict', output: noop });
      } catch (error) {
        const origin: Origin = { name, layer, entries: flat.entries };
        const byKey = new Map([...flat.entries.keys()].map((key) => [key, origin]));
        // Defaults of other keys may be invalid on their own (a required name): only this origin's keys count.
        issues.push(...this.#convictIssues(errorMessage(error), byKey).filter((issue) => issue.key !== undefined && this.#originOf(issue.key, byKey) !== undefined));
      }
    }
    return { name, layer, entries: flat.entries };
  }

  #envOrigins(issues: ConfigIssue[]): Origin[] {
    const env = this.#options.env;
    const byVariable = new Map<string, Record<string, unknown>>();
    for (const leaf of this.#index.leaves.values()) {
      if (leaf.env === undefined) continue;
      const text = env[leaf.env];
      if (text === undefined || text === '') continue;
      const raw = byVariable.get(leaf.env) ?? {};
      raw[leaf.key] = text;
      byVariable.set(leaf.env, raw);
    }
    return [...byVariable].map(([variable, raw]) => this.#origin(raw, `env:${variable}`, 'env', 'reject', issues));
  }

  #argvOrigins(issues: ConfigIssue[]): Origin[] {
    const args = parseArguments(this.#options.argv);
    const origins: Origin[] = [];
    for (const leaf of this.#index.leaves.values()) {
      if (leaf.arg === undefined) continue;
      const text = args.get(leaf.arg);
      if (text === undefined) continue;
      origins.push(this.#origin({ [leaf.key]: text }, `argv:--${leaf.arg}`, 'argv', 'reject', issues));
    }
    return origins;
  }

  #changes(before: unknown, after: unknown): KeyChange[] {
    const changes: KeyChange[] = [];
    if (before === after) return changes;
    for (const leaf of this.#index.leaves.values()) {
      const oldValue = walk(before, leaf.segments);
      const newValue = walk(after, leaf.segments);
      if (!sameValue(oldValue, newValue)) {
        changes.push(Object.freeze({ key: leaf.key, oldValue: this.#index.mask(leaf.key, oldValue), newValue: this.#index.mask(leaf.key, newValue) }));
      }
    }
    return changes;
  }

  #record(entry: ConfigHistoryEntry): void {
    this.#history.push(Object.freeze(entry));
    if (this.#history.length > this.#options.historyLimit) this.#history.splice(0, this.#history.length - this.#options.historyLimit);
  }

  // Listeners may change the configuration again; their events wait until the current dispatch is done, so
  // every listener sees events in the order the changes happened.
  #dispatch(job: () => void): void {
    this.#dispatchQueue.push(job);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let next = this.#dispatchQueue.shift(); next !== undefined; next = this.#dispatchQueue.shift()) next();
    } finally {
      this.#dispatching = false;
    }
  }

  #emit<E extends keyof DynamicConfigEvents>(event: E, ...args: DynamicConfigEvents[E]): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...a: DynamicConfigEvents[E]) => void)(...args);
      } catch (error) {
        this.#options.logger.error('configuration event listener threw', { event, error: errorMessage(error) });
      }
    }
  }

  #requireState(): ConfigState {
    const state = this.#state;
    if (state === undefined) throw new KaryonError('ERR_INVALID_STATE', 'configuration has not started: call and await start() first');
    return state;
  }
}

/** The reason a validator refuses `value`, or undefined when it accepts it. */
function verdictOf(validator: ConfigValidator, value: unknown, snapshot: unknown): string | undefined {
  let verdict: unknown;
  try {
    verdict = validator(value, snapshot);
  } catch (error) {
    verdict = errorMessage(error);
  }
  if (verdict === true) return undefined;
  return typeof verdict === 'string' && verdict !== '' ? verdict : 'rejected by its validator';
}

function safeHealthy(rollback: RollbackOptions): boolean {
  try {
    return rollback.isHealthy();
  } catch {
    return false;
  }
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `  - ${issue.message}${issue.origin !== undefined && issue.key !== undefined ? ` [${issue.origin}]` : ''}`).join('\n');
}

/** `--name value`, `--name=value`, and a bare `--flag` (= `true`); the last occurrence wins; `--` ends options. */
function parseArguments(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') break;
    if (!token.startsWith('--') || token.length === 2) continue;
    const body = token.slice(2);
    const eq = body.indexOf('=');
    if (eq >= 0) {
      out.set(body.slice(0, eq), body.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next !== undefined && !next.startsWith('--')) {
      out.set(body, next);
      i++;
    } else {
      out.set(body, 'true');
    }
  }
  return out;
}

/**
 * Defines a live configuration on a convict schema: layers, watched files, polled remote sources, validated
 * atomic snapshots, property handles and runtime overrides. Call `start()` before reading it.
 *
 * @throws KaryonError ERR_INVALID_OPTION when an option (or the schema itself) is wrong.
 *
 * @example
 * ```ts
 * const config = defineConfig<Settings>({
 *   schema,
 *   sources: [fileSource({ path: 'config/app' }), remoteSource({ url: 'http://config:8888', format: 'spring-cloud-config', application: 'greeter' })],
 *   env: process.env,
 *   argv: process.argv.slice(2),
 *   environment: process.env.NODE_ENV,
 * });
 * await config.start();
 * const rule = config.property('client.greeter.rule');
 * rule.get();                                  // a field read
 * rule.onChange((next, previous) => balancer.setRule(next));
 * ```
 */
export function defineConfig<T extends object = Record<string, unknown>>(options: DynamicConfigOptions<T>): DynamicConfig<T> {
  return new DynamicConfig<T>(options);
}

/**
 * A {@link DynamicConfig} of any settings type: what the library's functions and options that take a
 * configuration accept, so `createService({ config })` takes the result of any `defineConfig()` as it is.
 * (`DynamicConfig<T>` is invariant in `T`: its methods are typed by the keys of `T`.)
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` is what admits a DynamicConfig of every settings type
export type AnyDynamicConfig = DynamicConfig<any>;
