import { encodeInstance } from '../eureka/wire.js';
import type { ActionType, WireInstance } from '../eureka/wire.js';
import type { EurekaLease } from './EurekaLease.js';

/**
 * A lease as a Netflix server writes an `InstanceInfo`: the shared wire encoding, plus what that encoding does
 * not carry and a server must echo back (the data center's metadata, pass-through fields). Like the real
 * server, it writes the override only as `overriddenStatus`, not in the legacy `overriddenstatus` spelling.
 */
export function encodeLease(lease: EurekaLease, actionType?: ActionType): WireInstance {
  const { instance } = lease;
  const wire = encodeInstance(instance, instance.status, instance.lastDirtyTimestamp, {
    overriddenStatus: instance.overriddenStatus,
    lease: {
      registrationTimestamp: lease.registrationTimestamp,
      lastRenewalTimestamp: lease.lastRenewalTimestamp,
      evictionTimestamp: lease.evictionTimestamp,
      serviceUpTimestamp: lease.serviceUpTimestamp,
    },
    lastUpdatedTimestamp: instance.lastUpdatedTimestamp,
    dataCenterName: lease.dataCenter.name,
    dataCenterClass: lease.dataCenter['@class'],
    ...(actionType === undefined ? {} : { actionType }),
  });
  return {
    ...wire,
    dataCenterInfo: lease.dataCenter.metadata === undefined ? wire.dataCenterInfo : { ...wire.dataCenterInfo, metadata: lease.dataCenter.metadata },
    ...lease.extraFields,
  };
}
