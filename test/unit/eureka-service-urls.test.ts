import { afterEach, describe, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import { orderTargets, seededRandom } from '../../src/registry/eureka/EurekaTransport.js';
import type { InstanceDescriptor, EurekaRegistryOptions, RegistrationEvent } from 'karyon-ts';
import { ManualClock, testInstance } from 'karyon-ts/testing';
import { FakeEureka, until } from '../fixtures/eureka/fakeEureka.js';

// Which Eureka server a client talks to, as the Java client chooses: its own shuffled order (same zone first),
// the server that answered last while its session lasts, at most 3 servers per request, failing servers
// quarantined until two thirds are. So a fleet spreads over the servers and leaves a dead one in one request.

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function fakes(count: number): Promise<FakeEureka[]> {
  const servers: FakeEureka[] = [];
  for (let i = 0; i < count; i++) {
    const server = await FakeEureka.start();
    open.push(server);
    servers.push(server);
  }
  return servers;
}

function registryFor(urls: EurekaRegistryOptions['serviceUrls'], clock: ManualClock, options: Partial<EurekaRegistryOptions> = {}): EurekaRegistry {
  const registry = new EurekaRegistry({ serviceUrls: urls, clock, fetchRegistry: false, jitterRatio: 0, heartbeatIntervalMs: 1000, ...options });
  open.push(registry);
  return registry;
}

function descriptor(id: string): InstanceDescriptor {
  return testInstance({ instanceId: id, app: 'GREETER', port: 8080, leaseRenewalIntervalMs: 1000, leaseDurationMs: 3000 });
}

const writesTo = (server: FakeEureka): number => server.writes.length;

describe('the order of the service URLs', () => {
  it('is the same for the same seed, differs between seeds, and puts the same zone first', () => {
    const servers = ['a', 'b', 'c', 'd', 'e'].map((url) => ({ url, zone: url < 'c' ? 'z1' : 'z2' }));
    const order = (seed: string, zone?: string): string[] => orderTargets(servers, zone, seededRandom(seed)).map((server) => server.url);
    expect(order('host-1:greeter:8080')).toEqual(order('host-1:greeter:8080'));
    expect(new Set(['1', '2', '3', '4', '5', '6'].map((seed) => order(seed).join(''))).size).toBeGreaterThan(1);
    for (const seed of ['1', '2', '3', '4', '5', '6']) {
      expect(order(seed, 'z2').slice(0, 3).sort()).toEqual(['c', 'd', 'e']);
      expect(order(seed, 'Z1').slice(0, 2).sort()).toEqual(['a', 'b']);
    }
  });

  it('spreads first choices evenly over many clients', () => {
    const servers = ['a', 'b', 'c'].map((url) => ({ url, zone: undefined }));
    const firsts = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const first = orderTargets(servers, undefined, seededRandom(`10.0.0.${i}:greeter:8080`))[0]!.url;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    for (const url of ['a', 'b', 'c']) expect(firsts.get(url)).toBeGreaterThan(150);
  });

  it('is the order given with shuffleServiceUrls: false, and zone maps are accepted', () => {
    const urls = ['http://a/eureka', 'http://b/eureka', 'http://c/eureka'];
    const given = new EurekaRegistry({ serviceUrls: urls, fetchRegistry: false, shuffleServiceUrls: false });
    open.push(given);
    expect(given.serviceUrls).toEqual(urls);
    const zoned = new EurekaRegistry({
      serviceUrls: { z1: ['http://a/eureka'], z2: ['http://b/eureka', 'http://c/eureka'] },
      zone: 'z2',
      shuffleSeed: 'x',
      fetchRegistry: false,
    });
    open.push(zoned);
    expect(zoned.serviceUrls.slice(0, 2).sort()).toEqual(['http://b/eureka', 'http://c/eureka']);
    expect(zoned.serviceUrls[2]).toBe('http://a/eureka');
    expect(() => new EurekaRegistry({ serviceUrls: { z1: 'http://a/eureka' as unknown as string[] } })).toThrow(/'serviceUrls.z1' must be an array of http\(s\) URLs/);
    expect(() => new EurekaRegistry({ serviceUrls: {} })).toThrow(/'serviceUrls' must be a non-empty array/);
  });
});

describe('several clients and several servers', () => {
  it('spread their registrations and heartbeats over the servers instead of all using the first', async () => {
    const clock = new ManualClock();
    const servers = await fakes(3);
    for (let i = 0; i < 12; i++) {
      const registry = registryFor(
        servers.map((server) => server.url),
        clock,
        { shuffleSeed: `10.0.0.${i}:greeter:8080` },
      );
      await registry.register(descriptor(`i-${i}`), 'UP');
    }
    const counts = servers.map(writesTo);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(12);
    // Each server gets a share; none gets them all.
    for (const count of counts) expect(count).toBeGreaterThan(0);
    expect(Math.max(...counts)).toBeLessThan(12);
  });

  it('moves heartbeats to the next server within the request when its server dies, and stays there without re-registering', async () => {
    const clock = new ManualClock();
    const servers = await fakes(3);
    const registry = registryFor(
      servers.map((server) => server.url),
      clock,
      { shuffleSeed: 'host-7:greeter:8080' },
    );
    const registrations: RegistrationEvent[] = [];
    registry.on('registration', (event) => registrations.push(event));
    const heartbeats: { ok: boolean; serviceUrl: string | undefined }[] = [];
    registry.on('heartbeat', (event) => heartbeats.push({ ok: event.ok, serviceUrl: event.serviceUrl }));
    await registry.register(descriptor('i-1'), 'UP');
    const [home, next] = registry.serviceUrls.map((url) => servers.find((server) => server.url === url)!);
    expect(registrations[0]!.serviceUrl).toBe(home!.url);
    await clock.advanceAsync(1000);
    await until(clock, () => heartbeats.length === 1, 'a heartbeat to the first server');

    // The first server dies: the next heartbeat fails there and goes to the next server in the same request.
    await home!.close();
    await clock.advanceAsync(1000);
    await until(clock, () => heartbeats.length === 2, 'the heartbeat after the server died');
    expect(heartbeats[1]).toEqual({ ok: true, serviceUrl: next!.url });
    for (let beat = 3; beat <= 6; beat++) {
      await clock.advanceAsync(1000);
      await until(clock, () => heartbeats.length === beat, `heartbeat ${beat}`);
    }
    expect(heartbeats.slice(1).every((beat) => beat.ok && beat.serviceUrl === next!.url)).toBe(true);
    expect(registrations).toHaveLength(1);
    expect(next!.writes.filter((line) => line.startsWith('POST'))).toEqual([]);
  });

  it('tries at most 3 servers per request', async () => {
    const clock = new ManualClock();
    const servers = await fakes(5);
    for (const server of servers) server.on(() => ({ status: 503, body: 'down' }));
    const registry = registryFor(
      servers.map((server) => server.url),
      clock,
      { shuffleSeed: 's' },
    );
    const registrations: RegistrationEvent[] = [];
    registry.on('registration', (event) => registrations.push(event));
    await registry.register(descriptor('i-1'), 'UP');
    expect(servers.map(writesTo).reduce((a, b) => a + b, 0)).toBe(3);
    expect(registrations[0]).toMatchObject({ ok: false, statusCode: 503 });
  });

  it('quarantines a failing server: later requests skip it until two thirds of the servers are quarantined', async () => {
    const clock = new ManualClock();
    const servers = await fakes(5);
    const registry = registryFor(
      servers.map((server) => server.url),
      clock,
      { shuffleSeed: 'q' },
    );
    const ordered = registry.serviceUrls.map((url) => servers.find((server) => server.url === url)!);
    const down = new Set<FakeEureka>();
    for (const server of ordered) server.on(() => (down.has(server) ? { status: 503, body: 'down' } : undefined));
    down.add(ordered[0]!);
    await registry.register(descriptor('i-1'), 'UP');
    // The first choice failed and was quarantined; the second took the request and is stuck to.
    expect(ordered.map(writesTo)).toEqual([1, 1, 0, 0, 0]);
    // The second dies too: the first is still quarantined, so the third is asked, not the first.
    down.add(ordered[1]!);
    await registry.setStatus('i-1', 'DOWN');
    expect(ordered.map(writesTo)).toEqual([1, 2, 1, 0, 0]);
    // The third dies: three of five quarantined is the threshold (floor(5 * 0.66)), so the quarantine is
    // lifted and the request goes through the list again from the first choice (which is back).
    down.delete(ordered[0]!);
    down.add(ordered[2]!);
    await registry.setStatus('i-1', 'UP');
    expect(ordered.map(writesTo)).toEqual([2, 2, 2, 0, 0]);
  });
});
