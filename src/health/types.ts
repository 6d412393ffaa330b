/** What a health check function reports: `UP`, `WARN` (degraded but serving) or `DOWN`, with optional details. */
export interface HealthResult {
  /** The outcome. */
  readonly status: 'UP' | 'WARN' | 'DOWN';
  /** Anything useful to an operator; shown by the admin API. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * A health check: returns a {@link HealthResult} or a boolean (`true` = UP), or throws (= DOWN).
 * It receives a signal that aborts when its timeout passes.
 */
export type HealthCheckFunction = (
  signal: AbortSignal,
) => HealthResult | boolean | PromiseLike<HealthResult | boolean>;

/** Which verdict a check feeds: readiness (take traffic?) or liveness (keep the process?). */
export type HealthCheckKind = 'readiness' | 'liveness';

/**
 * The state of a check after hysteresis, as Consul names them. `PENDING` until its first result, which it
 * takes at once; after that it changes only after `successBeforePassing` / `failuresBeforeCritical`
 * consecutive results that disagree with it.
 */
export type CheckStatus = 'PENDING' | 'PASSING' | 'WARNING' | 'CRITICAL';

/** Options of one health check. */
export interface HealthCheckOptions {
  /**
   * Which verdict the check feeds.
   * @default 'readiness'
   */
  readonly kind?: HealthCheckKind;
  /**
   * How long one run may take before it counts as DOWN, in ms.
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * How often the check runs in the background, in ms.
   * @default 10000
   */
  readonly intervalMs?: number;
  /**
   * How long a result is reused by requests to the health endpoints before the check runs again, in ms.
   * @default 1000
   */
  readonly cacheMs?: number;
  /**
   * Consecutive UP results needed to become PASSING again.
   * @default 1
   */
  readonly successBeforePassing?: number;
  /**
   * Consecutive DOWN results needed to become CRITICAL.
   * @default 1
   */
  readonly failuresBeforeCritical?: number;
}

/** One past run of a check. */
export interface CheckRun {
  /** When it finished (epoch ms). */
  readonly at: number;
  /** What it returned. */
  readonly result: 'UP' | 'WARN' | 'DOWN';
  /** How long it took, in ms. */
  readonly durationMs: number;
}

/** The state of one check, as the admin API shows it. */
export interface CheckReport {
  /** The check's name. */
  readonly name: string;
  /** Which verdict it feeds. */
  readonly kind: HealthCheckKind;
  /** Its state after hysteresis. */
  readonly status: CheckStatus;
  /** Its last result, with details; undefined before the first run. */
  readonly lastResult: HealthResult | undefined;
  /** The error message of the last run, if it threw or timed out. */
  readonly lastError: string | undefined;
  /** When it last finished (epoch ms); undefined before the first run. */
  readonly lastCheckedAt: number | undefined;
  /** Consecutive UP results. */
  readonly consecutiveSuccesses: number;
  /** Consecutive DOWN results. */
  readonly consecutiveFailures: number;
  /** Its settings. */
  readonly options: Required<HealthCheckOptions>;
  /** The last runs, oldest first. */
  readonly history: readonly CheckRun[];
}

/** Every check, and the verdicts they add up to. */
export interface HealthReport {
  /** True when no readiness check is CRITICAL (a check that has not run yet does not count). */
  readonly ready: boolean;
  /** True when no liveness check is CRITICAL. */
  readonly live: boolean;
  /** Each check by name. */
  readonly checks: Readonly<Record<string, CheckReport>>;
}
