import { createRequire } from 'node:module';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeInstance } from '../../src/registry/eureka/wire.js';
import { EurekaServer } from 'karyon-ts/testing';
import type { InstanceDescriptor } from 'karyon-ts';
import { Eureka as DropIn } from 'karyon-ts/eureka-js-client';

// eureka-js-client 4.5.0, an independent Eureka client, against the development server: proof that the
// server speaks Eureka the way real servers do. The client's own defects (it forces UP, drops non-UP
// instances unless told not to, corrupts its cache on MODIFIED deltas) are worked around, not tested.
// The same checks run, unchanged, against the drop-in `Eureka` of `karyon-ts/eureka-js-client`.

/** The slice of eureka-js-client's API these tests use (the package ships no types). */
interface WireInstanceSeen {
  instanceId?: string;
  hostName: string;
  app: string;
  status: string;
  vipAddress: string;
  port: { $: number | string; '@enabled': string | boolean };
  metadata?: Record<string, string>;
}
interface EurekaClient {
  start(callback: (error?: Error) => void): void;
  stop(callback: (error?: Error) => void): void;
  on(event: 'registered' | 'deregistered' | 'heartbeat' | 'registryUpdated' | 'started', listener: () => void): void;
  getInstancesByAppId(appId: string): WireInstanceSeen[];
  getInstancesByVipAddress(vip: string): WireInstanceSeen[];
  fetchRegistry(callback: (error?: Error | null) => void): void;
}
type EurekaClientConstructor = new (config: Record<string, unknown>) => EurekaClient;
const { Eureka: EurekaJsClient } = createRequire(import.meta.url)('eureka-js-client') as { Eureka: EurekaClientConstructor };
const clients: [string, EurekaClientConstructor][] = [
  ['eureka-js-client 4.5.0', EurekaJsClient],
  ['the karyon-ts/eureka-js-client drop-in', DropIn as unknown as EurekaClientConstructor],
];

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const dataCenterInfo = { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' };

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(): Promise<EurekaServer> {
  const server = new EurekaServer({ port: 0, host: '127.0.0.1' });
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

/** A client; stopped (timers cleared, deregistered) after the test, since its timers keep the process alive. */
function client(Eureka: EurekaClientConstructor, server: EurekaServer, config: { instance?: Record<string, unknown>; eureka?: Record<string, unknown>; shouldUseDelta?: boolean }) {
  const counts = { registered: 0, heartbeat: 0, registryUpdated: 0 };
  /** Every request the client made, as `METHOD uri` (its uri is relative to the service path). */
  const requests: string[] = [];
  const eureka = new Eureka({
    logger: quiet,
    requestMiddleware: (options: { method?: string; uri: string }, done: (options: unknown) => void) => {
      requests.push(`${options.method ?? 'GET'} ${options.uri}`);
      done(options);
    },
    cwd: '/nonexistent',
    ...(config.shouldUseDelta === undefined ? {} : { shouldUseDelta: config.shouldUseDelta }),
    instance: config.instance ?? {},
    eureka: {
      host: '127.0.0.1',
      port: server.port,
      servicePath: '/eureka/apps/',
      heartbeatInterval: 100,
      registryFetchInterval: 100,
      maxRetries: 0,
      preferIpAddress: true,
      registerWithEureka: config.instance !== undefined,
      fetchRegistry: true,
      ...config.eureka,
    },
  });
  eureka.on('registered', () => counts.registered++);
  eureka.on('heartbeat', () => counts.heartbeat++);
  eureka.on('registryUpdated', () => counts.registryUpdated++);
  let stopped = false;
  const stop = () =>
    new Promise<void>((resolve, reject) => {
      if (stopped) return resolve();
      stopped = true;
      eureka.stop((error) => (error ? reject(error) : resolve()));
    });
  cleanups.push(() => stop().catch(() => undefined));
  const start = () => new Promise<void>((resolve, reject) => eureka.start((error) => (error ? reject(error) : resolve())));
  return { eureka, counts, requests, start, stop };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const jsInstance = {
  app: 'jsclient',
  hostName: 'js-host',
  ipAddr: '127.0.0.1',
  port: { $: 3000, '@enabled': true },
  vipAddress: 'jsclient',
  statusPageUrl: 'http://127.0.0.1:3000/info',
  dataCenterInfo,
};

function descriptor(id: string, port: number): InstanceDescriptor {
  return {
    instanceId: id,
    app: 'GREETER',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter',
    hostName: id,
    ipAddr: '127.0.0.1',
    port,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'default',
    metadata: { zone: 'default' },
    homePageUrl: `http://127.0.0.1:${port}/`,
    statusPageUrl: 'http://127.0.0.1:8077/status',
    healthCheckUrl: 'http://127.0.0.1:8077/healthcheck',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
  };
}

/** Registers an instance the way our own Eureka client does: POST `{"instance": encodeInstance(...)}`. */
async function registerOurs(server: EurekaServer, id: string, port: number, status: string): Promise<void> {
  const response = await request(`${server.url}/v2/apps/GREETER`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ instance: encodeInstance(descriptor(id, port), status, Date.now()) }),
  });
  await response.body.text();
  expect(response.statusCode).toBe(204);
}

