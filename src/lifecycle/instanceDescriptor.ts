// What a service says of itself to the registry and in its metrics, derived from its resolved options alone.
import type { InstanceDescriptor } from '../registry/types.js';
import type { ResolvedServiceOptions } from './ServiceOptions.js';

/**
 * The instance a service registers once its port is bound: Eureka's fields (app upper-cased, VIP, the status and
 * health pages on the admin port when there is one, which Spring's tools follow) and the lease timings.
 */
export function describeInstance(o: ResolvedServiceOptions, port: number, adminPort: number | undefined): InstanceDescriptor {
  const base = `http://${o.hostName}:${port}`;
  const adminBase = adminPort === undefined ? base : `http://${o.hostName}:${adminPort}`;
  const metadata: Record<string, string> = { ...o.metadata, zone: o.zone };
  if (o.version !== undefined) metadata.version = o.version;
  if (adminPort !== undefined) metadata['management.port'] = String(adminPort);
  return Object.freeze({
    instanceId: o.instanceId ?? `${o.hostName}:${o.name}:${port}`,
    app: o.name.toUpperCase(),
    vipAddress: o.vipAddress,
    secureVipAddress: o.vipAddress,
    hostName: o.hostName,
    ipAddr: o.ipAddr,
    port,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: o.zone,
    metadata: Object.freeze(metadata),
    homePageUrl: `${base}/`,
    statusPageUrl: `${adminBase}/status`,
    healthCheckUrl: `${adminBase}/healthcheck`,
    leaseRenewalIntervalMs: o.renewalIntervalMs,
    leaseDurationMs: o.leaseDurationMs,
  });
}

/**
 * How the Eureka client orders its servers: same zone first, shuffled by the instance's identity when it has a
 * stable one (an id, or a fixed port), so an instance keeps its order and a fleet spreads over the servers.
 */
export function eurekaServerChoice(o: ResolvedServiceOptions): { zone: string; shuffleSeed?: string } {
  const seed = o.instanceId ?? (o.port === undefined || o.port === 0 ? undefined : `${o.hostName}:${o.name}:${o.port}`);
  return seed === undefined ? { zone: o.zone } : { zone: o.zone, shuffleSeed: seed };
}

/** Tags on every metric: known at creation, so the instance tag uses the configured id or host:name[:port]. */
export function metricTags(o: ResolvedServiceOptions): Record<string, string> {
  const port = o.port === undefined || o.port === 0 ? '' : `:${o.port}`;
  const tags: Record<string, string> = { app: o.name, instance: o.instanceId ?? `${o.hostName}:${o.name}${port}`, zone: o.zone };
  if (o.version !== undefined) tags.version = o.version;
  return tags;
}
