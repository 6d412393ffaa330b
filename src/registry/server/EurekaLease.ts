import type { RegistryInstance } from '../types.js';
import type { RegisteredDataCenter } from './parseRegistration.js';

/**
 * One registration held by the development Eureka server: the instance record (with the status the server
 * settled on and the lease duration in force) and the lease's timestamps. Immutable: every change, renewals
 * included, replaces the whole object.
 */
export interface EurekaLease {
  /** The record clients read; `leaseDurationMs` is the duration in force for this lease. */
  readonly instance: RegistryInstance;
  /** The data center the instance registered with. */
  readonly dataCenter: RegisteredDataCenter;
  /** Eureka fields kept only to be echoed back (`appGroupName`, `asgName`, `secureHealthCheckUrl`). */
  readonly extraFields: Readonly<Record<string, string>>;
  /** When this lease was created (epoch ms); a re-registration creates a new lease. */
  readonly registrationTimestamp: number;
  /** When the lease was last renewed (epoch ms). */
  readonly lastRenewalTimestamp: number;
  /** When the instance was first seen UP (epoch ms), 0 if never; kept across re-registrations. */
  readonly serviceUpTimestamp: number;
  /** When the lease was cancelled or evicted (epoch ms), 0 while it is held. */
  readonly evictionTimestamp: number;
}

/** When a lease expires without a renewal: one lease duration after the last renewal (epoch ms). */
export function leaseExpiresAt(lease: EurekaLease): number {
  return lease.lastRenewalTimestamp + lease.instance.leaseDurationMs;
}
