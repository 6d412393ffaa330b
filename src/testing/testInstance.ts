import type { InstanceDescriptor } from '../registry/types.js';

/** What {@link testInstance} needs: the id and port, plus any field to set. */
export interface TestInstanceOptions extends Partial<InstanceDescriptor> {
  /** Unique id of the instance. */
  readonly instanceId: string;
  /** The port the instance's server listens on, on 127.0.0.1. */
  readonly port: number;
}

/**
 * An instance on loopback, for registering a test server in a registry: `vipAddress` defaults to the lower-case
 * `app` (itself `TEST` by default), the zone to `default`, the URLs to the instance's address, the lease to
 * 30 s and 90 s. Any field may be given.
 *
 * @example
 * ```ts
 * const registry = new InMemoryRegistry();
 * await registry.register(testInstance({ instanceId: 'greeter-1', app: 'GREETER', port }), 'UP');
 * const client = createServiceClient({ registry, vip: 'greeter' });
 * ```
 */
export function testInstance(options: TestInstanceOptions): InstanceDescriptor {
  const app = options.app ?? 'TEST';
  const vipAddress = options.vipAddress ?? app.toLowerCase();
  const base = `http://127.0.0.1:${options.port}`;
  return {
    app,
    vipAddress,
    secureVipAddress: options.secureVipAddress ?? vipAddress,
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'default',
    metadata: {},
    homePageUrl: `${base}/`,
    statusPageUrl: `${base}/status`,
    healthCheckUrl: `${base}/healthcheck`,
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
    ...options,
  };
}
