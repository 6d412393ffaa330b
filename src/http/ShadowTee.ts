import type { ServiceRequest } from './ServiceRequest.js';
import type { ServiceResponse } from './TryOutcome.js';

/**
 * What a service client tees its calls through: the one method of shadow traffic the client needs. The client
 * depends on this interface, not on the shadow traffic itself, so the shadow (which makes clients of its own
 * to send the copies) builds on the client without the two depending on each other.
 * `createShadowTraffic()` makes the implementation.
 */
export interface ShadowTee {
  /**
   * Tees one client call: `send` makes the primary call, whose outcome is returned as it is; a copy of a
   * sampled call follows once the primary settled.
   * @param request - the call as the client was given it
   * @param send - makes the primary call
   */
  teeCall(request: ServiceRequest, send: (request: ServiceRequest) => Promise<ServiceResponse>): Promise<ServiceResponse>;
}
