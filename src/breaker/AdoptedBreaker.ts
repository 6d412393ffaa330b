import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { CommandExecutor } from './Command.js';
import { CommandState } from './CommandEvents.js';
import type { CommandStateChange } from './CommandEvents.js';
import type { CommandCounts, HealthCounts, LatencyPercentiles, LatencySummary } from './CommandMetrics.js';
import { percentileKeys } from './CommandMetrics.js';
import type { CommandSettings } from './CommandSettings.js';
import { hystrixDefaults } from './CommandSettings.js';
import type { CommandSnapshot } from './CommandSnapshot.js';

/**
 * The part of an opossum 9 `CircuitBreaker` an adopted breaker reads and steers, written out here so that
 * this package's types never depend on opossum's: any opossum 9 breaker fits it.
 */
export interface OpossumCircuitBreaker {
  /** The breaker's name (opossum's `name` option, else the action's name). */
  readonly name: string;
  /** The breaker's group (opossum's `group` option, else its name). */
  readonly group: string;
  /** True while the circuit is open. */
  readonly opened: boolean;
  /** True while the circuit is half-open. */
  readonly halfOpen: boolean;
  /** True while the circuit is closed. */
  readonly closed: boolean;
  /** False once `disable()` was called: calls then bypass the circuit. */
  readonly enabled: boolean;
  /** True once `shutdown()` was called. */
  readonly isShutdown: boolean;
  /** Fires needed in the window before the circuit can open. */
  readonly volumeThreshold: number;
  /** The rolling window's totals, latency percentiles included. */
  readonly stats: OpossumStats;
  /** opossum's capacity semaphore: `count` is the permits left. */
  readonly semaphore?: {
    /** Permits left. */
    readonly count: number;
  };
  /** The options the breaker was made with, defaults filled by opossum (not in opossum's published typings). */
  readonly options?: OpossumOptionsView;
  /** Opens the circuit (opossum's own method). */
  open(): void;
  /** Closes the circuit (opossum's own method). */
  close(): void;
  /** Adds a listener of one of opossum's events. */
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  /** Removes a listener. */
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** opossum's rolling-window totals (`breaker.stats`). */
export interface OpossumStats {
  /** Calls made (`fire` events), short-circuited ones included. */
  readonly fires: number;
  /** Calls that failed, timeouts and semaphore rejections included. */
  readonly failures: number;
  /** Calls that succeeded. */
  readonly successes: number;
  /** Calls short-circuited by the open circuit. */
  readonly rejects: number;
  /** Calls that timed out. */
  readonly timeouts: number;
  /** Fallbacks called. */
  readonly fallbacks: number;
  /** Calls refused by the capacity semaphore. */
  readonly semaphoreRejections: number;
  /** Mean latency in ms (-1 with `rollingPercentilesEnabled: false`). */
  readonly latencyMean: number;
  /** Latency percentiles in ms, keyed 0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 1 (-1 when off). */
  readonly percentiles: Readonly<Record<number, number>>;
  /** Every latency in the window (empty when percentiles are off). */
  readonly latencyTimes: readonly number[];
}

/** The options of an opossum breaker that an adopted breaker shows as settings. */
export interface OpossumOptionsView {
  /** Timeout in ms, or `false` for none. */
  readonly timeout?: number | false;
  /** Time the circuit stays open before going half-open, in ms. */
  readonly resetTimeout?: number;
  /** Error percentage above which the circuit opens. */
  readonly errorThresholdPercentage?: number;
  /** Length of the rolling window, in ms. */
  readonly rollingCountTimeout?: number;
  /** Buckets in the rolling window. */
  readonly rollingCountBuckets?: number;
  /** Calls allowed at once. */
  readonly capacity?: number;
}

/**
 * What the admin API and the registry need of a breaker, whether it is one of our commands or an adopted
 * opossum breaker.
 */
export type BreakerControls = Pick<CommandExecutor, 'name' | 'group' | 'state' | 'overrides' | 'forceOpen' | 'forceClosed' | 'reset' | 'setOptions' | 'snapshot'>;

type Counter = Exclude<keyof CommandCounts, 'cancelled' | 'exceptionsThrown' | 'fallbackMissing' | 'fallbackRejection' | 'badRequest'>;

const hystrixPercentiles: readonly number[] = [0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 1];

/**
 * An opossum 9 `CircuitBreaker` shown and steered as one of the registry's breakers: its state, opossum's
 * rolling statistics mapped to Hystrix's names, and forced states set through opossum's own `open()` and
 * `close()`. Made by `CommandRegistry.adopt()` (or `service.adoptBreaker()`); calls still go through
 * `breaker.fire()`, untouched.
 *
 * opossum has no forced states: while forced open, the adopted breaker re-opens the circuit each time opossum
 * turns it half-open (synchronously, before any call can pass); while forced closed, it closes the circuit
 * each time opossum opens it. `reset()` ends both and closes the circuit; opossum keeps its window, which has
 * no public way to be cleared.
 */
export class AdoptedBreaker implements BreakerControls {
  readonly #breaker: OpossumCircuitBreaker;
  readonly #clock: Clock;
  readonly #onStateChange: (change: CommandStateChange) => void;
  readonly #counts: Record<Counter, number> = {
    success: 0,
    failure: 0,
    timeout: 0,
    shortCircuited: 0,
    semaphoreRejected: 0,
    fallbackSuccess: 0,
    fallbackFailure: 0,
    executed: 0,
  };
  readonly #listeners: [string, (...args: unknown[]) => void][];
  #forced: 'open' | 'closed' | undefined;
  #state: CommandState;
  #openedAt: number | undefined;
  #detached = false;

