import type { InstanceState } from '../balancer/InstanceState.js';
import type { Endpoint } from './Endpoint.js';
import type { ResponseBody, ResponseHeaders, TransportResponse } from './Transport.js';

/** How one try failed. */
export type FailureReason =
  /** No connection: refused, unreachable, connect timeout. Nothing was sent. */
  | 'connect'
  /** The connection closed or reset before the response headers (the request may have been processed). */
  | 'reset'
  /** No response headers within the per-try timeout. */
  | 'timeout'
  /** A status the client retries (502, 503, 504 by default). */
  | 'status'
  /** 503 with the out-of-service header: the instance is leaving and did not process the request. */
  | 'out-of-service'
  /** The instance's pool was closed (it left the registry, or the client closed). */
  | 'unavailable'
  /** Aborted: by the caller, or a hedge that lost. */
  | 'aborted'
  /** Anything else (a bad header, a body stream that failed): not the instance's fault, not retried. */
  | 'other';

/**
 * Whether a failed try certainly did not reach the instance, so any method may go elsewhere: an out-of-service
 * answer (the guard refuses before the handler runs), or a failure before a byte of the request left. With a
 * transport that tracks sending, that is whatever failed before `sent`; otherwise only a failed connection.
 */
export function nothingProcessed(reason: FailureReason, sent: boolean | undefined): boolean {
  if (reason === 'out-of-service') return true;
  if (reason === 'aborted' || reason === 'other' || reason === 'status') return false;
  return sent === undefined ? reason === 'connect' : !sent;
}

/** A failed try: which instance, why, and the response when there was one (to return or discard). */
export class TryFailure {
  readonly state: InstanceState<Endpoint>;
  readonly reason: FailureReason;
  readonly error: unknown;
  readonly response: TransportResponse | undefined;
  /**
   * Whether a byte of the request may have been written: true, false, or undefined when the transport cannot
   * tell (see `Transport.tracksSending`).
   */
  readonly sent: boolean | undefined;
  /** Tries this outcome stands for (2 when a hedged pair both failed). */
  tries = 1;

  constructor(state: InstanceState<Endpoint>, reason: FailureReason, error: unknown, sent: boolean | undefined, response?: TransportResponse) {
    this.state = state;
    this.reason = reason;
    this.error = error;
    this.sent = sent;
    this.response = response;
  }
}

/** The answer of a call, as `ServiceClient.request` resolves it. */
export class ServiceResponse {
  /** The HTTP status. */
  readonly statusCode: number;
  /** Response headers, lower-case names. */
  readonly headers: ResponseHeaders;
  /** The body: read it or dump it. */
  readonly body: ResponseBody;
  /** The instance that answered. */
  readonly instanceId: string;
  /** Tries made, hedges included. */
  tries = 1;

  constructor(response: TransportResponse, instanceId: string) {
    this.statusCode = response.statusCode;
    this.headers = response.headers;
    this.body = response.body;
    this.instanceId = instanceId;
  }
}

const connectCodes = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ETIMEDOUT',
]);
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'ERR_REQUEST_TIMEOUT']);
const unavailableCodes = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

/**
 * Classifies a transport error by the codes on it and its causes (undici puts them on the error, the global
 * fetch on its cause, node-fetch on its FetchError).
 */
export function classifyError(error: unknown): FailureReason {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (connectCodes.has(code)) return 'connect';
      if (resetCodes.has(code)) return 'reset';
      if (timeoutCodes.has(code)) return 'timeout';
      if (unavailableCodes.has(code)) return 'unavailable';
    }
    // node-fetch reports a connection closed before the response this way, without a code.
    if (current instanceof Error && /socket hang up|other side closed/i.test(current.message)) return 'reset';
    current = (current as { cause?: unknown }).cause;
  }
  return 'other';
}
