// The events shadow traffic emits. Declared here, below both, because shadow traffic (`http`) emits them and the
// metrics subsystem, a lower layer than `http`, subscribes to them: neither imports the other.

/**
 * What became of a copy to a shadow VIP: `sent`, `dropped` (the bounded queue was full, or the kill switch or
 * `close()` dropped it before it was sent), `failed` (sent, no answer) or `aborted` (in flight when the kill
 * switch or `close()` cut it).
 */
export type ShadowCopyOutcome = 'sent' | 'dropped' | 'failed' | 'aborted';

/** A copy to a shadow VIP, by what became of it. */
export interface ShadowCopyEvent {
  /** The shadow VIP. */
  readonly vip: string;
  /** What became of the copy. */
  readonly outcome: ShadowCopyOutcome;
}

/** A copy's answer came: how long until its response headers. */
export interface ShadowAnswerEvent {
  /** The shadow VIP. */
  readonly vip: string;
  /** Time from sending the copy to its response headers, in ms. */
  readonly durationMs: number;
}

/** A sampled request that was not copied: `body_too_large` or `body_unavailable`. */
export interface ShadowSkipEvent {
  /** Why it was not copied. */
  readonly reason: string;
}

/** A shadow answer compared with the primary's. */
export interface ShadowComparisonEvent {
  /** The shadow VIP. */
  readonly vip: string;
  /** `match` or `mismatch`. */
  readonly result: 'match' | 'mismatch';
}

/** The events of a `ShadowTraffic` (an eventemitter3 emitter): what the built-in shadow metrics are made of. */
export interface ShadowTrafficEvents {
  /** A copy was sent, dropped, failed or aborted. */
  copy: [event: ShadowCopyEvent];
  /** A copy's response headers came. */
  answer: [event: ShadowAnswerEvent];
  /** A sampled request was not copied. */
  skip: [event: ShadowSkipEvent];
  /** A shadow answer was compared with the primary's. */
  comparison: [event: ShadowComparisonEvent];
}

/** What shadow traffic records (see `docs/shadow.md`); `shadowMetrics(metrics)` makes one. */
export interface ShadowMetrics {
  /**
   * Counts a copy to the shadow VIP `target` by outcome: `sent`, `dropped` (queue full, kill switch or close
   * before it was sent), `failed` (sent, no answer) or `aborted` (in flight when the kill switch or close
   * cut it).
   */
  copy(target: string, outcome: string): void;
  /** Counts a sampled request that was not copied: `body_too_large` or `body_unavailable`. */
  skipped(reason: string): void;
  /** Counts a comparison of a shadow answer with the primary's: `match` or `mismatch`. */
  comparison(target: string, result: string): void;
  /** Records how long a copy to `target` took until its response headers, in ms. */
  latency(target: string, durationMs: number): void;
}
