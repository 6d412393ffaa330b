// Every error code the library throws, with whether an operation failing with it may succeed when retried.
// `docs/errors.md` lists the same codes; a test keeps the two in step.
const codes = {
  ERR_INVALID_OPTION: { retryable: false },
  ERR_INVALID_CONFIG: { retryable: false },
  ERR_INVALID_STATE: { retryable: false },
  ERR_INVALID_COMPONENT: { retryable: false },
  ERR_HOOK_FAILED: { retryable: false },
  ERR_HOOK_TIMEOUT: { retryable: true },
  ERR_START_ABORTED: { retryable: false },
  ERR_SHUTDOWN: { retryable: false },
  ERR_HEALTH_CHECK_FAILED: { retryable: true },
  ERR_HEALTH_CHECK_TIMEOUT: { retryable: true },
  ERR_DUPLICATE_HEALTH_CHECK: { retryable: false },
  ERR_DUPLICATE_ROUTE: { retryable: false },
  ERR_LISTEN: { retryable: true },
  ERR_REGISTRY_UNAVAILABLE: { retryable: true },
  ERR_NOT_REGISTERED: { retryable: false },
  ERR_EUREKA_PROTOCOL: { retryable: false },
  ERR_NO_INSTANCES: { retryable: true },
  ERR_REQUEST_TIMEOUT: { retryable: true },
  ERR_DEADLINE_EXCEEDED: { retryable: true },
  ERR_RETRY_BUDGET_EXHAUSTED: { retryable: true },
  ERR_UPSTREAM: { retryable: true },
  ERR_METRICS_TRANSPORT: { retryable: true },
  ERR_BREAKER_OPEN: { retryable: false },
  ERR_COMMAND_TIMEOUT: { retryable: true },
  ERR_BULKHEAD_FULL: { retryable: false },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable error code: part of the public contract, listed in `docs/errors.md`. */
export type ErrorCode = keyof typeof codes;

/** What is known of an error code. */
export interface ErrorCodeInfo {
  /** Whether an operation failing with this code may succeed when retried (the default of `KaryonError.retryable`). */
  readonly retryable: boolean;
}

/** Every error code, with whether an operation failing with it may succeed when retried. */
export const errorCodes: Readonly<Record<ErrorCode, ErrorCodeInfo>> = codes;

/** Structured fields a {@link KaryonError} may carry besides its code and message. */
export interface KaryonErrorOptions {
  /** The error that caused this one. */
  readonly cause?: unknown;
  /** The application (service) name the error concerns. */
  readonly service?: string;
  /** The instance id the error concerns. */
  readonly instanceId?: string;
  /** A lifecycle state, registry status or HTTP status the error concerns. */
  readonly status?: string | number;
  /**
   * Whether retrying the failed operation may succeed.
   * @default the code's default in {@link errorCodes}
   */
  readonly retryable?: boolean;
  /** Further errors collected while the failing operation went on (e.g. every failed shutdown hook). */
  readonly errors?: readonly unknown[];
}

// Marks errors of this package in a way two copies of it agree on (undici's `kUndiciError`): with the package
// installed twice (two versions deduplicated apart, or one bundled), `instanceof` against one copy's class fails for
// the other copy's errors, while a registered symbol is the same in both.
const kKaryonError = Symbol.for('karyon-ts.error.KaryonError');

/**
 * The one error class of karyon-ts: a stable `code` to branch on, a readable message, and structured fields.
 * `instanceof KaryonError` (and {@link isKaryonError}) also recognises errors made by another installed copy of
 * the package.
 *
 * @example
 * ```ts
 * try { await service.start(); }
 * catch (error) {
 *   if (error instanceof KaryonError && error.code === 'ERR_HOOK_TIMEOUT') { ... }
 * }
 * ```
 */
export class KaryonError extends Error {
  /** The stable code, listed in `docs/errors.md`. */
  readonly code: ErrorCode;
  /** Whether retrying the failed operation may succeed. */
  readonly retryable: boolean;
  /** The application the error concerns, when known. */
  readonly service: string | undefined;
  /** The instance the error concerns, when known. */
  readonly instanceId: string | undefined;
  /** A lifecycle state, registry status or HTTP status the error concerns, when one applies. */
  readonly status: string | number | undefined;
  /** Further errors collected while the operation went on; empty when there were none. */
  readonly errors: readonly unknown[];

  /**
   * True for errors made by any copy of this class, this installed copy of the package or another.
   * @param instance - the value tested by `instanceof`
   */
  static override [Symbol.hasInstance](instance: unknown): boolean {
    return typeof instance === 'object' && instance !== null && (instance as Record<symbol, unknown>)[kKaryonError] === true;
  }

  /**
   * @param code - the stable error code
   * @param message - what went wrong, naming the thing that was wrong
   * @param options - cause and structured fields
   */
  constructor(code: ErrorCode, message: string, options: KaryonErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KaryonError';
    this.code = code;
    this.retryable = options.retryable ?? errorCodes[code].retryable;
    this.service = options.service;
    this.instanceId = options.instanceId;
    this.status = options.status;
    this.errors = options.errors ?? [];
    Object.defineProperty(this, kKaryonError, { value: true });
  }
}

/**
 * True when `error` is a {@link KaryonError}, optionally with the given code, whichever installed copy of the
 * package made it.
 */
export function isKaryonError(error: unknown, code?: ErrorCode): error is KaryonError {
  return error instanceof KaryonError && (code === undefined || error.code === code);
}
