import type { CommandEvents, CommandState } from './CommandEvents.js';
import type { CommandSettings, CommandSettingsOptions } from './CommandSettings.js';
import type { CommandSnapshot } from './CommandSnapshot.js';

/**
 * A live change of settings: a value sets a command's own override, `null` removes it (the registry's
 * default, then Hystrix's, applies again). Keys left out keep their current value.
 */
export type CommandSettingsUpdate = { readonly [K in keyof CommandSettingsOptions]?: CommandSettingsOptions[K] | null };

/** Options of {@link CommandExecutor.execute}. */
export interface ExecuteOptions<T> {
  /** The caller's signal: aborting it abandons the call (no fallback) and aborts the work's signal. */
  readonly signal?: AbortSignal;
  /** Answers instead when the call fails, times out, is short-circuited or rejected. Receives the error. */
  readonly fallback?: (error: unknown) => T | PromiseLike<T>;
  /**
   * Counts an answer of the work as a failure of the dependency, for the circuit and the metrics, while the
   * call still answers it (no fallback runs, nothing is thrown): e.g. `(res) => res.status >= 500`, without
   * turning responses into errors and back. A predicate that throws counts a success.
   */
  readonly isFailure?: (value: Awaited<T>) => boolean;
}

/** Options of {@link CommandExecutor.run}. */
export interface RunOptions<T> {
  /** Answers instead when the call fails, times out, is short-circuited or rejected. Receives the error. */
  readonly fallback?: (error: unknown) => T | PromiseLike<T>;
  /**
   * Called when the command stops waiting for the work: on timeout (while `interruptOnTimeout` is on) and
   * when the registry closes. Abort the work here with a signal of your own.
   */
  readonly onAbandon?: (reason: Error) => void;
  /**
   * Counts an answer of the work as a failure of the dependency, for the circuit and the metrics, while the
   * call still answers it (no fallback runs, nothing is thrown): e.g. `(res) => res.status >= 500`, without
   * turning responses into errors and back. A predicate that throws counts a success.
   */
  readonly isFailure?: (value: Awaited<T>) => boolean;
}

/** A listener of one of a command's events. */
export type CommandListener<E extends keyof CommandEvents> = (...args: CommandEvents[E]) => void;

/**
 * A named command's controls, shared by every command of that name (as Hystrix shares circuit, metrics and
 * settings per command key), and `execute()` to run any per-call work under its protection. What
 * `registry.get(name)` and `registry.executor(name)` return; every {@link Command} is one too.
 */
export interface CommandExecutor {
  /** The command's name (Hystrix's command key). */
  readonly name: string;
  /** The command's group (Hystrix's group key). */
  readonly group: string;
  /** What the command does with a call now. */
  readonly state: CommandState;
  /** The settings in force: Hystrix's defaults, under the registry's defaults, under the command's own. */
  readonly settings: CommandSettings;
  /** The command's own settings (those set on it, not inherited). */
  readonly overrides: CommandSettingsOptions;
  /**
   * Runs `work` under the command: breaker, bulkhead, timeout and metrics. `work` receives a signal that
   * aborts on timeout (when `interruptOnTimeout`), when `options.signal` aborts, or when the registry closes.
   *
   * @throws CommandError `ERR_BREAKER_OPEN`, `ERR_BULKHEAD_FULL` or `ERR_COMMAND_TIMEOUT` (as a rejection) when
   * the call is refused or too slow and there is no fallback; otherwise the work's own error
   * @example
   * ```ts
   * const users = registry.executor('client:users');
   * const body = await users.execute((signal) => fetch(url, { signal }).then((r) => r.json()), { signal: req.signal });
   * ```
   */
  execute<T>(work: (signal: AbortSignal) => T | PromiseLike<T>, options?: ExecuteOptions<T>): Promise<Awaited<T>>;
  /**
   * Runs `work` under the command like `execute()`, without making an AbortSignal: on Node 20 making one
   * costs several microseconds, ten times the command's own cost. For callers that carry a cancellation
   * mechanism of their own (the service client's per-try signal), hooked up through `options.onAbandon`.
   *
   * @throws CommandError as `execute()` does
   * @example
   * ```ts
   * const trySignal = new TrySignal();
   * await executor.run(() => transport.send(request, trySignal), { onAbandon: (reason) => trySignal.abort(reason) });
   * ```
   */
  run<T>(work: () => T | PromiseLike<T>, options?: RunOptions<T>): Promise<Awaited<T>>;
  /** Forces the circuit open (sets `forceOpen`, clears `forceClosed`): every call is short-circuited. */
  forceOpen(): void;
  /** Forces the circuit closed (sets `forceClosed`, clears `forceOpen`): no call is short-circuited. */
  forceClosed(): void;
  /** Removes forced states, closes the circuit and clears the window's health counts. */
  reset(): void;
  /**
   * Changes settings live; `null` removes an override. Everything is checked before anything changes.
   * @throws KaryonError `ERR_INVALID_OPTION` naming the bad setting
   */
  setOptions(update: CommandSettingsUpdate): void;
  /** Everything known of the command now (what `GET /breakers` shows); percentiles are computed here. */
  snapshot(): CommandSnapshot;
  /** Adds a listener. */
  on<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this;
  /** Adds a listener called at most once. */
  once<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this;
  /** Removes a listener. */
  off<E extends keyof CommandEvents>(event: E, listener: CommandListener<E>): this;
}

/**
 * A function protected as a Hystrix command: call it as the function it wraps (it always returns a promise).
 * It also carries the command's controls ({@link CommandExecutor}).
 *
 * @example
 * ```ts
 * const getUser = registry.command('getUser', (id: string) => users.get(id), { timeoutMs: 300, fallback: () => guest });
 * const user = await getUser('42');
 * getUser.state; // 'CLOSED'
 * ```
 */
export interface Command<A extends readonly unknown[] = readonly unknown[], R = unknown> extends CommandExecutor {
  /** Calls the wrapped function through the breaker, bulkhead and timeout. */
  (...args: A): Promise<R>;
}

/**
 * A fallback: a function called with the call's arguments followed by the error, or another command (a
 * {@link Command} fits this type), which is called with the same arguments only, its own breaker and
 * metrics applying.
 */
export type CommandFallback<A extends readonly unknown[], R> = (...args: [...A, unknown]) => R | PromiseLike<R>;

/** Options of a command: its settings, plus what is not a setting (group, fallback, bad-request test). */
export interface CommandOptions<A extends readonly unknown[] = readonly unknown[], R = unknown> extends CommandSettingsOptions {
  /**
   * The group (Hystrix's group key): commands of one dependency, shown together on the dashboard.
   * @default the registry's `group`
   */
  readonly group?: string;
  /** What answers when a call fails, times out, is short-circuited or rejected. */
  readonly fallback?: CommandFallback<A, R>;
  /**
   * Tells errors that are the caller's fault (Hystrix's `HystrixBadRequestException`, an HTTP 4xx): they
   * are counted as `badRequest`, not failures, never open the circuit and skip the fallback.
   * @default none: every error is a failure
   */
  readonly isBadRequest?: (error: unknown) => boolean;
}
