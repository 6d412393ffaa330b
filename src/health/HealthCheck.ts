import { MAX_TIMER_MS } from '../common/Clock.js';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { errorMessage, runWithTimeout } from '../internal/async.js';
import type {
  CheckReport,
  CheckRun,
  CheckStatus,
  HealthCheckFunction,
  HealthCheckOptions,
  HealthResult,
} from './types.js';

const HISTORY = 20;

/** Fills the defaults of a check's options and validates them. */
export function resolveHealthCheckOptions(name: string, options: HealthCheckOptions = {}): Required<HealthCheckOptions> {
  const check = (key: keyof HealthCheckOptions, min: number, integer: boolean, max = Number.MAX_SAFE_INTEGER): number => {
    const value = options[key];
    if (value === undefined) return defaults[key] as number;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
      throw new KaryonError('ERR_INVALID_OPTION', `option '${key}' of health check '${name}' must be ${integer ? 'an integer' : 'a number'} ${range} (got ${String(value)})`);
    }
    return value;
  };
  const kind = options.kind ?? 'readiness';
  if (kind !== 'readiness' && kind !== 'liveness') {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'kind' of health check '${name}' must be 'readiness' or 'liveness' (got ${String(kind)})`);
  }
  return Object.freeze({
    kind,
    // Durations a timer can wait (a longer one would fire after 1 ms).
    timeoutMs: check('timeoutMs', 1, false, MAX_TIMER_MS),
    intervalMs: check('intervalMs', 1, false, MAX_TIMER_MS),
    cacheMs: check('cacheMs', 0, false, MAX_TIMER_MS),
    successBeforePassing: check('successBeforePassing', 1, true),
    failuresBeforeCritical: check('failuresBeforeCritical', 1, true),
  });
}

const defaults: Required<HealthCheckOptions> = {
  kind: 'readiness',
  timeoutMs: 2000,
  intervalMs: 10_000,
  cacheMs: 1000,
  successBeforePassing: 1,
  failuresBeforeCritical: 1,
};

/**
 * One health check: runs its function with a timeout, never more than one run at a time, and turns results
 * into a Consul-style status with hysteresis.
 */
export class HealthCheck {
  readonly name: string;
  readonly options: Required<HealthCheckOptions>;
  readonly #fn: HealthCheckFunction;
  readonly #clock: Clock;
  #status: CheckStatus = 'PENDING';
  #lastResult: HealthResult | undefined;
  #lastError: string | undefined;
  #lastCheckedAt: number | undefined;
  #successes = 0;
  #failures = 0;
  /** Runs in a row whose result was not DOWN (UP or WARN). */
  #notDown = 0;
  readonly #history: CheckRun[] = [];
  #running: Promise<CheckStatus> | undefined;

  constructor(name: string, fn: HealthCheckFunction, options: Required<HealthCheckOptions>, clock: Clock) {
    this.name = name;
    this.#fn = fn;
    this.options = options;
    this.#clock = clock;
  }

  get status(): CheckStatus {
    return this.#status;
  }

  /** The last run, if any. */
  get lastRun(): CheckRun | undefined {
    return this.#history.at(-1);
  }

  /** True when the last result is younger than `cacheMs`. */
  isFresh(): boolean {
    return this.#lastCheckedAt !== undefined && this.#clock.now() - this.#lastCheckedAt < this.options.cacheMs;
  }

  /**
   * How many runs in a row ended UP or WARN: what a wait for readiness counts against `successBeforePassing`
   * (the status turns PASSING on the first UP, as Consul's does).
   */
  get passedInARow(): number {
    return this.#notDown;
  }

  /**
   * Runs the check (joining a run in progress) and resolves with the status after it. When `signal` aborts, the
   * run rejects with its reason and records nothing.
   */
  run(signal?: AbortSignal): Promise<CheckStatus> {
    this.#running ??= this.#runOnce(signal).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #runOnce(signal: AbortSignal | undefined): Promise<CheckStatus> {
    const started = this.#clock.now();
    let result: HealthResult;
    let error: string | undefined;
    try {
      result = normalize(
        await runWithTimeout((signal) => this.#fn(signal), {
          clock: this.#clock,
          timeoutMs: this.options.timeoutMs,
          signal,
          onTimeout: () =>
            new KaryonError('ERR_HEALTH_CHECK_TIMEOUT', `health check '${this.name}' timed out after ${this.options.timeoutMs} ms`),
        }),
      );
    } catch (thrown) {
      if (signal?.aborted === true) throw thrown;
      error = errorMessage(thrown);
      result = { status: 'DOWN', details: { error } };
    }
    const now = this.#clock.now();
    this.#record(result, error, now, now - started);
    return this.#status;
  }

  #record(result: HealthResult, error: string | undefined, at: number, durationMs: number): void {
    this.#lastResult = result;
    this.#lastError = error;
    this.#lastCheckedAt = at;
    this.#history.push({ at, result: result.status, durationMs });
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#notDown = result.status === 'DOWN' ? 0 : this.#notDown + 1;
    switch (result.status) {
      case 'UP':
        this.#successes++;
        this.#failures = 0;
        if (this.#status === 'PENDING' || this.#successes >= this.options.successBeforePassing) this.#status = 'PASSING';
        break;
      case 'DOWN':
        this.#failures++;
        this.#successes = 0;
        if (this.#status === 'PENDING' || this.#failures >= this.options.failuresBeforeCritical) this.#status = 'CRITICAL';
        break;
      case 'WARN':
        this.#successes = 0;
        this.#failures = 0;
        this.#status = 'WARNING';
        break;
    }
  }

  report(): CheckReport {
    return {
      name: this.name,
      kind: this.options.kind,
      status: this.#status,
      lastResult: this.#lastResult,
      lastError: this.#lastError,
      lastCheckedAt: this.#lastCheckedAt,
      consecutiveSuccesses: this.#successes,
      consecutiveFailures: this.#failures,
      options: this.options,
      history: [...this.#history],
    };
  }
}

function normalize(value: unknown): HealthResult {
  if (value === true) return { status: 'UP' };
  if (value === false) return { status: 'DOWN' };
  if (typeof value === 'object' && value !== null) {
    const { status, details } = value as { status?: unknown; details?: unknown };
    if (status === 'UP' || status === 'DOWN' || status === 'WARN') {
      return typeof details === 'object' && details !== null
        ? { status, details: details as Record<string, unknown> }
        : { status };
    }
  }
  throw new KaryonError(
    'ERR_HEALTH_CHECK_FAILED',
    `health check returned ${JSON.stringify(value) ?? String(value)}; expected a boolean or { status: 'UP' | 'WARN' | 'DOWN' }`,
  );
}
