import type { Clock } from '../common/Clock.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import type { CommandCounts } from '../breaker/CommandMetrics.js';
import type { CommandStateChange } from '../breaker/CommandEvents.js';
import { builtinMetrics, breakerMetrics } from './builtin.js';
import type { Metrics } from './types.js';

/** The outcomes reported as `karyon.breaker.calls`, by the count they come from. */
const outcomes: readonly (readonly [keyof CommandCounts, string])[] = [
  ['success', 'success'],
  ['failure', 'failure'],
  ['timeout', 'timeout'],
  ['shortCircuited', 'short_circuited'],
  ['semaphoreRejected', 'rejected'],
  ['badRequest', 'bad_request'],
  ['fallbackSuccess', 'fallback_success'],
  ['fallbackFailure', 'fallback_failure'],
];

/**
 * Reports a command registry as the built-in breaker metrics, from outside it: each `stateChange` event at
 * once, and calls by outcome every `intervalMs` from the commands' cumulative counts, with a last report on
 * `close()`. The calls are read, not emitted per call, so a command's hot path does no metrics work and statsd
 * gets one aggregated count per interval.
 */
export class BreakerMetricsReporter {
  readonly #commands: CommandRegistry;
  readonly #metrics: Metrics;
  readonly #task: RepeatingTask;
  readonly #reported = new Map<string, Map<string, number>>();
  readonly #onStateChange: (change: CommandStateChange) => void;
  #closing: Promise<void> | undefined;

  constructor(commands: CommandRegistry, metrics: Metrics, clock: Clock, intervalMs = 10_000) {
    this.#commands = commands;
    this.#metrics = metrics;
    const breakers = breakerMetrics(metrics);
    this.#onStateChange = (change) => breakers.state(change.command, change.to.toLowerCase());
    commands.on('stateChange', this.#onStateChange);
    this.#task = new RepeatingTask({
      clock,
      initialDelayMs: intervalMs,
      run: () => {
        this.#report();
        return Promise.resolve(intervalMs);
      },
    });
  }

  /** Reports what is left and stops. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#task.close().then(() => {
      this.#report();
      this.#commands.off('stateChange', this.#onStateChange);
    });
    return this.#closing;
  }

  #report(): void {
    for (const snapshot of this.#commands.snapshots()) {
      let seen = this.#reported.get(snapshot.name);
      if (seen === undefined) this.#reported.set(snapshot.name, (seen = new Map<string, number>()));
      for (const [count, outcome] of outcomes) {
        const total = snapshot.cumulative[count];
        const delta = total - (seen.get(outcome) ?? 0);
        if (delta <= 0) continue;
        seen.set(outcome, total);
        this.#metrics.counter(builtinMetrics.breakerCalls.name, { breaker: snapshot.name, outcome }, { help: builtinMetrics.breakerCalls.description }).increment(delta);
      }
    }
  }
}
