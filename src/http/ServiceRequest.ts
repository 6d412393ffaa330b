import type { RequestBody } from './Transport.js';

/** One request to a service. */
export interface ServiceRequest {
  /**
   * The HTTP method.
   * @default 'GET'
   */
  readonly method?: string;
  /** Path and query, starting with `/`. */
  readonly path: string;
  /** Request headers. */
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** The body: a string or bytes can be retried; a stream disables retries and hedging. */
  readonly body?: RequestBody;
  /** Cancels the call: every try in flight is aborted and the call rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Whether the request may be sent twice: then failures after the request may have been written (resets,
   * timeouts, retryable statuses) are retried, and hedging applies. Failures before any byte was sent (a
   * refused connection, a connect timeout) and out-of-service answers are retried whatever this says.
   * @default true for GET, HEAD, OPTIONS, PUT, DELETE and TRACE
   */
  readonly idempotent?: boolean;
  /**
   * Per-try timeout for this request, in ms.
   * @default the client's `timeoutMs`
   */
  readonly timeoutMs?: number;
  /**
   * Deadline of this call, in ms.
   * @default the client's `deadlineMs`
   */
  readonly deadlineMs?: number;
  /**
   * Set false to never hedge this request.
   * @default true when the client hedges
   */
  readonly hedge?: boolean;
}
