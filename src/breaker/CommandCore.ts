// Over 500 lines because it is Hystrix's command semantics in one place: the circuit, the bulkhead, the
// timeout, the fallback and the rolling counts decide each call together, and each event is counted exactly
// as Hystrix counts it (see the class comment); the rolling metrics, settings and bulkhead have their own files.
import { EventEmitter } from 'eventemitter3';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { abortReason, errorMessage } from '../internal/async.js';
import { Bulkhead } from './Bulkhead.js';
import type { BulkheadWaiter } from './Bulkhead.js';
import { CommandError } from './CommandError.js';
import { CommandState } from './CommandEvents.js';
import type { CommandEvents, CommandStateChange } from './CommandEvents.js';
import { CommandEventType, CommandMetrics } from './CommandMetrics.js';
import type { CommandSettings } from './CommandSettings.js';
import type { CommandSnapshot } from './CommandSnapshot.js';
import { DeadlineQueue } from '../internal/DeadlineQueue.js';
import type { Deadline } from '../internal/DeadlineQueue.js';

/** A function run by a command; `this` and the arguments are the caller's. */
export type AnyFunction = (this: unknown, ...args: never[]) => unknown;

/** A fallback as the core calls it: with the call's arguments then the error, or another command. */
export type CoreFallback = ((...args: never[]) => unknown) | undefined;

/** The circuit's own states; forced states and `DISABLED` are derived from the settings. */
type Circuit = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** Where a call is: waiting for the bulkhead, running, running its fallback, or settled. */
export const Phase = {
  QUEUED: 0,
  RUNNING: 1,
  FALLING_BACK: 2,
  DONE: 3,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** Marks the callables made by `createCommand`, so a command given as a fallback is called with the arguments only. */
export const commandMarker: unique symbol = Symbol('karyon.command');

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value instanceof Promise ||
    (((typeof value === 'object' && value !== null) || typeof value === 'function') &&
      typeof (value as { then?: unknown }).then === 'function')
  );
}

/**
 * @internal One call through a command, from the call until it settles. It is its own deadline-queue entry and
 * bulkhead waiter, so a call allocates this object, its promise and two callbacks, nothing more.
 */
export class Execution implements Deadline, BulkheadWaiter {
  deadline = 0;
  prevDeadline: Deadline | undefined = undefined;
  nextDeadline: Deadline | undefined = undefined;
  queued = false;

  phase: Phase = Phase.QUEUED;
  trial = false;
  startedAt = 0;
  executeStartedAt = -1;
  controller: AbortController | undefined = undefined;
  /** Counts an answer as a failure while still answering it (`RunOptions.isFailure`). */
  isFailure: ((value: unknown) => boolean) | undefined = undefined;
  promise!: Promise<unknown>;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  onParentAbort: (() => void) | undefined = undefined;

  readonly core: CommandCore;
  readonly fn: AnyFunction;
  readonly thisArg: unknown;
  readonly args: readonly unknown[];
  readonly withSignal: boolean;
  readonly fallback: CoreFallback;
  readonly parent: AbortSignal | undefined;
  readonly onAbandon: ((reason: Error) => void) | undefined;

  constructor(
    core: CommandCore,
    fn: AnyFunction,
    thisArg: unknown,
    args: readonly unknown[],
    withSignal: boolean,
    fallback: CoreFallback,
    parent: AbortSignal | undefined,
    onAbandon: ((reason: Error) => void) | undefined,
  ) {
    this.core = core;
    this.fn = fn;
    this.thisArg = thisArg;
    this.args = args;
    this.withSignal = withSignal;
    this.fallback = fallback;
    this.parent = parent;
    this.onAbandon = onAbandon;
  }

  expire(now: number): void {
    this.core.onTimeout(this, now);
  }

  admit(): void {
    this.core.onAdmitted(this);
  }
}

