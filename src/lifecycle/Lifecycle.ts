// The lifecycle of one service: the state machine, the initialize and shutdown hooks, start() and stop(). It knows
// nothing of admin, metrics sinks, Eureka or HTTP: it depends on a registrar, the health verdict, a drain and a
// shutdown stack, which createService() wires in (see createService.ts).
import type { Clock } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { errorMessage, runWithTimeout, sleep } from '../internal/async.js';
import { durationMs } from '../internal/validate.js';
import type { LifecycleMetrics } from '../metrics/builtin.js';
import type { InstanceDescriptor, InstanceStatus } from '../registry/types.js';
import type { HookOptions, LifecycleHook } from './decorators.js';
import { registryStatusOf } from './LifecycleState.js';
import type { LifecycleState } from './LifecycleState.js';
import type { ShutdownStack } from './ShutdownStack.js';
import { StateMachine } from './StateMachine.js';
import type { StateChange } from './StateMachine.js';

/**
 * The whole chain to a Java caller on the real Eureka server: its response cache (30 s), the Java client's fetch
 * (30 s) and Spring Cloud LoadBalancer's cache (35 s), with a margin.
 */
const DEFAULT_MAX_DEREGISTRATION_DELAY_MS = 100_000;

/** Where the lifecycle registers the instance and tells its states: the registry's side of `ServiceRegistry`. */
export interface Registrar {
  /** How long a status change takes to reach the registry's clients, in ms, when the registry knows. */
  readonly propagationDelayMs: number | undefined;
  register(instance: InstanceDescriptor, status: InstanceStatus, signal?: AbortSignal): Promise<void>;
  setStatus(instanceId: string, status: InstanceStatus): Promise<void>;
  deregister(instanceId: string): Promise<void>;
  /** Follows the deregistration of an instance; the function returned says why it failed (see `RegistryServiceExtras`). */
  watchDeregistration?(instanceId: string): () => string | undefined;
}

/** The health checks' verdict, as the lifecycle uses it: the `HealthMonitor`. */
export interface Readiness {
  /** True when no readiness check is critical. */
  readonly ready: boolean;
  /** Runs every check once. */
  runAll(): Promise<void>;
  /** Starts running the checks on their intervals. */
  start(): void;
  /** Stops running them. */
  close(): Promise<void>;
}

/** The application server's requests, as `stop()` waits on them: the `ServerTracker`. */
export interface Drain {
  /** When a caller that does not retry elsewhere last sent a request. */
  readonly lastOtherCallerAt: number | undefined;
  /** Resolves once no such caller has sent a request for `quietMs`, or at `untilMs`. */
  quiet(quietMs: number, untilMs: number): Promise<void>;
}

/** The timings of a lifecycle (resolved `LifecycleOptions`). */
export interface LifecycleTimings {
  readonly initializeTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly deregistrationDelayMs: number | undefined;
  readonly maxDeregistrationDelayMs: number | undefined;
  readonly quietPeriodMs: number;
}

/** What a {@link Lifecycle} is made of. */
export interface LifecycleParts {
  readonly name: string;
  /** The instance id given in the options, until the registered one is known. */
  readonly instanceId: string | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly timings: LifecycleTimings;
  readonly registrar: Registrar;
  readonly health: Readiness;
  /** The application server's requests, when there is a server. */
  readonly drain: Drain | undefined;
  readonly shutdown: ShutdownStack;
  readonly metrics: LifecycleMetrics;
  /** What start() opens before registering, in order (the configuration, the servers); each may register closes. */
  readonly open: readonly ((signal: AbortSignal) => Promise<void>)[];
  /** The instance to register, once `open` has bound the port. */
  describe(): InstanceDescriptor;
  /** Sends what the metrics buffer, at the very end of stop() and of a failed start. */
  flush(): Promise<void>;
  /** Told each state change, after the registry was. */
  onStateChange(change: StateChange): void;
}

interface Hook {
  readonly name: string;
  readonly fn: LifecycleHook;
  readonly timeoutMs: number;
  /** For shutdown hooks: how many initialize hooks were registered before it (see `#runShutdownHooks`). */
  readonly afterInitializeHooks: number;
}

