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

/** The status class tag of an HTTP status: `2xx`..`5xx`, or `none` when no response came back. */
export function statusClass(status: number | undefined): string {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx`;
}

/** What the service client records; `clientMetrics(metrics)` makes one. */
export interface ClientMetrics {
  /**
   * Records one call to `target` as its caller sees it, retries and hedges included: its outcome (`success`,
   * `error_status`, `failure`, `timeout`, `aborted`...), its status class (`2xx`..`5xx`, or `none` when no response came back) and its
   * latency in ms.
   */
  request(target: string, outcome: string, statusClass: string, durationMs: number): void;
  /** Counts a retry sent. */
  retry(target: string): void;
  /** Counts a retry not sent because the retry budget was spent. */
  retryBudgetExhausted(target: string): void;
  /** Counts a hedged request sent. */
  hedge(target: string): void;
  /** Counts an instance ejected as an outlier. */
  ejection(target: string): void;
  /**
   * Sets an instance's gauges once per success-rate interval: its share of the tries and its error rate (0 to
   * 1), and the rule's cost (NaN for rules without one): why an instance gets little traffic.
   */
  instance?(target: string, instance: string, share: number, errorRate: number, cost: number): void;
}
