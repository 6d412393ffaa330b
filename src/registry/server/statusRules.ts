import type { InstanceStatus } from '../types.js';

/**
 * The rule that chose an instance's status, named after the Netflix server's classes
 * (`com.netflix.eureka.registry.rule.*`) so a log line can be checked against that code.
 */
export type StatusRule = 'DownOrStartingRule' | 'OverrideExistsRule' | 'LeaseExistsRule' | 'AlwaysMatchInstanceStatusRule';

/** The status the server settles on, and why. */
export interface StatusDecision {
  /** The status to store. */
  readonly status: InstanceStatus;
  /** The first rule that matched. */
  readonly rule: StatusRule;
}

/**
 * Picks the status a Netflix Eureka server stores on register and renew: the first matching rule wins.
 * 1. the instance reports STARTING, DOWN or UNKNOWN: take it, even over an operator's override, because an
 *    instance that is not ready must never receive traffic;
 * 2. an override exists: take it (it is sticky across re-registrations);
 * 3. a lease exists and is UP or OUT_OF_SERVICE: keep it (so a client cannot leave OUT_OF_SERVICE, or enter it,
 *    by re-registering);
 * 4. otherwise take the reported status.
 *
 * @param reported - the status the instance sent (on renew: the stored status)
 * @param override - the override stored for the instance, if any
 * @param existing - the status of the lease held before this call, if any
 */
export function decideStatus(
  reported: InstanceStatus,
  override: InstanceStatus | undefined,
  existing: InstanceStatus | undefined,
): StatusDecision {
  if (reported !== 'UP' && reported !== 'OUT_OF_SERVICE') return { status: reported, rule: 'DownOrStartingRule' };
  if (override !== undefined) return { status: override, rule: 'OverrideExistsRule' };
  if (existing === 'UP' || existing === 'OUT_OF_SERVICE') return { status: existing, rule: 'LeaseExistsRule' };
  return { status: reported, rule: 'AlwaysMatchInstanceStatusRule' };
}