/**
 * The state machine, hooks, start and stop of a service. While running, the state follows two inputs: the
 * readiness verdict and the operator's OUT_OF_SERVICE. Readiness critical means DOWN (as Eureka, DOWN wins over
 * an override); otherwise the operator's OUT_OF_SERVICE; otherwise UP.
 */
export class Lifecycle {
  readonly #p: LifecycleParts;
  readonly #machine: StateMachine;
  readonly #initializeHooks: Hook[] = [];
  readonly #shutdownHooks: Hook[] = [];
  /** The operator's intent, kept apart from health: only `markUp()` clears it. */
  #outOfServiceByOperator = false;
  #completedInitializeHooks = 0;
  #descriptor: InstanceDescriptor | undefined;
  #registered = false;
  #registryQueue: Promise<void> = Promise.resolve();
  #startedAt: number | undefined;
  /** When the instance last stopped being UP, for the deregistration delay. */
  #leftUpAt: number | undefined;
  #starting: Promise<void> | undefined;
  /** What start() returns: #starting, settled after stop() when stop() interrupted it. */
  #startResult: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  readonly #startAbort = new AbortController();

  constructor(parts: LifecycleParts) {
    this.#p = parts;
    this.#machine = new StateMachine(parts.clock, (change) => this.#onTransition(change));
    parts.metrics.state('STARTING');
  }

  get state(): LifecycleState {
    return this.#machine.state;
  }

  /** When the state last changed. */
  get since(): number {
    return this.#machine.since;
  }

  get history(): readonly StateChange[] {
    return this.#machine.history;
  }

  /** What was registered; undefined before start() has bound the port. */
  get descriptor(): InstanceDescriptor | undefined {
    return this.#descriptor;
  }

  /** The registered instance id, or the one given in the options. */
  get instanceId(): string | undefined {
    return this.#descriptor?.instanceId ?? this.#p.instanceId;
  }

  /** The registry status last told, while registered. */
  get registryStatus(): InstanceStatus | undefined {
    return this.#registered ? registryStatusOf(this.#machine.state) : undefined;
  }

  get outOfServiceByOperator(): boolean {
    return this.#outOfServiceByOperator;
  }

  get startedAt(): number | undefined {
    return this.#startedAt;
  }

  /** True once the service is shutting down, stopped or failed. */
  get leaving(): boolean {
    const state = this.#machine.state;
    return state === 'SHUTTING_DOWN' || state === 'STOPPED' || state === 'FAILED';
  }

  /** See `Service.onInitialize`. */
  onInitialize(fn: LifecycleHook, options: HookOptions): void {
    if (this.#starting !== undefined || this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', 'initialize hooks must be added before start()', { service: this.#p.name });
    }
    this.#initializeHooks.push(this.#hook(fn, options, this.#p.timings.initializeTimeoutMs, 'initialize'));
  }

  /** See `Service.onShutdown`. */
  onShutdown(fn: LifecycleHook, options: HookOptions): void {
    if (this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', 'shutdown hooks must be added before stop()', { service: this.#p.name });
    }
    this.#shutdownHooks.push(this.#hook(fn, options, this.#p.timings.shutdownTimeoutMs, 'shutdown'));
  }

  /** See `Service.start`. */
  start(signal?: AbortSignal): Promise<void> {
    // A service runs once: after stop() (a start it interrupted still settles through the promise given before).
    if (this.#stopping !== undefined) return Promise.reject(this.#restartError());
    this.#starting ??= this.#start(signal);
    // Interrupted by stop() (a SIGTERM while initializing), it rejects only once stop() has finished: a process
    // whose top-level `await service.start()` throws then ends after leaving the registry, not before.
    this.#startResult ??= this.#starting.catch(async (error: unknown) => {
      if (this.#stopping !== undefined) await this.#stopping.catch(() => undefined);
      throw error;
    });
    return this.#startResult;
  }

  /** Sets the operator's OUT_OF_SERVICE (or clears it) and resolves once the registry was told. */
  async setOperatorOutOfService(outOfService: boolean): Promise<void> {
    this.#requireOperable(outOfService ? 'markOutOfService' : 'markUp');
    this.#outOfServiceByOperator = outOfService;
    this.#reconcile(outOfService ? 'marked OUT_OF_SERVICE by operator' : 'marked UP by operator');
    await this.#registryQueue;
  }

