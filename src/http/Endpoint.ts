import type { BalancerTarget } from '../balancer/InstanceState.js';
import type { RegistryInstance } from '../registry/types.js';

/** An instance as the service client balances over it: its registry record and the origin to connect to. */
export interface Endpoint extends BalancerTarget {
  /** The registry record. */
  readonly instance: RegistryInstance;
  /** `http://address:port` (or https when only the secure port is enabled). */
  readonly origin: string;
}

/** The endpoint of a registry instance, connecting by IP address or host name. */
export function endpointOf(instance: RegistryInstance, address: 'ip' | 'hostname'): Endpoint {
  const host = address === 'ip' && instance.ipAddr !== '' ? instance.ipAddr : instance.hostName;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  const secure = !instance.portEnabled && instance.securePortEnabled;
  const origin = secure ? `https://${bracketed}:${instance.securePort}` : `http://${bracketed}:${instance.port}`;
  return { instanceId: instance.instanceId, zone: instance.zone, instance, origin };
}
