import { EventEmitter } from 'eventemitter3';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import type { Command, CommandExecutor, CommandFallback, CommandOptions, CommandSettingsUpdate } from './Command.js';
import { CommandCore } from './CommandCore.js';
import type { AnyFunction } from './CommandCore.js';
import type { CommandStateChange } from './CommandEvents.js';
import { CommandHandle, applyUpdate } from './CommandHandle.js';
import type { CommandSettings, CommandSettingsOptions } from './CommandSettings.js';
import { checkCommandSettings, resolveCommandSettings } from './CommandSettings.js';
import type { CommandSnapshot } from './CommandSnapshot.js';
import { AdoptedBreaker } from './AdoptedBreaker.js';
import type { BreakerControls, OpossumCircuitBreaker } from './AdoptedBreaker.js';
import { createCommand, isCommand } from './createCommand.js';

/** Options of a {@link CommandRegistry}. */
export interface CommandRegistryOptions {
  /**
   * Settings every command of this registry starts from, over Hystrix's defaults (Hystrix's
   * `hystrix.command.default.*`). Change them live with `setDefaults()`.
   * @default none: Hystrix's defaults
   */
  readonly defaults?: CommandSettingsOptions;
  /**
   * The group of commands made without one.
   * @default 'default'
   */
  readonly group?: string;
  /**
   * Time source for timeouts, windows and sleep windows.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where state changes are logged.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** {@link CommandRegistryOptions} checked, with defaults filled. */
export interface ResolvedCommandRegistryOptions {
  /** Settings every command starts from. */
  readonly defaults: CommandSettingsOptions;
  /** The group of commands made without one. */
  readonly group: string;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

/**
 * Checks the options of a {@link CommandRegistry} and fills their defaults.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the bad option
 */
export function resolveCommandRegistryOptions(options: CommandRegistryOptions = {}): ResolvedCommandRegistryOptions {
  if (typeof options !== 'object' || options === null) {
    throw new KaryonError('ERR_INVALID_OPTION', `command registry options must be an object (got ${String(options)})`);
  }
  const defaults = checkCommandSettings(options.defaults, 'the command defaults');
  resolveCommandSettings('the command defaults', defaults);
  return Object.freeze({
    defaults,
    group: checkName(options.group ?? 'default', 'group'),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 200 || /\p{Cc}/u.test(value)) {
    throw new KaryonError(
      'ERR_INVALID_OPTION',
      `${what} must be a non-empty string of at most 200 characters without control characters (got ${typeof value === 'string' ? JSON.stringify(value) : typeof value})`,
    );
  }
  return value;
}

/** The events of a {@link CommandRegistry}. */
export interface CommandRegistryEvents {
  /** A command name was used for the first time. */
  command: [executor: CommandExecutor];
  /** A command's state changed (the same change its own `stateChange` event carries). */
  stateChange: [change: CommandStateChange];
}

const identityKeys = new Set(['group', 'fallback', 'isBadRequest']);

/**
 * The commands of one service, by name. Commands of the same name share one circuit, bulkhead, metrics and
 * settings, as Hystrix shares them per command key; each keeps its own function and fallback.
 *
 * @example
 * ```ts
 * const commands = new CommandRegistry({ group: 'greeter' });
 * const getUser = commands.command('getUser', (id: string) => users.get(id), { timeoutMs: 300 });
 * await getUser('42');
 * breakerAdminRoutes(admin, commands); // GET /breakers, PUT /breakers/{name}, GET /hystrix.stream
 * ```
 */
export class CommandRegistry extends EventEmitter<CommandRegistryEvents> {
  readonly #options: ResolvedCommandRegistryOptions;
  readonly #handles = new Map<string, CommandHandle>();
  readonly #adopted = new Map<string, AdoptedBreaker>();
  #defaults: CommandSettingsOptions;
  #closed = false;

  /** @throws KaryonError `ERR_INVALID_OPTION` when an option is invalid */
  constructor(options: CommandRegistryOptions = {}) {
    super();
    this.#options = resolveCommandRegistryOptions(options);
    this.#defaults = this.#options.defaults;
  }

  /** The registry-wide defaults in force (over Hystrix's). */
  get defaults(): CommandSettingsOptions {
    return this.#defaults;
  }

  /** Number of command names. */
  get size(): number {
    return this.#handles.size;
  }

  /**
   * Wraps `fn` as a command named `name`. A second command of the same name shares the first's circuit,
   * bulkhead, metrics and settings; settings given again must agree with those set before (change them with
   * `setOptions()`).
   *
   * @throws KaryonError `ERR_INVALID_OPTION` when a setting is invalid or disagrees with the command's;
   * `ERR_INVALID_STATE` once the registry is closed
   */
  command<A extends unknown[], R>(
    name: string,
    fn: (...args: A) => R,
    options: CommandOptions<A, Awaited<R>> = {},
  ): Command<A, Awaited<R>> {
    checkFunction(fn, `command '${String(name)}'`);
    const handle = this.#ensure(name, options);
    return createCommand<A, Awaited<R>>(handle, fn as unknown as AnyFunction, this.#fallback(name, options.fallback), false);
  }

  /**
   * Like {@link CommandRegistry.command} for a function whose first parameter is an AbortSignal: each call
   * gets a fresh signal, aborted when the call times out (with `interruptOnTimeout`) or the registry closes.
   * The command is called without the signal.
   *
   * @example
   * ```ts
   * const search = commands.abortableCommand('search', (signal, q: string) => fetch(`${base}?q=${q}`, { signal }));
   * await search('otters');
   * ```
   */
  abortableCommand<A extends unknown[], R>(
    name: string,
    fn: (signal: AbortSignal, ...args: A) => R,
    options: CommandOptions<A, Awaited<R>> = {},
  ): Command<A, Awaited<R>> {
    checkFunction(fn, `command '${String(name)}'`);
    const handle = this.#ensure(name, options);
    return createCommand<A, Awaited<R>>(handle, fn as unknown as AnyFunction, this.#fallback(name, options.fallback), true);
  }

  /**
   * The executor of the command `name`, made with `options` when the name is new: for work that changes
   * from call to call, run with `executor.execute(work)`. The service client runs each request through
   * `registry.executor('client:' + vip)`.
   *
   * @throws KaryonError `ERR_INVALID_OPTION` when a setting is invalid or disagrees with the command's
   */
  executor(name: string, options: Omit<CommandOptions, 'fallback'> = {}): CommandExecutor {
    if ('fallback' in options && options.fallback !== undefined) {
      throw new KaryonError('ERR_INVALID_OPTION', `executor '${name}' takes no fallback: pass one to execute() instead`);
    }
    return this.#ensure(name, options);
  }

  /** The command named `name`, if there is one. */
  get(name: string): CommandExecutor | undefined {
    return this.#handles.get(name);
  }

  /** True when a command named `name` exists. */
  has(name: string): boolean {
    return this.#handles.has(name);
  }

  /** Every command, in order of creation. */
  list(): CommandExecutor[] {
    return [...this.#handles.values()];
  }

  /** A snapshot of every command, in order of creation, then of every adopted breaker. */
  snapshots(): CommandSnapshot[] {
    const snapshots = this.list().map((command) => command.snapshot());
    for (const breaker of this.#adopted.values()) snapshots.push(breaker.snapshot());
    return snapshots;
  }

  /**
   * Adopts an opossum 9 `CircuitBreaker`: it shows in `snapshots()` (so in `GET /breakers`, `hystrix.stream`,
   * the admin UI and the breaker metrics), its state changes are emitted as `stateChange`, and
   * `breaker(name)` forces it open or closed, or resets it, through opossum's own `open()` and `close()`.
   * Calls still go through `breaker.fire()`; nothing of opossum is imported by this package.
   *
   * @throws KaryonError `ERR_INVALID_OPTION` when `breaker` is not an opossum breaker, is shut down, or its
   * name is taken by a command or another adopted breaker; `ERR_INVALID_STATE` once the registry is closed
   * @example
   * ```ts
   * import CircuitBreaker from 'opossum';
   * const breaker = new CircuitBreaker(callPricing, { name: 'pricing', timeout: 300 });
   * commands.adopt(breaker);
   * await breaker.fire(sku); // as before
   * ```
   */
  adopt(breaker: OpossumCircuitBreaker): AdoptedBreaker {
    if (this.#closed) throw new KaryonError('ERR_INVALID_STATE', 'the command registry is closed; cannot adopt a breaker');
    const adopted = new AdoptedBreaker(breaker, this.#options.clock, (change) => this.emit('stateChange', change));
    const name = adopted.name;
    try {
      checkName(name, 'the name of an adopted breaker');
      if (this.#handles.has(name) || this.#adopted.has(name)) {
        throw new KaryonError('ERR_INVALID_OPTION', `a breaker named '${name}' already exists; give the opossum breaker another name (its 'name' option)`);
      }
    } catch (error) {
      adopted.detach();
      throw error;
    }
    this.#adopted.set(name, adopted);
    return adopted;
  }

  /** The adopted breakers, in order of adoption. */
  adopted(): AdoptedBreaker[] {
    return [...this.#adopted.values()];
  }

  /** The breaker named `name`, command or adopted, with the controls the admin API uses. */
  breaker(name: string): BreakerControls | undefined {
    return this.#handles.get(name) ?? this.#adopted.get(name);
  }

  /**
   * Changes the registry-wide defaults live (`null` removes one); every command without its own value
   * follows. Checked against every command before anything changes.
   * @throws KaryonError `ERR_INVALID_OPTION` naming the bad setting
   */
  setDefaults(update: CommandSettingsUpdate): void {
    const defaults = applyUpdate(this.#defaults, update, 'the command defaults');
    resolveCommandSettings('the command defaults', defaults);
    // Every command's new settings are resolved and prepared before any is applied: one refusal changes nothing.
    const commits = [...this.#handles.values()].map((handle) =>
      handle.prepareSettings(this.#resolveWith(defaults, handle.name, handle.overrides), 'defaults changed'),
    );
    this.#defaults = defaults;
    // A state-change listener that throws must not leave the later commands on the old defaults.
    let failure: { error: unknown } | undefined;
    for (const commit of commits) {
      try {
        commit();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }

  /**
   * Stops every command: new calls reject with `ERR_INVALID_STATE`; calls waiting on a timeout or on a
   * bulkhead are rejected and their signals aborted. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      for (const handle of this.#handles.values()) handle.core.close();
      for (const adopted of this.#adopted.values()) adopted.detach();
      this.removeAllListeners();
    }
    return Promise.resolve();
  }

  /** Same as {@link CommandRegistry.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #resolveWith(defaults: CommandSettingsOptions, name: string, overrides: CommandSettingsOptions): CommandSettings {
    return resolveCommandSettings(`command '${name}'`, defaults, overrides);
  }

  #fallback<A extends unknown[], R>(name: string, fallback: CommandFallback<A, R> | undefined): CommandFallback<A, R> | undefined {
    if (fallback !== undefined && typeof fallback !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `option 'fallback' of command '${name}' must be a function or a command (got ${typeof fallback})`);
    }
    if (isCommand(fallback) && fallback.name === name) {
      throw new KaryonError('ERR_INVALID_OPTION', `command '${name}' cannot be its own fallback`);
    }
    return fallback;
  }

  #ensure(name: string, options: { readonly group?: string; readonly isBadRequest?: (error: unknown) => boolean }): CommandHandle {
    if (this.#closed) throw new KaryonError('ERR_INVALID_STATE', `the command registry is closed; cannot make command '${String(name)}'`);
    checkName(name, 'a command name');
    if (this.#adopted.has(name)) throw new KaryonError('ERR_INVALID_OPTION', `'${name}' is the name of an adopted opossum breaker; give the command another name`);
    if (typeof options !== 'object' || options === null) {
      throw new KaryonError('ERR_INVALID_OPTION', `options of command '${name}' must be an object (got ${String(options)})`);
    }
    const where = `command '${name}'`;
    const settingsGiven: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options)) if (!identityKeys.has(key)) settingsGiven[key] = value;
    const overrides = checkCommandSettings(settingsGiven, where);
    const group = options.group === undefined ? undefined : checkName(options.group, `option 'group' of ${where}`);
    const isBadRequest = options.isBadRequest;
    if (isBadRequest !== undefined && typeof isBadRequest !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `option 'isBadRequest' of ${where} must be a function (got ${typeof isBadRequest})`);
    }

    const existing = this.#handles.get(name);
    if (existing !== undefined) {
      if (group !== undefined && group !== existing.group) {
        throw new KaryonError('ERR_INVALID_OPTION', `${where} already exists in group '${existing.group}' (got group '${group}')`);
      }
      if (isBadRequest !== undefined && isBadRequest !== existing.core.isBadRequest) {
        throw new KaryonError('ERR_INVALID_OPTION', `${where} already exists with another isBadRequest test`);
      }
      for (const [key, value] of Object.entries(overrides)) {
        const current = (existing.initialOverrides as Record<string, unknown>)[key];
        if (current !== value) {
          throw new KaryonError(
            'ERR_INVALID_OPTION',
            `${where} was made with ${key} = ${String(current)} (got ${String(value)}); change a command's settings with setOptions()`,
          );
        }
      }
      return existing;
    }

    const settings = this.#resolveWith(this.#defaults, name, overrides);
    const core = new CommandCore({
      name,
      group: group ?? this.#options.group,
      settings,
      isBadRequest,
      clock: this.#options.clock,
      logger: this.#options.logger,
      onStateChange: (change) => this.emit('stateChange', change),
    });
    const handle = new CommandHandle(core, overrides, (n, o) => this.#resolveWith(this.#defaults, n, o));
    this.#handles.set(name, handle);
    this.emit('command', handle);
    return handle;
  }
}

function checkFunction(fn: unknown, where: string): void {
  if (typeof fn !== 'function') throw new KaryonError('ERR_INVALID_OPTION', `${where} needs a function to run (got ${typeof fn})`);
}