/** What a core is made with. */
export interface CommandCoreInit {
  /** The command's name. */
  readonly name: string;
  /** The command's group. */
  readonly group: string;
  /** The settings in force at creation. */
  readonly settings: CommandSettings;
  /** Errors that are the caller's fault: not counted as failures, no fallback. */
  readonly isBadRequest: ((error: unknown) => boolean) | undefined;
  /** Time source. */
  readonly clock: Clock;
  /** Where state changes are logged. */
  readonly logger: Logger;
  /** Called directly on every state change (the registry's own bookkeeping, not a public listener). */
  readonly onStateChange: (change: CommandStateChange) => void;
}

/**
 * Everything that commands of one name share, as Hystrix shares them per command key: the circuit, the
 * bulkhead, the rolling metrics, the settings and the events. The callables made by `createCommand` and
 * the registry's executors are thin faces over one core.
 *
 * Hystrix's semantics, kept exactly:
 * - the circuit opens when the window holds at least `requestVolumeThreshold` requests and the error
 *   percentage (integer, rounded down) is at or above `errorThresholdPercentage`; the check runs after every
 *   counted request rather than on Hystrix's 500 ms health snapshot, so it opens sooner;
 * - short-circuited calls are counted (`shortCircuited`) but are neither requests nor errors;
 * - a timeout is one event, `timeout`, an error once (opossum counts it as a failure as well);
 * - bulkhead rejections are `semaphoreRejected`, and requests and errors while `rejectionsCountAsErrors`;
 * - after `sleepWindowMs` exactly one trial call goes through (half-open); success closes the circuit and
 *   clears the window's health counts, failure or timeout re-opens it for another sleep window;
 * - fallbacks: `fallbackSuccess`, `fallbackFailure`, `fallbackRejection` (fallback semaphore full) and
 *   `fallbackMissing`, and `exceptionsThrown` for every failed call that ends in an error.
 */
export class CommandCore extends EventEmitter<CommandEvents> {
  /** The command's name. */
  readonly name: string;
  /** The command's group. */
  readonly group: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #isBadRequest: ((error: unknown) => boolean) | undefined;
  readonly #onStateChange: (change: CommandStateChange) => void;
  #settings: CommandSettings;
  readonly #metrics: CommandMetrics;
  readonly #bulkhead = new Bulkhead();
  readonly #deadlines: DeadlineQueue;
  #circuit: Circuit = 'CLOSED';
  #openedAt: number | undefined;
  #trial: Execution | undefined;
  #fallbacksRunning = 0;
  #closed = false;

  constructor(init: CommandCoreInit) {
    super();
    this.name = init.name;
    this.group = init.group;
    this.#settings = init.settings;
    this.#isBadRequest = init.isBadRequest;
    this.#clock = init.clock;
    this.#logger = init.logger;
    this.#onStateChange = init.onStateChange;
    const s = init.settings;
    const now = init.clock.now();
    this.#metrics = new CommandMetrics(s.rollingWindowMs, s.rollingBuckets, s.percentileWindowMs, s.percentileBuckets, now);
    this.#deadlines = new DeadlineQueue(init.clock);
  }

  /** The settings in force. */
  get settings(): CommandSettings {
    return this.#settings;
  }

  /** The bad-request predicate given at creation. */
  get isBadRequest(): ((error: unknown) => boolean) | undefined {
    return this.#isBadRequest;
  }

