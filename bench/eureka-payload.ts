import { createRequire } from 'node:module';

// The synthetic registry the Eureka client benchmarks fetch: a fleet of Spring Boot services as a Netflix or
// Spring Cloud server writes it in `GET /apps` (and, app by app, in `GET /vips/{vip}`).

/** An instance of the synthetic fleet, with the fields the benchmarks change (the rest are written as is). */
export interface FleetInstance {
  instanceId: string;
  status: string;
  metadata: Record<string, string>;
  actionType: string;
  lastDirtyTimestamp: string;
  lastUpdatedTimestamp: string;
  app: string;
}

/** The instances of a fleet of Spring Boot services, as a Netflix/Spring Cloud server writes them. */
export function fleet(instances: number, apps: number): FleetInstance[] {
  const zones = ['us-east-1a', 'us-east-1b', 'us-east-1c'];
  return Array.from({ length: instances }, (_, i) => {
    const app = `SERVICE-${String(i % apps).padStart(3, '0')}`;
    const vip = app.toLowerCase();
    const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const host = `ip-${ip.replaceAll('.', '-')}.ec2.internal`;
    const status = i % 50 === 0 ? 'DOWN' : i % 97 === 0 ? 'OUT_OF_SERVICE' : i % 101 === 0 ? 'STARTING' : 'UP';
    const t = 1_760_000_000_000 + i * 1000;
    return {
      instanceId: `${host}:${vip}:8080`,
      hostName: host,
      app,
      ipAddr: ip,
      status,
      overriddenStatus: status === 'OUT_OF_SERVICE' ? 'OUT_OF_SERVICE' : 'UNKNOWN',
      port: { $: 8080, '@enabled': 'true' },
      securePort: { $: 443, '@enabled': 'false' },
      countryId: 1,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: {
        renewalIntervalInSecs: 30,
        durationInSecs: 90,
        registrationTimestamp: t,
        lastRenewalTimestamp: t + 25_000,
        evictionTimestamp: 0,
        serviceUpTimestamp: t + 1500,
      },
      metadata: { 'management.port': '8081', zone: zones[i % zones.length]!, version: `1.4.${(i % apps) % 5}` },
      homePageUrl: `http://${host}:8080/`,
      statusPageUrl: `http://${host}:8081/actuator/info`,
      healthCheckUrl: `http://${host}:8081/actuator/health`,
      vipAddress: vip,
      secureVipAddress: vip,
      isCoordinatingDiscoveryServer: 'false',
      lastUpdatedTimestamp: String(t + 1500),
      lastDirtyTimestamp: String(t),
      actionType: 'ADDED',
    };
  });
}

/** Apps of the synthetic fleet of `instances` in the benchmarks: about 50 instances each, at least 20 apps. */
export function appsOf(instances: number): number {
  return Math.max(20, Math.round(instances / 50));
}

/** A `GET /apps` body as a Netflix/Spring Cloud server writes it for a fleet of Spring Boot services. */
export function payload(instances: number, apps: number): string {
  const byApp = new Map<string, FleetInstance[]>();
  for (const instance of fleet(instances, apps)) {
    const list = byApp.get(instance.app) ?? [];
    list.push(instance);
    byApp.set(instance.app, list);
  }
  const application = [...byApp].map(([name, instance]) => ({ name, instance }));
  // apps__hashcode as Eureka computes it: STATUS_count_ for each status, in alphabetical order.
  const counts = new Map<string, number>();
  for (const list of byApp.values()) for (const instance of list) counts.set(instance.status, (counts.get(instance.status) ?? 0) + 1);
  const hashcode = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([status, n]) => `${status}_${n}_`).join('');
  return JSON.stringify({ applications: { versions__delta: '1', apps__hashcode: hashcode, application } });
}

/** The parts of eureka-js-client 4.5.0 the benchmarks use. */
export interface JsClient {
  fetchRegistry(callback: (error?: Error | null) => void): void;
  transformRegistry(registry: unknown): void;
  getInstancesByVipAddress(vip: string): unknown[];
  readonly cache: { readonly app: Record<string, unknown[]> };
}

/**
 * An eureka-js-client that fetches from `serviceUrl` and registers nothing; `allStatuses` keeps every status
 * (as karyon-ts does), otherwise its default drops the instances that are not UP.
 */
export function makeJsClient(serviceUrl: string, allStatuses: boolean): JsClient {
  const { Eureka } = createRequire(import.meta.url)('eureka-js-client') as { Eureka: new (config: unknown) => JsClient };
  const parsed = new URL(serviceUrl);
  const silent = { debug() {}, info() {}, warn() {}, error() {} };
  return new Eureka({
    logger: silent,
    instance: {},
    eureka: {
      host: parsed.hostname,
      port: Number(parsed.port),
      servicePath: `${parsed.pathname}/apps/`,
      registerWithEureka: false,
      fetchRegistry: true,
      ...(allStatuses ? { filterUpInstances: false } : {}),
    },
  });
}
