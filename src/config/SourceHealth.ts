import type { ConfigSourceContext, ConfigSourceStatus } from './types.js';

/**
 * The read health of a file or remote source: its state, failures in a row, last error and last success, as its
 * `status()` reports them. Once closed, reads that finish late change nothing.
 */
export class SourceHealth {
  state: ConfigSourceStatus['state'] = 'pending';
  lastSuccessAt: number | undefined;
  lastError: string | undefined;
  failures = 0;

  // A method, not a field test, so checks after an await are not narrowed away by the compiler.
  isClosed(): boolean {
    return this.state === 'closed';
  }

  /** A read worked. */
  succeeded(context: ConfigSourceContext | undefined): void {
    if (this.isClosed()) return;
    this.state = 'ok';
    this.failures = 0;
    this.lastError = undefined;
    this.lastSuccessAt = context?.clock.now();
  }

  /** A read failed: the last good values stay in force; the configuration hears of it. */
  failed(context: ConfigSourceContext | undefined, error: string): void {
    if (this.isClosed()) return;
    this.state = 'failing';
    this.failures++;
    this.lastError = error;
    context?.failed(error, this.failures);
  }

  close(): void {
    this.state = 'closed';
  }

  /** The fields of `status()` this tracks. */
  report(): Pick<ConfigSourceStatus, 'state' | 'lastSuccessAt' | 'lastError' | 'consecutiveFailures'> {
    return { state: this.state, lastSuccessAt: this.lastSuccessAt, lastError: this.lastError, consecutiveFailures: this.failures };
  }
}