  /**
   * @param breaker - the opossum breaker
   * @param clock - time source of snapshots and state changes
   * @param onStateChange - called on each change of the shown state
   * @throws KaryonError `ERR_INVALID_OPTION` when `breaker` is not an opossum 9 breaker, or is shut down
   */
  constructor(breaker: OpossumCircuitBreaker, clock: Clock, onStateChange: (change: CommandStateChange) => void) {
    checkOpossum(breaker);
    this.#breaker = breaker;
    this.#clock = clock;
    this.#onStateChange = onStateChange;
    this.#state = this.#read();
    if (this.#state === CommandState.OPEN) this.#openedAt = clock.now();
    const count = (counter: Counter) => () => void this.#counts[counter]++;
    const failed = count('failure');
    this.#listeners = [
      ['success', count('success')],
      ['failure', failed],
      ['timeout', count('timeout')],
      ['reject', count('shortCircuited')],
      ['semaphoreLocked', count('semaphoreRejected')],
      [
        'fallback',
        ((result: unknown) => {
          // opossum emits `fallback` when it calls the fallback; its promise tells how the fallback ended.
          Promise.resolve(result).then(
            () => void this.#counts.fallbackSuccess++,
            () => void this.#counts.fallbackFailure++,
          );
        }),
      ],
      ['open', () => this.#changed('open')],
      ['halfOpen', () => this.#changed('halfOpen')],
      ['close', () => this.#changed('close')],
      ['shutdown', () => this.detach()],
    ];
    for (const [event, listener] of this.#listeners) breaker.on(event, listener);
  }

  /** The opossum breaker. */
  get breaker(): OpossumCircuitBreaker {
    return this.#breaker;
  }

  get name(): string {
    return this.#breaker.name;
  }

  get group(): string {
    return this.#breaker.group;
  }

  get state(): CommandState {
    return this.#read();
  }

  /** An adopted breaker has no settings of ours: its settings are opossum's options. */
  get overrides(): Record<string, never> {
    return {};
  }

  /** Forces the circuit open with opossum's `open()`, and keeps it open until `forceClosed()` or `reset()`. */
  forceOpen(): void {
    this.#forced = 'open';
    if (!this.#breaker.opened) this.#breaker.open();
    this.#changed('forced open');
  }

  /** Forces the circuit closed with opossum's `close()`, and keeps it closed until `forceOpen()` or `reset()`. */
  forceClosed(): void {
    this.#forced = 'closed';
    if (!this.#breaker.closed) this.#breaker.close();
    this.#changed('forced closed');
  }

  /** Ends a forced state and closes the circuit with opossum's `close()`. */
  reset(): void {
    this.#forced = undefined;
    this.#breaker.close();
    this.#changed('reset');
  }

  /**
   * Refused: an opossum breaker's settings are its options, fixed when it was made.
   * @throws KaryonError `ERR_INVALID_OPTION` always
   */
  setOptions(_update: unknown): void {
    throw new KaryonError(
      'ERR_INVALID_OPTION',
      `breaker '${this.name}' is an adopted opossum breaker: its settings are the options it was made with, change them in its code (only forceOpen, forceClosed and reset act on it)`,
    );
  }

  /** The breaker now, in the shape of a command's snapshot: opossum's window mapped to Hystrix's names. */
  snapshot(): CommandSnapshot {
    const b = this.#breaker;
    const stats = b.stats;
    const options = b.options ?? {};
    // opossum's `failures` include its timeouts and semaphore rejections; Hystrix counts each once.
    const rolling = counts({
      success: stats.successes,
      failure: Math.max(0, stats.failures - stats.timeouts - stats.semaphoreRejections),
      timeout: stats.timeouts,
      shortCircuited: stats.rejects,
      semaphoreRejected: stats.semaphoreRejections,
      // opossum counts fallbacks called, not how they ended.
      fallbackSuccess: stats.fallbacks,
      fallbackFailure: 0,
      executed: Math.max(0, stats.fires - stats.rejects - stats.semaphoreRejections),
    });
    const c = this.#counts;
    const cumulative = counts({ ...c, failure: Math.max(0, c.failure - c.timeout - c.semaphoreRejected) });
    // The error percentage opossum trips on: failures over fires, short-circuits included.
    const health: HealthCounts = {
      requestCount: stats.fires,
      errorCount: stats.failures,
      errorPercentage: stats.fires === 0 ? 0 : Math.floor((stats.failures * 100) / stats.fires),
    };
    const capacity = wholeOr(options.capacity, Number.MAX_SAFE_INTEGER);
    const rollingWindowMs = wholeOr(options.rollingCountTimeout, 10_000);
    const rollingBuckets = wholeOr(options.rollingCountBuckets, 10);
    const settings: CommandSettings = {
      ...hystrixDefaults,
      timeoutMs: options.timeout === false ? 0 : wholeOr(options.timeout, 10_000),
      interruptOnTimeout: false,
      breakerEnabled: b.enabled,
      requestVolumeThreshold: b.volumeThreshold,
      errorThresholdPercentage: wholeOr(options.errorThresholdPercentage, 50),
      sleepWindowMs: wholeOr(options.resetTimeout, 30_000),
      forceOpen: this.#forced === 'open',
      forceClosed: this.#forced === 'closed',
      rollingWindowMs,
      rollingBuckets,
      percentileWindowMs: rollingWindowMs,
      percentileBuckets: rollingBuckets,
      maxConcurrent: capacity,
      maxQueued: 0,
      fallbackMaxConcurrent: capacity,
    };
    const latency = latencySummary(stats);
    const state = this.#read();
    const circuitOpen = state === CommandState.OPEN || state === CommandState.HALF_OPEN || state === CommandState.FORCED_OPEN;
    return {
      name: b.name,
      group: b.group,
      adopted: 'opossum',
      state,
      circuitOpen,
      openedAt: circuitOpen ? this.#openedAt : undefined,
      at: this.#clock.now(),
      settings,
      health,
      rolling,
      cumulative,
      bulkhead: {
        running: b.semaphore === undefined ? 0 : Math.max(0, capacity - b.semaphore.count),
        queued: 0,
        largestRunning: 0,
        completed: c.success + c.failure,
        rollingExecuted: rolling.executed,
        rollingRejected: rolling.semaphoreRejected,
        rollingMaxRunning: 0,
      },
      latency: { execute: latency, total: latency },
    };
  }

  /** Stops following the breaker (its listeners are removed; the breaker itself is left as it is). Idempotent. */
  detach(): void {
    if (this.#detached) return;
    this.#detached = true;
    for (const [event, listener] of this.#listeners) this.#breaker.removeListener(event, listener);
  }

  /** The shown state, from opossum's and the forced one. */
  #read(): CommandState {
    const b = this.#breaker;
    if (this.#forced === 'open') return CommandState.FORCED_OPEN;
    if (this.#forced === 'closed') return CommandState.FORCED_CLOSED;
    if (!b.enabled || b.isShutdown) return CommandState.DISABLED;
    if (b.halfOpen) return CommandState.HALF_OPEN;
    if (b.opened) return CommandState.OPEN;
    return CommandState.CLOSED;
  }

  #changed(reason: string): void {
    const b = this.#breaker;
    // Keep the forced state against opossum's own timers and trips. Both calls run inside opossum's
    // synchronous event, so no call can slip through the circuit in between.
    if (this.#forced === 'open' && b.halfOpen) b.open();
    else if (this.#forced === 'closed' && b.opened) b.close();
    const from = this.#state;
    const to = this.#read();
    if (from === to) return;
    this.#state = to;
    const at = this.#clock.now();
    if (to === CommandState.OPEN || to === CommandState.FORCED_OPEN) this.#openedAt = at;
    const stats = b.stats;
    this.#onStateChange({
      command: b.name,
      group: b.group,
      from,
      to,
      reason: reason === 'open' ? 'tripped' : reason === 'halfOpen' ? 'sleep window passed' : reason === 'close' ? 'closed' : reason,
      health: {
        requestCount: stats.fires,
        errorCount: stats.failures,
        errorPercentage: stats.fires === 0 ? 0 : Math.floor((stats.failures * 100) / stats.fires),
      },
      at,
    });
  }
}

function checkOpossum(breaker: unknown): asserts breaker is OpossumCircuitBreaker {
  const b = breaker as Partial<Record<string, unknown>> | null;
  const missing =
    typeof b !== 'object' || b === null
      ? 'an object'
      : ['open', 'close', 'on', 'removeListener', 'fire'].find((method) => typeof b[method] !== 'function') ??
        (typeof b.stats !== 'object' || b.stats === null ? 'stats' : typeof b.name !== 'string' ? 'name' : undefined);
  if (missing !== undefined) {
    throw new KaryonError('ERR_INVALID_OPTION', `adoptBreaker() takes an opossum 9 CircuitBreaker (got ${describe(breaker)}, without ${missing})`);
  }
  if (b?.isShutdown === true) {
    throw new KaryonError('ERR_INVALID_OPTION', `opossum breaker '${String(b.name)}' is shut down; adopt a live breaker`);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return `an object of ${(value).constructor?.name ?? 'no class'}`;
}

function wholeOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.min(Math.round(value), Number.MAX_SAFE_INTEGER) : fallback;
}

function counts(c: Record<Counter, number>): CommandCounts {
  return { ...c, badRequest: 0, fallbackRejection: 0, fallbackMissing: 0, exceptionsThrown: 0, cancelled: 0 };
}

function latencySummary(stats: OpossumStats): LatencySummary {
  const percentiles: Record<string, number> = {};
  percentileKeys.forEach((key, i) => {
    const value = stats.percentiles[hystrixPercentiles[i] as number];
    percentiles[key] = typeof value === 'number' && value > 0 ? Math.round(value) : 0;
  });
  return {
    mean: stats.latencyMean > 0 ? Math.floor(stats.latencyMean) : 0,
    percentiles: percentiles as LatencyPercentiles,
    count: stats.latencyTimes.length,
  };
}