  /** What the command does with a call now. */
  get state(): CommandState {
    const s = this.#settings;
    if (s.forceOpen) return CommandState.FORCED_OPEN;
    if (s.forceClosed) return CommandState.FORCED_CLOSED;
    if (!s.breakerEnabled) return CommandState.DISABLED;
    return this.#circuit;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Prepares new settings (already resolved and checked): what they need (windows of a new shape) is made
   * now, so a failure happens here with nothing changed. The returned function puts them in force (queued
   * calls a larger bulkhead has room for are admitted) and emits the state changes they cause.
   */
  prepareSettings(settings: CommandSettings, reason: string): () => void {
    const now = this.#clock.now();
    const reshape = this.#metrics.prepareReshape(settings.rollingWindowMs, settings.rollingBuckets, settings.percentileWindowMs, settings.percentileBuckets, now);
    return () => {
      const before = this.state;
      this.#settings = settings;
      reshape();
      this.#bulkhead.admit(settings.maxConcurrent);
      this.#changed(before, reason, this.#clock.now());
    };
  }

  /** Closes the circuit and clears the window's health counts (forced settings are the registry's business). */
  resetCircuit(reason: string): void {
    const before = this.state;
    this.#circuit = 'CLOSED';
    this.#openedAt = undefined;
    this.#trial = undefined;
    this.#metrics.resetHealth();
    this.#changed(before, reason, this.#clock.now());
  }

  /**
   * Starts one call and returns its execution, whose `promise` the caller hands out. When the call may run
   * now, `exec.phase` is {@link Phase.RUNNING} and the caller invokes the work itself, then reports with
   * `settle()` or `threw()`: invoking from the caller's own frame keeps the stack a thrown error captures
   * as short as a bare call's (each extra frame costs about 80 ns per error on Node 20).
   * `withSignal` makes a fresh AbortController for the call (aborted on timeout, on `parent` aborting and on
   * close); without it none is made, which keeps plain calls cheap.
   */
  enter(
    fn: AnyFunction,
    thisArg: unknown,
    args: readonly unknown[],
    withSignal: boolean,
    fallback: CoreFallback,
    parent: AbortSignal | undefined,
    onAbandon: ((reason: Error) => void) | undefined,
  ): Execution {
    const exec = new Execution(this, fn, thisArg, args, withSignal, fallback, parent, onAbandon);
    exec.promise = new Promise((resolve, reject) => {
      exec.resolve = resolve;
      exec.reject = reject;
    });
    const now = this.#clock.now();
    exec.startedAt = now;
    if (this.#closed) {
      exec.phase = Phase.DONE;
      exec.reject(new KaryonError('ERR_INVALID_STATE', `command '${this.name}' is closed`));
      return exec;
    }
    if (parent !== undefined) {
      if (parent.aborted) {
        exec.phase = Phase.DONE;
        this.#metrics.count(CommandEventType.CANCELLED, now);
        exec.reject(abortReason(parent));
        return exec;
      }
      exec.onParentAbort = () => this.#cancel(exec, abortReason(parent), this.#clock.now());
      parent.addEventListener('abort', exec.onParentAbort, { once: true });
    }
    if (!this.#allow(exec, now)) {
      this.#shortCircuit(exec, now);
      return exec;
    }
    const s = this.#settings;
    if (s.timeoutMs > 0) {
      exec.deadline = now + s.timeoutMs;
      this.#deadlines.add(exec);
    }
    if (this.#bulkhead.tryAcquire(s.maxConcurrent)) {
      this.#admit(exec, now);
    } else if (!this.#bulkhead.enqueue(exec, s.maxQueued)) {
      this.#deadlines.remove(exec);
      this.#rejectByBulkhead(exec, now);
    }
    return exec;
  }

  #shortCircuit(exec: Execution, now: number): void {
    const error = new CommandError(
      'ERR_BREAKER_OPEN',
      `command '${this.name}' short-circuited: its circuit is ${this.state === CommandState.FORCED_OPEN ? 'forced open' : 'open'}`,
      this.name,
      this.group,
    );
    this.#metrics.count(CommandEventType.SHORT_CIRCUITED, now);
    if (this.listenerCount('reject') > 0) {
      this.emit('reject', { command: this.name, group: this.group, reason: 'shortCircuited', error, at: now });
    }
    this.#fallBack(exec, error, now);
  }

