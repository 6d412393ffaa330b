import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { jitter } from '../internal/async.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import { HealthCheck, resolveHealthCheckOptions } from './HealthCheck.js';
import type { CheckReport, CheckStatus, HealthCheckFunction, HealthCheckOptions, HealthReport } from './types.js';

/** A check whose status changed, as reported to the monitor's owner. */
export interface CheckChange {
  /** The check's name. */
  readonly name: string;
  /** Its status before. */
  readonly from: CheckStatus;
  /** Its status now. */
  readonly to: CheckStatus;
  /** Its report after the change. */
  readonly report: CheckReport;
}

/** Options of {@link HealthMonitor}. */
export interface HealthMonitorOptions {
  /** Time source for timeouts, intervals and timestamps. */
  readonly clock: Clock;
  /** Called after a check's status changes. */
  readonly onCheckChange?: (change: CheckChange) => void;
  /** Called after the readiness or liveness verdict changes. */
  readonly onVerdictChange?: (verdict: { ready: boolean; live: boolean }) => void;
  /** Called after every run of a check, with its result and duration (for metrics). */
  readonly onCheckRun?: (name: string, result: 'UP' | 'WARN' | 'DOWN', durationMs: number) => void;
}

/**
 * Runs a set of health checks, in the background once started, and adds their statuses up to two verdicts:
 * ready (no readiness check CRITICAL) and live (no liveness check CRITICAL).
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  readonly #checks = new Map<string, HealthCheck>();
  readonly #tasks = new Map<string, RepeatingTask>();
  #started = false;
  #closed = false;
  #ready = true;
  #live = true;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
  }

  /** Adds a check; it starts running at once if the monitor is started. */
  add(name: string, fn: HealthCheckFunction, options?: HealthCheckOptions): void {
    if (typeof name !== 'string' || name === '') {
      throw new KaryonError('ERR_INVALID_OPTION', `health check name must be a non-empty string (got ${String(name)})`);
    }
    if (typeof fn !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `health check '${name}' must be a function (got ${typeof fn})`);
    }
    if (this.#checks.has(name)) {
      throw new KaryonError('ERR_DUPLICATE_HEALTH_CHECK', `a health check named '${name}' is already registered`);
    }
    const check = new HealthCheck(name, fn, resolveHealthCheckOptions(name, options), this.#options.clock);
    this.#checks.set(name, check);
    if (this.#started && !this.#closed) this.#schedule(check, 0);
    this.#updateVerdict();
  }

  /** Removes a check. Returns false when there was none by that name. */
  remove(name: string): boolean {
    const removed = this.#checks.delete(name);
    void this.#tasks.get(name)?.close();
    this.#tasks.delete(name);
    if (removed) this.#updateVerdict();
    return removed;
  }

  /** True when no readiness check is CRITICAL (a check that has not run yet does not count). */
  get ready(): boolean {
    return this.#ready;
  }

  /** True when no liveness check is CRITICAL. */
  get live(): boolean {
    return this.#live;
  }

  /** Number of checks. */
  get size(): number {
    return this.#checks.size;
  }

  /** Runs every check once, now, and waits for all of them. */
  async runAll(): Promise<void> {
    await Promise.all([...this.#checks.values()].map((check) => this.#run(check)));
  }

  /** Starts each check's background schedule (first run after a jittered interval). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    for (const check of this.#checks.values()) this.#schedule(check, jitter(check.options.intervalMs, 0.1));
  }

  /** Re-runs the checks whose last result is older than their `cacheMs`, then reports. */
  async evaluate(): Promise<HealthReport> {
    await Promise.all([...this.#checks.values()].filter((c) => !c.isFresh()).map((check) => this.#run(check)));
    return this.report();
  }

  /** The current state of every check, without running any. */
  report(): HealthReport {
    const checks: Record<string, CheckReport> = {};
    for (const [name, check] of this.#checks) checks[name] = check.report();
    return { ready: this.#ready, live: this.#live, checks };
  }

  /** Stops the background runs. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const tasks = [...this.#tasks.values()];
    this.#tasks.clear();
    await Promise.all(tasks.map((task) => task.close()));
  }

  #schedule(check: HealthCheck, initialDelayMs: number): void {
    this.#tasks.set(
      check.name,
      new RepeatingTask({
        clock: this.#options.clock,
        initialDelayMs,
        run: async () => {
          await this.#run(check);
          return jitter(check.options.intervalMs, 0.1);
        },
      }),
    );
  }

  async #run(check: HealthCheck): Promise<void> {
    const from = check.status;
    const to = await check.run();
    // A check removed while it ran no longer counts.
    if (this.#checks.get(check.name) !== check) return;
    const last = check.lastRun;
    if (last !== undefined) this.#options.onCheckRun?.(check.name, last.result, last.durationMs);
    if (from !== to) this.#options.onCheckChange?.({ name: check.name, from, to, report: check.report() });
    this.#updateVerdict();
  }

  #updateVerdict(): void {
    let ready = true;
    let live = true;
    for (const check of this.#checks.values()) {
      if (check.options.kind === 'readiness') {
        if (check.status === 'CRITICAL') ready = false;
      } else if (check.status === 'CRITICAL') {
        live = false;
      }
    }
    if (ready === this.#ready && live === this.#live) return;
    this.#ready = ready;
    this.#live = live;
    this.#options.onVerdictChange?.({ ready, live });
  }
}
