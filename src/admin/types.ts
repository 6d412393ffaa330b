import type { HealthReport } from '../health/types.js';

/** One lifecycle transition, as the admin API shows it. */
export interface TransitionRecord {
  /** The state before. */
  readonly from: string;
  /** The state after. */
  readonly to: string;
  /** Why it happened. */
  readonly reason: string;
  /** When (epoch ms). */
  readonly at: number;
}

/** What `GET /status` answers. */
export interface StatusReport {
  /** The application name. */
  readonly app: string;
  /** The instance id. */
  readonly instanceId: string;
  /** The VIP address. */
  readonly vipAddress: string;
  /** The zone. */
  readonly zone: string;
  /** The application version, when given. */
  readonly version: string | undefined;
  /** The lifecycle state. */
  readonly status: string;
  /** The status the registry is told. */
  readonly registryStatus: string | undefined;
  /** True while an operator's OUT_OF_SERVICE is in force. */
  readonly outOfServiceByOperator: boolean;
  /** When the current state began (epoch ms). */
  readonly since: number;
  /** When `start()` was called (epoch ms); undefined before. */
  readonly startedAt: number | undefined;
  /** Milliseconds since `start()`. */
  readonly uptimeMs: number;
  /** The app's HTTP port as registered. */
  readonly port: number | undefined;
  /** The recent transitions, oldest first. */
  readonly transitions: readonly TransitionRecord[];
}

/**
 * The small read-mostly view of a service that the admin server works from, so the admin layer does not
 * depend on the lifecycle.
 */
export interface AdminServiceView {
  /** The current status report. */
  status(): StatusReport;
  /** Runs stale checks and reports. */
  health(): Promise<HealthReport>;
  /** Sets or clears the operator's OUT_OF_SERVICE; rejects with ERR_INVALID_STATE when the service cannot. */
  setOperatorStatus(status: 'UP' | 'OUT_OF_SERVICE'): Promise<void>;
}
