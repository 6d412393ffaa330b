// The events a service client emits. Declared here, below both, because the client (`http`) emits them and the
// metrics subsystem, a lower layer than `http`, subscribes to them: neither imports the other.

/** How a call ended, as its caller saw it: the `outcome` tag of `karyon.client.requests`. */
export type ClientCallOutcome = 'success' | 'error_status' | 'failure' | 'timeout' | 'aborted';

/** One call as its caller saw it, retries and hedges included. */
export interface ClientCallEvent {
  /** The VIP address called. */
  readonly vip: string;
  /**
   * `success` for a response below 500, `error_status` for a 5xx response, `timeout` when answers came too
   * late, `aborted` when the caller cancelled, `failure` when no response came for another reason.
   */
  readonly outcome: ClientCallOutcome;
  /** The response's status code, or undefined when no response came back. */
  readonly statusCode: number | undefined;
  /** How long the call took, in ms. */
  readonly durationMs: number;
}

/** Something a client did for a call to its VIP: a retry or a hedge sent, or one the retry budget refused. */
export interface ClientVipEvent {
  /** The VIP address called. */
  readonly vip: string;
}

/** An instance the client's outlier detection ejected from balancing. */
export interface ClientEjectionEvent {
  /** The VIP address called. */
  readonly vip: string;
  /** The instance ejected. */
  readonly instanceId: string;
}

/**
 * One instance's traffic over the last success-rate interval or two: why an instance gets little traffic.
 * Emitted for every instance once per interval.
 */
export interface ClientInstanceTrafficEvent {
  /** The VIP address called. */
  readonly vip: string;
  /** The instance. */
  readonly instanceId: string;
  /** Its share of the client's tries (0 to 1). */
  readonly share: number;
  /** The share of its tries that failed (0 to 1). */
  readonly errorRate: number;
  /** What the balancing rule thinks one more request there costs (p2c-ewma: ms); NaN for rules without a cost. */
  readonly cost: number;
}

/**
 * The events of a `ServiceClient` (an eventemitter3 emitter): what the built-in client metrics are made of.
 * A client with no listener for `call` does no work for it.
 */
export interface ServiceClientEvents {
  /** A call ended (retries and hedges included). */
  call: [event: ClientCallEvent];
  /** A retry was sent. */
  retry: [event: ClientVipEvent];
  /** A retry or hedge was not sent because the retry budget was spent. */
  retryBudgetExhausted: [event: ClientVipEvent];
  /** A hedged request was sent. */
  hedge: [event: ClientVipEvent];
  /** An instance was ejected as an outlier. */
  ejection: [event: ClientEjectionEvent];
  /** An instance's traffic over the last interval, once per success-rate interval for each instance. */
  instanceTraffic: [event: ClientInstanceTrafficEvent];
}
