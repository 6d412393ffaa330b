import type { CommandState } from './CommandEvents.js';
import type { CommandCounts, HealthCounts, LatencySummary } from './CommandMetrics.js';
import type { CommandSettings } from './CommandSettings.js';

/** The state of a command's bulkhead. */
export interface BulkheadSnapshot {
  /** Executions running now. */
  readonly running: number;
  /** Calls waiting for a permit now. */
  readonly queued: number;
  /** The most executions that ever ran at once. */
  readonly largestRunning: number;
  /** Executions finished since the command was made. */
  readonly completed: number;
  /** Executions started within the rolling window. */
  readonly rollingExecuted: number;
  /** Calls turned away within the rolling window. */
  readonly rollingRejected: number;
  /** The most executions running at once within the rolling window. */
  readonly rollingMaxRunning: number;
}

/** Latency over the percentile window. */
export interface CommandLatency {
  /** Executions: the work alone, for calls that ran. */
  readonly execute: LatencySummary;
  /** Whole calls, fallback included, short-circuited and rejected calls too. */
  readonly total: LatencySummary;
}

/**
 * Everything known of a command at one moment: what `GET /breakers` shows and `hystrix.stream` is made from.
 * Percentiles are computed when the snapshot is taken, never on the call path.
 */
export interface CommandSnapshot {
  /** The command's name. */
  readonly name: string;
  /** The command's group. */
  readonly group: string;
  /** Set when the breaker is not one of our commands but an adopted one (`'opossum'`). */
  readonly adopted?: 'opossum';
  /** What the command does with a call now. */
  readonly state: CommandState;
  /** True when calls are short-circuited now, as Hystrix's `isCircuitBreakerOpen` (half-open and forced open included). */
  readonly circuitOpen: boolean;
  /** When the circuit last opened (epoch ms), while it is open or half-open. */
  readonly openedAt: number | undefined;
  /** When the snapshot was taken (epoch ms). */
  readonly at: number;
  /** The settings in force. */
  readonly settings: CommandSettings;
  /** The inputs of the error percentage, over the rolling window. */
  readonly health: HealthCounts;
  /** Outcome counts over the rolling window. */
  readonly rolling: CommandCounts;
  /** Outcome counts since the command was made. */
  readonly cumulative: CommandCounts;
  /** The bulkhead. */
  readonly bulkhead: BulkheadSnapshot;
  /** Latency of executions and of whole calls, over the percentile window. */
  readonly latency: CommandLatency;
}