  /** See `Service.stop`. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Moves a running service to the state its inputs call for; does nothing while starting or stopping. */
  reconcile(reason: string): void {
    this.#reconcile(reason);
  }

  // ---- start ------------------------------------------------------------------------------------------

  /** A service runs once: what start() says after stop(). */
  #restartError(): KaryonError {
    const { name } = this.#p;
    return new KaryonError(
      'ERR_INVALID_STATE',
      `service '${name}' was stopped (${this.state}) and cannot be started again: create a new one with createService()`,
      { service: name, status: this.state },
    );
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const { clock, logger, name, registrar, health } = this.#p;
    this.#startedAt = clock.now();
    const abort = this.#startAbort;
    const onAbort = (): void => abort.abort(new KaryonError('ERR_START_ABORTED', 'start() was aborted by its signal', { service: name }));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    // From now on stop() (or a failed start) runs the shutdown hooks: those of the initialize hooks that finished.
    this.#p.shutdown.add('hooks', 'shutdown hooks', (fail) => this.#runShutdownHooks(fail));
    try {
      for (const open of this.#p.open) {
        await open(abort.signal);
        this.#checkAborted();
      }
      const descriptor = this.#p.describe();
      this.#descriptor = descriptor;
      logger.info(`registering ${descriptor.instanceId} as STARTING`, { instanceId: descriptor.instanceId });
      this.#registered = true;
      this.#p.shutdown.add('deregister', 'deregistering', (fail) => this.#deregister(descriptor.instanceId, fail));
      this.#enqueueRegistry(() => registrar.register(descriptor, 'STARTING', abort.signal));
      await this.#registryQueue;
      for (const hook of this.#initializeHooks) {
        this.#checkAborted();
        await this.#runHook(hook, 'initialize', abort.signal);
        this.#completedInitializeHooks++;
      }
      this.#checkAborted();
      await health.runAll();
      this.#checkAborted();
      health.start();
      this.#p.metrics.initializeDuration(clock.now() - this.#startedAt);
      this.#reconcile('initialize hooks finished', true);
      await this.#registryQueue;
    } catch (error) {
      if (this.#stopping !== undefined) {
        // stop() owns the unwinding from here.
        throw isKaryonError(error, 'ERR_START_ABORTED')
          ? error
          : new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: name, cause: error });
      }
      // The caller's signal aborted the start (nobody called stop()): a failed start like any other, unwound.
      const failure =
        !abort.signal.aborted || isKaryonError(error, 'ERR_START_ABORTED')
          ? error
          : new KaryonError('ERR_START_ABORTED', 'start() was aborted by its signal', { service: name, cause: error });
      await this.#fail(failure);
      throw failure;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #checkAborted(): void {
    const { signal } = this.#startAbort;
    if (!signal.aborted) return;
    throw isKaryonError(signal.reason, 'ERR_START_ABORTED')
      ? signal.reason
      : new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: this.#p.name });
  }

  /** start() failed on its own: FAILED, then unwind what started. */
  async #fail(error: unknown): Promise<void> {
    const { logger } = this.#p;
    logger.error(`start failed: ${errorMessage(error)}`, { service: this.#p.name });
    this.#machine.transition('FAILED', `start failed: ${errorMessage(error)}`);
    const errors = await this.#unwind();
    for (const e of errors) logger.warn(`while unwinding a failed start: ${errorMessage(e)}`);
    // As at the end of stop(): the FAILED transition and what led to it are sent, and the metrics' timers end.
    await this.#p.flush().catch((error: unknown) => logger.warn(`while flushing the metrics of a failed start: ${errorMessage(error)}`));
  }

  // ---- stop -------------------------------------------------------------------------------------------

  async #stop(): Promise<void> {
    const { clock, name } = this.#p;
    if (this.#starting !== undefined) {
      this.#startAbort.abort(new KaryonError('ERR_START_ABORTED', 'start() was interrupted by stop()', { service: name }));
      await this.#starting.catch(() => undefined);
    }
    const state = this.#machine.state;
    if (state === 'FAILED' || state === 'STOPPED') return;
    this.#machine.transition('SHUTTING_DOWN', 'stop() called');
    const stopStarted = clock.now();
    if (this.#starting !== undefined) {
      await this.#registryQueue;
      await this.#waitForCallers();
    }
    const errors = await this.#unwind();
    this.#p.metrics.shutdownDuration(clock.now() - stopStarted);
    this.#machine.transition('STOPPED', errors.length === 0 ? 'stopped' : `stopped with ${errors.length} error(s)`);
    // Last, so the STOPPED transition itself is sent: nothing buffered is lost.
    await this.#p.flush();
    if (errors.length > 0) {
      const instanceId = this.instanceId;
      throw new KaryonError('ERR_SHUTDOWN', `stop() finished with ${errors.length} error(s): ${errors.map(errorMessage).join('; ')}`, {
        service: name,
        ...(instanceId === undefined ? {} : { instanceId }),
        errors,
      });
    }
  }

  /**
   * Keeps serving after DOWN was told: `deregistrationDelayMs` for clients' caches to catch up, then, while callers
   * that do not retry elsewhere still call, until none has for `quietPeriodMs` (at most `maxDeregistrationDelayMs`).
   */
  async #waitForCallers(): Promise<void> {
    const leftUpAt = this.#leftUpAt;
    if (leftUpAt === undefined) return;
    const { clock, logger, drain } = this.#p;
    const { delayMs, maxMs } = this.#deregistrationDelays();
    const delay = delayMs - (clock.now() - leftUpAt);
    if (delay > 0) logger.info(`waiting ${delay} ms for clients to see DOWN before draining`);
    await sleep(clock, delay);
    const until = leftUpAt + maxMs;
    if (drain === undefined || until <= clock.now()) return;
    const quietMs = this.#p.timings.quietPeriodMs;
    const lastAt = drain.lastOtherCallerAt;
    if (lastAt !== undefined && clock.now() - lastAt < quietMs) {
      logger.info(`serving callers that do not retry elsewhere until none has called for ${quietMs} ms (at most ${until - clock.now()} ms more)`);
      await drain.quiet(quietMs, until);
    }
  }

  /** The fixed wait after DOWN, and the longest wait while callers that do not retry elsewhere still call. */
  #deregistrationDelays(): { delayMs: number; maxMs: number } {
    const given = this.#p.timings.deregistrationDelayMs;
    const delayMs = given ?? this.#p.registrar.propagationDelayMs ?? 30_000;
    const defaultMax = given === undefined && delayMs > 0 ? Math.max(delayMs, DEFAULT_MAX_DEREGISTRATION_DELAY_MS) : delayMs;
    return { delayMs, maxMs: Math.max(delayMs, this.#p.timings.maxDeregistrationDelayMs ?? defaultMax) };
  }

  /** Stops the health checks, then runs the shutdown stack. Collects errors instead of throwing. */
  async #unwind(): Promise<unknown[]> {
    const errors: unknown[] = [];
    await this.#p.health.close();
    await this.#p.shutdown.run((what, error) => {
      this.#p.logger.warn(`${what} failed: ${errorMessage(error)}`, { service: this.#p.name });
      errors.push(error);
    });
    return errors;
  }

  /** The shutdown hooks, in reverse order: those added before the first initialize hook that did not finish. */
  async #runShutdownHooks(fail: (what: string, error: unknown) => void): Promise<void> {
    const completed = this.#completedInitializeHooks;
    const hooks = this.#shutdownHooks.filter((hook) => hook.afterInitializeHooks <= completed).reverse();
    for (const hook of hooks) {
      try {
        await this.#runHook(hook, 'shutdown');
      } catch (error) {
        fail(`shutdown hook '${hook.name}'`, error);
      }
    }
  }

  async #deregister(instanceId: string, fail: (what: string, error: unknown) => void): Promise<void> {
    const { logger, registrar } = this.#p;
    this.#registered = false;
    await this.#registryQueue;
    // Said only when the registry took it. A Eureka client resolves after its first attempt whatever the
    // answer (and retries): its events say whether the cancel went through.
    const cancelFailure = registrar.watchDeregistration?.(instanceId);
    let done = true;
    try {
      await registrar.deregister(instanceId);
    } catch (error) {
      done = false;
      fail('deregistering', error);
    }
    const failure = cancelFailure?.();
    if (done && failure === undefined) logger.info(`deregistered ${instanceId}`, { instanceId });
    else if (done) logger.warn(`${instanceId} is not deregistered (${failure}): the registry drops it when its lease expires`, { instanceId });
  }

  // ---- state ------------------------------------------------------------------------------------------

  /** The running state the two inputs call for: readiness first, then the operator. */
  #desiredRunningState(): LifecycleState {
    if (!this.#p.health.ready) return 'DOWN';
    return this.#outOfServiceByOperator ? 'OUT_OF_SERVICE' : 'UP';
  }

  #reconcile(reason: string, startFinished = false): void {
    const state = this.#machine.state;
    const running = state === 'UP' || state === 'DOWN' || state === 'OUT_OF_SERVICE';
    if (!running && !(startFinished && state === 'STARTING')) return;
    const desired = this.#desiredRunningState();
    const why = desired === 'DOWN' && reason === 'health changed' ? 'a readiness check is critical' : reason;
    this.#machine.transition(desired, why);
  }

  #onTransition(change: StateChange): void {
    const { metrics, logger, registrar } = this.#p;
    metrics.transition(change.from, change.to);
    metrics.state(change.to);
    if (change.from === 'UP') this.#leftUpAt = change.at;
    if (change.to === 'UP') this.#leftUpAt = undefined;
    logger.info(`${this.#p.name} ${change.from} -> ${change.to} (${change.reason})`, { instanceId: this.instanceId, from: change.from, to: change.to });
    const status = registryStatusOf(change.to);
    const registered = this.#descriptor;
    if (this.#registered && status !== undefined && registered !== undefined) {
      this.#enqueueRegistry(() => registrar.setStatus(registered.instanceId, status));
    }
    this.#p.onStateChange(change);
  }

  /** Registry calls run one at a time, in order, so the registry sees the states in the order they happened. */
  #enqueueRegistry(operation: () => Promise<void>): void {
    this.#registryQueue = this.#registryQueue.then(operation).catch((error: unknown) => {
      this.#p.logger.warn(`registry update failed: ${errorMessage(error)}`, { instanceId: this.instanceId });
    });
  }

  #requireOperable(operation: string): void {
    const state = this.#machine.state;
    if (state === 'SHUTTING_DOWN' || state === 'STOPPED' || state === 'FAILED' || this.#stopping !== undefined) {
      throw new KaryonError('ERR_INVALID_STATE', `${operation}() is not possible while ${state}`, { service: this.#p.name, status: state });
    }
  }

  // ---- hooks ------------------------------------------------------------------------------------------

  #hook(fn: LifecycleHook, options: HookOptions, defaultTimeoutMs: number, kind: string): Hook {
    if (typeof fn !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `${kind} hook must be a function (got ${typeof fn})`, { service: this.#p.name });
    }
    const list = kind === 'initialize' ? this.#initializeHooks : this.#shutdownHooks;
    return {
      name: options.name ?? (fn.name === '' ? `${kind} hook #${list.length + 1}` : fn.name),
      fn,
      timeoutMs: durationMs(`${kind} hook timeoutMs`, options.timeoutMs, defaultTimeoutMs),
      afterInitializeHooks: this.#initializeHooks.length,
    };
  }

  async #runHook(hook: Hook, kind: 'initialize' | 'shutdown', signal?: AbortSignal): Promise<void> {
    const { clock, logger, name } = this.#p;
    const started = clock.now();
    try {
      await runWithTimeout(hook.fn, {
        clock,
        timeoutMs: hook.timeoutMs,
        signal,
        onTimeout: () => new KaryonError('ERR_HOOK_TIMEOUT', `${kind} hook '${hook.name}' did not finish within ${hook.timeoutMs} ms`, { service: name }),
      });
      logger.debug(`${kind} hook '${hook.name}' finished in ${clock.now() - started} ms`);
    } catch (error) {
      // The hook's timeout, and stop() interrupting it, keep their own error; anything the hook threw (a
      // KaryonError of a call it made too) becomes ERR_HOOK_FAILED naming the hook, the error as its cause.
      if (isKaryonError(error, 'ERR_HOOK_TIMEOUT') || signal?.aborted === true) throw error;
      throw new KaryonError('ERR_HOOK_FAILED', `${kind} hook '${hook.name}' failed: ${errorMessage(error)}`, { service: name, cause: error });
    }
  }
}
