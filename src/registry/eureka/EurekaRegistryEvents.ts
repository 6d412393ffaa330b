import type { HashMismatchEvent, InstanceStatus } from '../types.js';
import type { ViewProtectionEvent } from './ViewGuard.js';

// Declared with the registry seam, whose fetch report shows the last one.
export type { HashMismatchEvent };

/** A write to Eureka on behalf of a registered instance. */
export type RegistrationOperation =
  /** `POST /apps/{APP}`: register or re-register with a status. */
  | 'register'
  /** `PUT /apps/{APP}/{ID}/status?value=OUT_OF_SERVICE`: set the override. */
  | 'statusOverride'
  /** `DELETE /apps/{APP}/{ID}/status?value=...`: remove the override. */
  | 'removeOverride'
  /** `DELETE /apps/{APP}/{ID}`: cancel the lease. */
  | 'cancel';

/** One attempt at a registration write, finished (successful or not). */
export interface RegistrationEvent {
  /** What was attempted. */
  readonly operation: RegistrationOperation;
  /** The application, upper case. */
  readonly app: string;
  /** The instance. */
  readonly instanceId: string;
  /** The status sent (for `register`) or set (for the override operations); `DOWN` for `cancel`. */
  readonly status: InstanceStatus;
  /** Whether the server accepted it. */
  readonly ok: boolean;
  /** The HTTP status of the last answer; undefined when no server answered. */
  readonly statusCode: number | undefined;
  /** How long the attempt took, over every server tried, in ms. */
  readonly durationMs: number;
  /** The server that answered last; undefined when none was tried (the registry was closing). */
  readonly serviceUrl: string | undefined;
  /** Consecutive failures of this instance's writes and heartbeats, this one included (0 on success). */
  readonly failures: number;
  /** When it failed: the delay before the next attempt, in ms. */
  readonly nextRetryMs: number | undefined;
  /** When it failed: why. */
  readonly error: string | undefined;
}

/** One heartbeat (`PUT /apps/{APP}/{ID}?status=..&lastDirtyTimestamp=..`), finished. */
export interface HeartbeatEvent {
  /** The application, upper case. */
  readonly app: string;
  /** The instance. */
  readonly instanceId: string;
  /** Whether the lease was renewed (HTTP 200). */
  readonly ok: boolean;
  /** The HTTP status of the last answer; undefined when no server answered. */
  readonly statusCode: number | undefined;
  /** How long it took, in ms. */
  readonly durationMs: number;
  /** The server that answered last. */
  readonly serviceUrl: string | undefined;
  /** True on a 404: the server lost the lease (or holds an older record) and the instance re-registers at once. */
  readonly reregister: boolean;
  /** When it failed otherwise: the delay before the next attempt, in ms. */
  readonly nextRetryMs: number | undefined;
  /** When it failed: why. */
  readonly error: string | undefined;
}

/** Why a fetch was a full one. */
export type FullFetchReason =
  /** No full fetch has succeeded yet. */
  | 'initial'
  /** The cached view is empty. */
  | 'empty'
  /** Deltas are disabled (`fetchDeltas: false`). */
  | 'deltasDisabled'
  /** The delta request was not answered with 200 (e.g. 403: deltas disabled on the server). */
  | 'deltaRefused'
  /** After the delta, the view's hash differed from the server's `apps__hashcode`. */
  | 'hashMismatch'
  /** An application's last good view is kept (`viewProtectionRatio`): only a full fetch tells when to let go. */
  | 'viewProtected'
  /** `fetchMode: 'auto'` measured the full registry and its deltas to be cheaper than the VIPs it held. */
  | 'fetchModeChanged';

/** One fetch of the registry (`GET /apps`, `GET /apps/delta`, or in `vips` mode each `GET /vips/{vip}`), finished. */
export interface FetchEvent {
  /** A full fetch, a delta, or the fetch of every VIP of `fetchVips` (`bytes` and `instances` summed over them). */
  readonly kind: 'full' | 'delta' | 'vips';
  /** For a full fetch: why it was full. */
  readonly reason: FullFetchReason | undefined;
  /** Whether it was answered with 200 and applied. */
  readonly ok: boolean;
  /** The HTTP status of the last answer; undefined when no server answered. */
  readonly statusCode: number | undefined;
  /** How long it took, from request to applied, in ms. */
  readonly durationMs: number;
  /** Instances in the response. */
  readonly instances: number;
  /** Instances in the response that could not be decoded and were skipped (each is logged). */
  readonly skipped: number;
  /** Body bytes as received (compressed when the server gzipped them). */
  readonly bytes: number;
  /** Instances in the view after it was applied. */
  readonly cached: number;
  /** Instances that joined the view. */
  readonly added: number;
  /** Instances whose record changed. */
  readonly modified: number;
  /** Instances that left the view. */
  readonly removed: number;
  /** The server that answered last. */
  readonly serviceUrl: string | undefined;
  /** When it failed: the delay before the next attempt, in ms. */
  readonly nextRetryMs: number | undefined;
  /** When it failed: why. */
  readonly error: string | undefined;
}

/** The events of an {@link EurekaRegistry}, for metrics and logs. */
export interface EurekaRegistryEvents {
  /** A registration write (register, override set or removed, cancel) finished. */
  registration: [event: RegistrationEvent];
  /** A heartbeat finished. */
  heartbeat: [event: HeartbeatEvent];
  /** A registry fetch finished. */
  fetch: [event: FetchEvent];
  /** A delta left the view with a hash other than the server's. */
  hashMismatch: [event: HashMismatchEvent];
  /** An application's last good view began, or stopped, being kept against a registry listing too few of it. */
  viewProtection: [event: ViewProtectionEvent];
}