async function override(server: EurekaServer, id: string, value: string): Promise<void> {
  const response = await request(`${server.url}/apps/GREETER/${id}/status?value=${value}`, { method: 'PUT' });
  await response.body.text();
  expect(response.statusCode).toBe(200);
}

describe.each(clients)('%s against the development server', (_name, Eureka) => {
  it('registers, heartbeats, fetches the registry and deregisters', async () => {
    const server = await startServer();
    const js = client(Eureka, server, { instance: jsInstance });
    await js.start();
    expect(js.counts.registered).toBe(1);
    const lease = server.instance('JSCLIENT', 'js-host');
    expect(lease?.instance).toMatchObject({ app: 'JSCLIENT', status: 'UP', port: 3000, vipAddress: 'jsclient', ipAddr: '127.0.0.1' });

    const registeredAt = lease!.lastRenewalTimestamp;
    await waitFor(() => js.counts.heartbeat >= 2, 'two heartbeats');
    await waitFor(() => server.instance('JSCLIENT', 'js-host')!.lastRenewalTimestamp > registeredAt, 'the lease to be renewed');

    // It fetched the full registry (gzipped: the client asks for it) and sees itself.
    const self = js.eureka.getInstancesByAppId('JSCLIENT');
    expect(self).toHaveLength(1);
    expect(self[0]).toMatchObject({ hostName: 'js-host', status: 'UP', vipAddress: 'jsclient', port: { $: 3000 } });
    expect(js.eureka.getInstancesByVipAddress('jsclient')).toHaveLength(1);

    await js.stop();
    expect(server.instance('JSCLIENT', 'js-host')).toBeUndefined();
  });

  it('sees the instances we register with our wire encoding, with their status, VIP and port', async () => {
    const server = await startServer();
    await registerOurs(server, 'greeter-1', 8081, 'UP');
    await registerOurs(server, 'greeter-2', 8082, 'STARTING');
    await registerOurs(server, 'greeter-3', 8083, 'UP');
    await override(server, 'greeter-3', 'OUT_OF_SERVICE');

    // With its default filter the client keeps only UP instances (one of its defects: a balancer cannot see
    // status changes), so read with the filter off to check every status arrived as the server holds it.
    const all = client(Eureka, server, { eureka: { filterUpInstances: false } });
    await all.start();
    const seen = all.eureka
      .getInstancesByAppId('greeter')
      .map((i) => ({ id: i.instanceId, status: i.status, vip: i.vipAddress, port: Number(i.port.$) }))
      .sort((a, b) => a.port - b.port);
    expect(seen).toEqual([
      { id: 'greeter-1', status: 'UP', vip: 'greeter', port: 8081 },
      { id: 'greeter-2', status: 'STARTING', vip: 'greeter', port: 8082 },
      { id: 'greeter-3', status: 'OUT_OF_SERVICE', vip: 'greeter', port: 8083 },
    ]);
    expect(all.eureka.getInstancesByVipAddress('greeter')).toHaveLength(3);

    const upOnly = client(Eureka, server, {});
    await upOnly.start();
    expect(upOnly.eureka.getInstancesByVipAddress('greeter').map((i) => i.instanceId)).toEqual(['greeter-1']);

    // A later registry fetch sees a status change made through the override.
    await override(server, 'greeter-1', 'OUT_OF_SERVICE');
    await waitFor(() => upOnly.eureka.getInstancesByVipAddress('greeter').length === 0, 'the client to drop greeter-1');
    await waitFor(
      () => all.eureka.getInstancesByAppId('GREETER').find((i) => i.instanceId === 'greeter-1')?.status === 'OUT_OF_SERVICE',
      'the client to see greeter-1 OUT_OF_SERVICE',
    );
  });

  it('re-registers on the 404 its heartbeat gets after the server lost its registry', async () => {
    const server = await startServer();
    const js = client(Eureka, server, { instance: jsInstance });
    await js.start();
    expect(server.reset()).toBe(1);
    await waitFor(() => js.counts.registered >= 2, 'the client to register again');
    expect(server.instance('JSCLIENT', 'js-host')?.instance.status).toBe('UP');
  });

  it('works on the /eureka/v2 path and reads additions from the delta', async () => {
    const server = await startServer();
    const js = client(Eureka, server, {
      instance: { ...jsInstance, hostName: 'js-v2' },
      eureka: { servicePath: '/eureka/v2/apps/' },
      shouldUseDelta: true,
    });
    await js.start();
    expect(server.instance('JSCLIENT', 'js-v2')).toBeDefined();
    expect(js.counts.registryUpdated).toBeGreaterThanOrEqual(1);
    // Once it holds a full registry, every fetch it starts is a delta: greeter-9 can only arrive in one.
    const before = js.requests.length;
    await registerOurs(server, 'greeter-9', 8089, 'UP');
    await waitFor(() => js.eureka.getInstancesByVipAddress('greeter').length === 1, 'the delta to bring greeter-9');
    expect(js.eureka.getInstancesByAppId('GREETER')[0]).toMatchObject({ instanceId: 'greeter-9', status: 'UP', port: { $: 8089 } });
    const fetchesAfter = js.requests.slice(before).filter((line) => line.startsWith('GET'));
    expect(fetchesAfter.length).toBeGreaterThanOrEqual(1);
    expect(new Set(fetchesAfter)).toEqual(new Set(['GET delta']));
  });
});
