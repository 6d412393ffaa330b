/** A response as one side of a comparison shows it in the admin API. */
export interface ShadowResponseView {
  /** The HTTP status. */
  readonly status: number;
  /** The compared headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body: parsed JSON, text (cut at 4096 characters), or null when it was not kept (too large, unread). */
  readonly body: unknown;
}

/** One request whose shadow answer differed from the primary's. */
export interface ShadowDifference {
  /** When the request came (epoch ms). */
  readonly at: number;
  /** The shadow VIP that answered. */
  readonly vip: string;
  /** The request method. */
  readonly method: string;
  /** The request path and query. */
  readonly path: string;
  /** The primary's answer. */
  readonly primary: ShadowResponseView;
  /** The shadow's answer. */
  readonly shadow: ShadowResponseView;
  /** The fields that differ once ignored fields and noise are left out: `status`, `headers.<name>`, `body...`. */
  readonly fields: readonly string[];
}

/** Counts of one shadow VIP. */
export interface ShadowTargetReport {
  /** The shadow VIP. */
  readonly vip: string;
  /** Copies sent. */
  readonly sent: number;
  /** Copies never sent: the queue was full, or the kill switch or `close()` dropped them. */
  readonly dropped: number;
  /** Copies sent that got no answer (refused, timed out, no instance). */
  readonly failed: number;
  /** Copies in flight when the kill switch or `close()` cut them. */
  readonly aborted: number;
  /** Answers compared with the primary's. */
  readonly compared: number;
  /** Comparisons without a difference. */
  readonly matches: number;
  /** Comparisons with a difference. */
  readonly mismatches: number;
  /** Copies in flight now. */
  readonly inFlight: number;
  /** Copies waiting for a slot now. */
  readonly queued: number;
  /** The state of the client's breaker (`CLOSED`, `OPEN`, `HALF_OPEN`), or null without one. */
  readonly breaker: string | null;
}

/** Noise learning as the admin API shows it. */
export interface ShadowNoiseReport {
  /** The VIP of the current version answering the second request. */
  readonly vip: string;
  /** Share of compared requests also sent there. */
  readonly rate: number;
  /** Second requests sent. */
  readonly sent: number;
  /** Second requests that got no answer. */
  readonly failed: number;
  /** Second requests never sent (queue full, kill switch). */
  readonly dropped: number;
  /** Fields learned as noise (array indices as `[*]`), with how many times two answers differed in them. */
  readonly fields: Readonly<Record<string, number>>;
}

/** What `GET /shadow` answers. */
export interface ShadowReport {
  /** False when the kill switch is on. */
  readonly enabled: boolean;
  /** Share of matching requests copied. */
  readonly rate: number;
  /** Counts per shadow VIP. */
  readonly targets: readonly ShadowTargetReport[];
  /** The most recent differences, oldest first. */
  readonly differences: readonly ShadowDifference[];
  /** Requests that matched the filters and were sampled. */
  readonly sampled: number;
  /** Sampled requests not copied, by reason (`body_too_large`, `body_unavailable`). */
  readonly skipped: Readonly<Record<string, number>>;
  /** Whether answers are compared. */
  readonly comparing: boolean;
  /** The fields never compared, as configured. */
  readonly ignored: readonly string[];
  /** Noise learning, or null when off. */
  readonly noise: ShadowNoiseReport | null;
}
