import type { CommandError } from './CommandError.js';
import type { HealthCounts } from './CommandMetrics.js';

/**
 * What a command does with a call now. `CLOSED`, `OPEN` and `HALF_OPEN` are the circuit's own states
 * (half-open while the one trial call after the sleep window is in flight); the forced states and
 * `DISABLED` (`breakerEnabled: false`) are settings that override it.
 */
export const CommandState = {
  /** Calls run; the error percentage is watched. */
  CLOSED: 'CLOSED',
  /** Calls are short-circuited until the sleep window has passed. */
  OPEN: 'OPEN',
  /** One trial call is in flight; other calls are short-circuited. */
  HALF_OPEN: 'HALF_OPEN',
  /** `forceOpen` is set: every call is short-circuited. */
  FORCED_OPEN: 'FORCED_OPEN',
  /** `forceClosed` is set: no call is short-circuited. */
  FORCED_CLOSED: 'FORCED_CLOSED',
  /** `breakerEnabled` is off: no call is short-circuited. */
  DISABLED: 'DISABLED',
} as const;

/** One of {@link CommandState}'s values. */
export type CommandState = (typeof CommandState)[keyof typeof CommandState];

/** A change of a command's {@link CommandState}. */
export interface CommandStateChange {
  /** The command's name. */
  readonly command: string;
  /** The command's group. */
  readonly group: string;
  /** The state before. */
  readonly from: CommandState;
  /** The state after. */
  readonly to: CommandState;
  /** Why: `'tripped'`, `'sleep window passed'`, `'trial succeeded'`, `'trial failed'`, `'forced'`, `'reset'`... */
  readonly reason: string;
  /** The window's health counts when it happened. */
  readonly health: HealthCounts;
  /** When (epoch ms). */
  readonly at: number;
}

/** A call refused without running: the circuit was open or the bulkhead full. */
export interface CommandRejectEvent {
  /** The command's name. */
  readonly command: string;
  /** The command's group. */
  readonly group: string;
  /** Why the call was refused. */
  readonly reason: 'shortCircuited' | 'bulkheadFull';
  /** The error the call fails with unless a fallback answers. */
  readonly error: CommandError;
  /** When (epoch ms). */
  readonly at: number;
}

/** A call that ran out of time. */
export interface CommandTimeoutEvent {
  /** The command's name. */
  readonly command: string;
  /** The command's group. */
  readonly group: string;
  /** The timeout in force, in ms. */
  readonly timeoutMs: number;
  /** True when the call was still waiting for the bulkhead. */
  readonly whileQueued: boolean;
  /** When (epoch ms). */
  readonly at: number;
}

/** A fallback that ran, or was refused because too many ran at once. */
export interface CommandFallbackEvent {
  /** The command's name. */
  readonly command: string;
  /** The command's group. */
  readonly group: string;
  /** How the fallback ended. */
  readonly outcome: 'success' | 'failure' | 'rejected';
  /** What made the call fall back: the work's error, or the command's own `CommandError`. */
  readonly cause: unknown;
  /** The fallback's own error, when it failed. */
  readonly error?: unknown;
  /** When (epoch ms). */
  readonly at: number;
}

/** The events a command emits, each with one payload type. */
export interface CommandEvents {
  /** The circuit opened (tripped, a trial failed, or forced open). */
  open: [change: CommandStateChange];
  /** The sleep window passed and a trial call is going through. */
  halfOpen: [change: CommandStateChange];
  /** The circuit closed (a trial succeeded, a reset, or forced closed / disabled). */
  close: [change: CommandStateChange];
  /** Any change of {@link CommandState}, the three above included. */
  stateChange: [change: CommandStateChange];
  /** A call was refused: short-circuited or turned away by the bulkhead. */
  reject: [event: CommandRejectEvent];
  /** A call ran out of time. */
  timeout: [event: CommandTimeoutEvent];
  /** A fallback ran (or was refused). */
  fallback: [event: CommandFallbackEvent];
}
