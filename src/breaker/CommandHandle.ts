import type { CommandExecutor, CommandListener, CommandSettingsUpdate, ExecuteOptions, RunOptions } from './Command.js';
import { Phase } from './CommandCore.js';
import type { CommandCore } from './CommandCore.js';
import type { CommandEvents, CommandState } from './CommandEvents.js';
import type { CommandSettings, CommandSettingsOptions } from './CommandSettings.js';
import { checkCommandSettings, commandSettingNames } from './CommandSettings.js';
import type { CommandSnapshot } from './CommandSnapshot.js';

/** Resolves a command's own overrides against the registry's defaults (throws when invalid). */
export type SettingsResolver = (name: string, overrides: CommandSettingsOptions) => CommandSettings;

/** Applies an update to a set of overrides: values replace, `null` removes. Checks every key and value. */
export function applyUpdate(current: CommandSettingsOptions, update: CommandSettingsUpdate, where: string): CommandSettingsOptions {
  if (typeof update !== 'object' || update === null || Array.isArray(update)) return checkCommandSettings(update, where);
  const next: Record<string, unknown> = { ...current };
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(update)) {
    if (value !== null) {
      set[key] = value;
    } else if ((commandSettingNames as readonly string[]).includes(key)) {
      delete next[key];
    } else {
      checkCommandSettings({ [key]: null }, where); // throws, naming the unknown setting
    }
  }
  Object.assign(next, checkCommandSettings(set, where));
  return Object.freeze(next);
}

/**
 * The controls of one named command: its core plus its own settings overrides. One per name in a registry;
 * the callables of that name forward to it.
 */
export class CommandHandle implements CommandExecutor {
  readonly #core: CommandCore;
  readonly #resolve: SettingsResolver;
  #overrides: CommandSettingsOptions;
  /** The overrides the command was made with: a later command of the same name must agree with these. */
  readonly initialOverrides: CommandSettingsOptions;

  constructor(core: CommandCore, overrides: CommandSettingsOptions, resolve: SettingsResolver) {
    this.#core = core;
    this.#overrides = overrides;
    this.initialOverrides = overrides;
    this.#resolve = resolve;
  }

  /** @internal The shared core. */
  get core(): CommandCore {
    return this.#core;
  }

  get name(): string {
    return this.#core.name;
  }

  get group(): string {
    return this.#core.group;
  }

  get state(): CommandState {
    return this.#core.state;
  }

  get settings(): CommandSettings {
    return this.#core.settings;
  }

  get overrides(): CommandSettingsOptions {
    return this.#overrides;
  }

  execute<T>(work: (signal: AbortSignal) => T | PromiseLike<T>, options: ExecuteOptions<T> = {}): Promise<Awaited<T>> {
    if (typeof work !== 'function') {
      return Promise.reject(new TypeError(`execute() of command '${this.name}' needs a function (got ${typeof work})`));
    }
    const core = this.#core;
    const exec = core.enter(work, undefined, [], true, options.fallback, options.signal, undefined);
    if (options.isFailure !== undefined) exec.isFailure = options.isFailure as (value: unknown) => boolean;
    // The work is called from here rather than from the core, to keep a thrown error's stack short.
    if (exec.phase === Phase.RUNNING) {
      let result: unknown;
      try {
        result = work((exec.controller as AbortController).signal);
      } catch (error) {
        core.threw(exec, error);
        return exec.promise as Promise<Awaited<T>>;
      }
      core.settle(exec, result);
    }
    return exec.promise as Promise<Awaited<T>>;
  }

  run<T>(work: () => T | PromiseLike<T>, options: RunOptions<T> = {}): Promise<Awaited<T>> {
    if (typeof work !== 'function') {
      return Promise.reject(new TypeError(`run() of command '${this.name}' needs a function (got ${typeof work})`));
    }
    const core = this.#core;
    const exec = core.enter(work, undefined, [], false, options.fallback, undefined, options.onAbandon);
    if (options.isFailure !== undefined) exec.isFailure = options.isFailure as (value: unknown) => boolean;
    if (exec.phase === Phase.RUNNING) {
      let result: unknown;
      try {
        result = work();
      } catch (error) {
        core.threw(exec, error);
        return exec.promise as Promise<Awaited<T>>;
      }
      core.settle(exec, result);
    }
    return exec.promise as Promise<Awaited<T>>;
  }

  forceOpen(): void {
    this.#update({ forceOpen: true, forceClosed: false }, 'forced open');
  }

  forceClosed(): void {
    this.#update({ forceOpen: false, forceClosed: true }, 'forced closed');
  }

  reset(): void {
    this.#update({ forceOpen: null, forceClosed: null }, 'reset');
    this.#core.resetCircuit('reset');
  }

  setOptions(update: CommandSettingsUpdate): void {
    this.#update(update, 'settings changed');
  }

  /**
   * @internal Prepares settings resolved from other registry defaults (see `CommandCore.prepareSettings`):
   * nothing changes until the returned function is called. The registry prepares every command before it
   * changes any.
   */
  prepareSettings(settings: CommandSettings, reason: string): () => void {
    return this.#core.prepareSettings(settings, reason);
  }

  snapshot(): CommandSnapshot {
    return this.#core.snapshot();
  }

  on<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this {
    this.#core.on(event, listener);
    return this;
  }

  once<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this {
    this.#core.once(event, listener);
    return this;
  }

  off<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this {
    this.#core.off(event, listener);
    return this;
  }

  /** Checks and prepares the whole change before any of it is kept, so a refused change changes nothing. */
  #update(update: CommandSettingsUpdate, reason: string): void {
    const overrides = applyUpdate(this.#overrides, update, `command '${this.name}'`);
    const commit = this.#core.prepareSettings(this.#resolve(this.name, overrides), reason);
    this.#overrides = overrides;
    commit();
  }
}