  /** The breaker's verdict for a new call; lets exactly one trial through once the sleep window has passed. */
  #allow(exec: Execution, now: number): boolean {
    const s = this.#settings;
    if (s.forceOpen) return false;
    if (s.forceClosed || !s.breakerEnabled) return true;
    switch (this.#circuit) {
      case 'CLOSED':
        return true;
      case 'HALF_OPEN':
        return false;
      case 'OPEN':
        if (now - (this.#openedAt ?? now) < s.sleepWindowMs) return false;
        exec.trial = true;
        this.#trial = exec;
        this.#transition('HALF_OPEN', 'sleep window passed', now);
        return true;
    }
  }

  /** @internal Called by the bulkhead when a queued call gets its permit. */
  onAdmitted(exec: Execution): void {
    this.#admit(exec, this.#clock.now());
    this.#invoke(exec);
  }

  /** The call holds a permit: it is running from now on (the work is invoked right after). */
  #admit(exec: Execution, now: number): void {
    exec.phase = Phase.RUNNING;
    exec.executeStartedAt = now;
    this.#metrics.started(this.#bulkhead.running, now);
    if (exec.withSignal) exec.controller = new AbortController();
  }

  #invoke(exec: Execution): void {
    let result: unknown;
    try {
      result =
        exec.controller === undefined
          ? exec.fn.apply(exec.thisArg, exec.args as never[])
          : exec.fn.call(exec.thisArg, ...([exec.controller.signal, ...exec.args] as never[]));
    } catch (error) {
      this.#failed(exec, error);
      return;
    }
    this.settle(exec, result);
  }

  /** @internal Reports what the invoked work returned (a value or a promise). */
  settle(exec: Execution, result: unknown): void {
    if (isThenable(result)) {
      result.then(
        (value) => this.#succeeded(exec, value),
        (error: unknown) => this.#failed(exec, error),
      );
    } else {
      this.#succeeded(exec, result);
    }
  }

  /** @internal Reports that the invoked work threw synchronously. */
  threw(exec: Execution, error: unknown): void {
    this.#failed(exec, error);
  }

  /** Ends the running phase: the deadline and the permit are given back. False when the call already ended. */
  #finishRun(exec: Execution): boolean {
    if (exec.phase !== Phase.RUNNING) return false;
    exec.phase = Phase.DONE;
    this.#deadlines.remove(exec);
    this.#bulkhead.release(this.#settings.maxConcurrent);
    return true;
  }

  #succeeded(exec: Execution, value: unknown): void {
    if (!this.#finishRun(exec)) return;
    const now = this.#clock.now();
    const m = this.#metrics;
    // An answer the caller counts as a failure (a 5xx response) is one for the circuit and the metrics, and is
    // still the call's answer: no fallback, nothing thrown.
    const failed = exec.isFailure !== undefined && this.#answerFailed(exec.isFailure, value);
    m.countRequest(failed ? CommandEventType.FAILURE : CommandEventType.SUCCESS, failed, now);
    m.latency(now - exec.executeStartedAt, now - exec.startedAt, now);
    if (exec.trial) this.#endTrial(exec, !failed, now);
    else this.#checkTrip(now);
    this.#detach(exec);
    exec.resolve(value);
  }

  #answerFailed(isFailure: (value: unknown) => boolean, value: unknown): boolean {
    try {
      return isFailure(value) === true;
    } catch (predicateError) {
      this.#logger.warn(`isFailure of a call of command '${this.name}' threw; counting a success`, { error: errorMessage(predicateError) });
      return false;
    }
  }

  #failed(exec: Execution, error: unknown): void {
    if (!this.#finishRun(exec)) return;
    const now = this.#clock.now();
    const m = this.#metrics;
    if (this.#isBadRequest !== undefined && this.#badRequest(error)) {
      // The caller's fault, not the dependency's: no failure, no fallback, and the dependency did answer.
      m.count(CommandEventType.BAD_REQUEST, now);
      m.latency(now - exec.executeStartedAt, now - exec.startedAt, now);
      if (exec.trial) this.#endTrial(exec, true, now);
      this.#detach(exec);
      exec.reject(error);
      return;
    }
    m.countRequest(CommandEventType.FAILURE, true, now);
    m.latency(now - exec.executeStartedAt, -1, now);
    exec.phase = Phase.FALLING_BACK;
    if (exec.trial) this.#endTrial(exec, false, now);
    else this.#checkTrip(now);
    this.#fallBack(exec, error, now);
  }

  #badRequest(error: unknown): boolean {
    try {
      return this.#isBadRequest?.(error) === true;
    } catch (predicateError) {
      this.#logger.warn(`isBadRequest of command '${this.name}' threw; counting a failure`, { error: errorMessage(predicateError) });
      return false;
    }
  }

  /** @internal Called by the deadline queue when a call's time is up. */
  onTimeout(exec: Execution, now: number): void {
    const whileQueued = exec.phase === Phase.QUEUED;
    if (whileQueued) {
      this.#bulkhead.cancel(exec);
    } else if (exec.phase === Phase.RUNNING) {
      // The permit is given back now: the work is abandoned (and aborted when interruptOnTimeout is on),
      // as Hystrix releases its semaphore when a command times out.
      this.#bulkhead.release(this.#settings.maxConcurrent);
      if (this.#settings.interruptOnTimeout) this.#abandon(exec, this.#timeoutError(exec));
    } else {
      return;
    }
    const executed = !whileQueued;
    exec.phase = Phase.FALLING_BACK;
    const m = this.#metrics;
    m.countRequest(CommandEventType.TIMEOUT, true, now);
    if (executed) m.latency(now - exec.executeStartedAt, -1, now);
    const error = this.#timeoutError(exec);
    if (this.listenerCount('timeout') > 0) {
      this.emit('timeout', { command: this.name, group: this.group, timeoutMs: this.#settings.timeoutMs, whileQueued, at: now });
    }
    if (exec.trial) this.#endTrial(exec, false, now);
    else this.#checkTrip(now);
    this.#fallBack(exec, error, now);
  }

  #timeoutError(exec: Execution): CommandError {
    const ms = exec.deadline - exec.startedAt;
    return new CommandError('ERR_COMMAND_TIMEOUT', `command '${this.name}' timed out after ${ms} ms`, this.name, this.group);
  }

  #rejectByBulkhead(exec: Execution, now: number): void {
    const s = this.#settings;
    const error = new CommandError(
      'ERR_BULKHEAD_FULL',
      `command '${this.name}' rejected: ${s.maxConcurrent} executions running${s.maxQueued > 0 ? ` and ${s.maxQueued} queued` : ''}`,
      this.name,
      this.group,
    );
    const m = this.#metrics;
    if (this.listenerCount('reject') > 0) {
      this.emit('reject', { command: this.name, group: this.group, reason: 'bulkheadFull', error, at: now });
    }
    if (exec.trial) {
      // The trial never reached the dependency, so it proves nothing: back to OPEN, and the next call tries.
      this.#revertTrial(exec, now);
    }
    if (s.rejectionsCountAsErrors) {
      m.countRequest(CommandEventType.SEMAPHORE_REJECTED, true, now);
      this.#checkTrip(now);
    } else {
      m.count(CommandEventType.SEMAPHORE_REJECTED, now);
    }
    this.#fallBack(exec, error, now);
  }

  /** The caller's signal aborted: no fallback (the caller has gone), counted as cancelled. */
  #cancel(exec: Execution, reason: Error, now: number): void {
    switch (exec.phase) {
      case Phase.QUEUED:
        this.#bulkhead.cancel(exec);
        break;
      case Phase.RUNNING:
        this.#bulkhead.release(this.#settings.maxConcurrent);
        this.#abandon(exec, reason);
        break;
      default:
        return;
    }
    exec.phase = Phase.DONE;
    this.#deadlines.remove(exec);
    this.#metrics.count(CommandEventType.CANCELLED, now);
    this.#metrics.latency(-1, now - exec.startedAt, now);
    if (exec.trial) this.#revertTrial(exec, now);
    this.#detach(exec);
    exec.reject(reason);
  }

  /** Tells the work it is no longer waited for: aborts its signal and calls its `onAbandon`. */
  #abandon(exec: Execution, reason: Error): void {
    exec.controller?.abort(reason);
    if (exec.onAbandon === undefined) return;
    try {
      exec.onAbandon(reason);
    } catch (error) {
      this.#logger.warn(`onAbandon of a call of command '${this.name}' threw`, { error: errorMessage(error) });
    }
  }

  #detach(exec: Execution): void {
    if (exec.onParentAbort !== undefined) exec.parent?.removeEventListener('abort', exec.onParentAbort);
  }

  /** Runs the fallback, or fails the call with `error` when there is none or it may not run. */
  #fallBack(exec: Execution, error: unknown, now: number): void {
    exec.phase = Phase.FALLING_BACK;
    const m = this.#metrics;
    const fallback = exec.fallback;
    const s = this.#settings;
    if (!s.fallbackEnabled || fallback === undefined) {
      if (s.fallbackEnabled) m.count(CommandEventType.FALLBACK_MISSING, now);
      this.#fail(exec, error, now);
      return;
    }
    if (this.#fallbacksRunning >= s.fallbackMaxConcurrent) {
      m.count(CommandEventType.FALLBACK_REJECTION, now);
      this.#emitFallback('rejected', error, undefined, now);
      this.#fail(exec, error, now);
      return;
    }
    this.#fallbacksRunning++;
    let result: unknown;
    try {
      result =
        (fallback as unknown as Record<symbol, unknown>)[commandMarker] === true
          ? fallback(...(exec.args as never[]))
          : fallback.call(exec.thisArg, ...([...exec.args, error] as never[]));
    } catch (fallbackError) {
      this.#fallbackFailed(exec, error, fallbackError);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => this.#fallbackSucceeded(exec, error, value),
        (fallbackError: unknown) => this.#fallbackFailed(exec, error, fallbackError),
      );
    } else {
      this.#fallbackSucceeded(exec, error, result);
    }
  }

  #fallbackSucceeded(exec: Execution, cause: unknown, value: unknown): void {
    this.#fallbacksRunning--;
    const now = this.#clock.now();
    this.#metrics.count(CommandEventType.FALLBACK_SUCCESS, now);
    this.#metrics.latency(-1, now - exec.startedAt, now);
    this.#emitFallback('success', cause, undefined, now);
    exec.phase = Phase.DONE;
    this.#detach(exec);
    exec.resolve(value);
  }

  #fallbackFailed(exec: Execution, cause: unknown, fallbackError: unknown): void {
    this.#fallbacksRunning--;
    const now = this.#clock.now();
    this.#metrics.count(CommandEventType.FALLBACK_FAILURE, now);
    this.#emitFallback('failure', cause, fallbackError, now);
    this.#fail(exec, cause, now);
  }

  /** Ends a failed call with its primary error (what the caller can act on; the fallback's is in the event). */
  #fail(exec: Execution, error: unknown, now: number): void {
    this.#metrics.count(CommandEventType.EXCEPTION_THROWN, now);
    this.#metrics.latency(-1, now - exec.startedAt, now);
    exec.phase = Phase.DONE;
    this.#detach(exec);
    exec.reject(error);
  }

  #emitFallback(outcome: 'success' | 'failure' | 'rejected', cause: unknown, error: unknown, at: number): void {
    if (this.listenerCount('fallback') === 0) return;
    this.emit('fallback', {
      command: this.name,
      group: this.group,
      outcome,
      cause,
      ...(outcome === 'failure' ? { error } : {}),
      at,
    });
  }

  #checkTrip(now: number): void {
    const s = this.#settings;
    if (this.#circuit !== 'CLOSED' || s.forceOpen || s.forceClosed || !s.breakerEnabled) return;
    if (this.#metrics.shouldTrip(s.requestVolumeThreshold, s.errorThresholdPercentage, now)) {
      this.#openedAt = now;
      this.#transition('OPEN', 'tripped', now);
    }
  }

  #endTrial(exec: Execution, success: boolean, now: number): void {
    exec.trial = false;
    if (this.#trial !== exec) return;
    this.#trial = undefined;
    if (this.#circuit !== 'HALF_OPEN') return;
    if (success) {
      this.#openedAt = undefined;
      this.#metrics.resetHealth();
      this.#transition('CLOSED', 'trial succeeded', now);
    } else {
      this.#openedAt = now;
      this.#transition('OPEN', 'trial failed', now);
    }
  }

  /** The trial ended without an answer (rejected or cancelled): OPEN again with the old opening time. */
  #revertTrial(exec: Execution, now: number): void {
    exec.trial = false;
    if (this.#trial !== exec) return;
    this.#trial = undefined;
    if (this.#circuit === 'HALF_OPEN') this.#transition('OPEN', 'trial call did not run', now);
  }

  #transition(to: Circuit, reason: string, now: number): void {
    const before = this.state;
    this.#circuit = to;
    this.#changed(before, reason, now);
  }

  /** Emits the change of effective state, if any: `stateChange`, and `open`/`halfOpen`/`close` by where it went. */
  #changed(before: CommandState, reason: string, now: number): void {
    const after = this.state;
    if (after === before) return;
    const change: CommandStateChange = {
      command: this.name,
      group: this.group,
      from: before,
      to: after,
      reason,
      health: this.#metrics.healthCounts(now),
      at: now,
    };
    this.#logger.info(`command '${this.name}' ${before} -> ${after}: ${reason}`, { command: this.name, from: before, to: after });
    this.#onStateChange(change);
    this.emit('stateChange', change);
    if (after === CommandState.HALF_OPEN) this.emit('halfOpen', change);
    else if (shortCircuits(after) && !shortCircuits(before)) this.emit('open', change);
    else if (!isOpen(after) && isOpen(before)) this.emit('close', change);
  }

  /** Everything known of the command now; percentiles are computed here, not on the call path. */
  snapshot(): CommandSnapshot {
    const now = this.#clock.now();
    const m = this.#metrics;
    const rolling = m.rollingCounts(now);
    const state = this.state;
    return {
      name: this.name,
      group: this.group,
      state,
      circuitOpen: isOpen(state),
      openedAt: this.#circuit === 'CLOSED' ? undefined : this.#openedAt,
      at: now,
      settings: this.#settings,
      health: m.healthCounts(now),
      rolling,
      cumulative: m.cumulativeCounts(),
      bulkhead: {
        running: this.#bulkhead.running,
        queued: this.#bulkhead.queued,
        largestRunning: this.#bulkhead.largest,
        completed: this.#bulkhead.completed,
        rollingExecuted: rolling.executed,
        rollingRejected: rolling.semaphoreRejected,
        rollingMaxRunning: m.rollingMaxConcurrent(now),
      },
      latency: m.latencies(now),
    };
  }

  /**
   * Stops taking calls: calls still waiting for a timeout or for the bulkhead are rejected with
   * `ERR_INVALID_STATE` (their signals aborted) and the timer is cleared. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const now = this.#clock.now();
    const pending = new Set<Execution>([
      ...(this.#deadlines.drain() as Execution[]),
      ...(this.#bulkhead.drain() as Execution[]),
    ]);
    for (const exec of pending) {
      this.#cancel(exec, new KaryonError('ERR_INVALID_STATE', `command '${this.name}' was closed while the call was in flight`), now);
    }
    this.removeAllListeners();
  }
}

/** Open for every call (not half-open). */
function shortCircuits(state: CommandState): boolean {
  return state === CommandState.OPEN || state === CommandState.FORCED_OPEN;
}

/** Open as Hystrix's `isCircuitBreakerOpen` reports it: half-open counts. */
function isOpen(state: CommandState): boolean {
  return state === CommandState.OPEN || state === CommandState.HALF_OPEN || state === CommandState.FORCED_OPEN;
}
