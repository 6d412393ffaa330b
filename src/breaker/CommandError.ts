import type { ErrorCode, KaryonErrorOptions } from '../common/KaryonError.js';
import { KaryonError } from '../common/KaryonError.js';

/** The codes a command rejects with on its own account (the work's own errors are passed through as thrown). */
export type CommandErrorCode = Extract<ErrorCode, 'ERR_BREAKER_OPEN' | 'ERR_COMMAND_TIMEOUT' | 'ERR_BULKHEAD_FULL'>;

// As KaryonError's own mark: `instanceof CommandError` holds across two installed copies of the package. Without
// its own `Symbol.hasInstance`, the inherited one would call every KaryonError a CommandError.
const kCommandError = Symbol.for('karyon-ts.error.CommandError');

/**
 * A call refused or cut short by a command: its circuit was open (`ERR_BREAKER_OPEN`), its bulkhead full
 * (`ERR_BULKHEAD_FULL`) or its time ran out (`ERR_COMMAND_TIMEOUT`). A subclass of {@link KaryonError} only to
 * carry the command's name and group, which a caller needs to tell which dependency refused.
 *
 * @example
 * ```ts
 * try { await getUser(id); }
 * catch (error) {
 *   if (error instanceof CommandError && error.code === 'ERR_BREAKER_OPEN') { ... error.command ... }
 * }
 * ```
 */
export class CommandError extends KaryonError {
  /** The command's name. */
  readonly command: string;
  /** The command's group. */
  readonly group: string;

  /**
   * True for errors made by any copy of this class, this installed copy of the package or another.
   * @param instance - the value tested by `instanceof`
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return typeof instance === 'object' && instance !== null && (instance as Record<symbol, unknown>)[kCommandError] === true;
  }

  /**
   * @param code - why the command refused the call
   * @param message - what happened, naming the command
   * @param command - the command's name
   * @param group - the command's group
   * @param options - cause and structured fields
   */
  constructor(code: CommandErrorCode, message: string, command: string, group: string, options: KaryonErrorOptions = {}) {
    super(code, message, options);
    this.name = 'CommandError';
    this.command = command;
    this.group = group;
    Object.defineProperty(this, kCommandError, { value: true });
  }
}
