// The lifecycle of a Node service as the real Spring Cloud Netflix Eureka server records it, read back from
// the server's own GET /eureka/apps/{APP}/{ID}, with every request going through a capturing proxy: what
// the server answered (its HTTP codes), and what we never send (the replication header, an overridden status
// other than UNKNOWN) nor receive (a 409). One peer-replicated pair of servers serves the whole file.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import type { HeartbeatEvent, RegistrationEvent } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster } from './harness.js';
import { interopSuite } from './suite.js';
import type { EurekaPeer } from './harness.js';
import { CapturingProxy, eurekaRequest, nodeService, shownAs } from './peers.js';

interopSuite('the lifecycle on the real Eureka server', () => {
  let peers: EurekaPeer[] = [];
  let a: EurekaPeer;
  let b: EurekaPeer;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await buildInterop();
    peers = await startEurekaCluster(2, { properties: { 'eureka.server.response-cache-update-interval-ms': '1000' } });
    [a, b] = peers as [EurekaPeer, EurekaPeer];
  }, 900_000);
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(async () => {
    await killAll();
  });

  async function proxyTo(peer: EurekaPeer): Promise<CapturingProxy> {
    const proxy = new CapturingProxy(peer.serviceUrl);
    await proxy.listen();
    cleanups.push(() => proxy.close());
    return proxy;
  }

  /** No request carried the replication header or another overridden status than UNKNOWN; none got a 409. */
  function expectCleanWire(proxy: CapturingProxy): void {
    expect(proxy.captured.length).toBeGreaterThan(0);
    for (const c of proxy.captured) {
      expect(Object.keys(c.headers).map((h) => h.toLowerCase())).not.toContain('x-netflix-discovery-replication');
      expect(c.status, `${c.method} ${c.url}`).not.toBe(409);
      const overridden = [...c.body.matchAll(/"overridden[sS]tatus"\s*:\s*"([A-Z_]+)"/g)].map((m) => m[1]);
      for (const value of overridden) expect(value, `${c.method} ${c.url} ${c.body}`).toBe('UNKNOWN');
      expect(new URL(c.url, 'http://x').searchParams.get('overriddenstatus') ?? 'UNKNOWN').toBe('UNKNOWN');
    }
  }

  /**
   * A Node service `name` registering as `id` through `serviceUrls`, stopped after the test, with the client's
   * renewals and registration writes recorded (each with when it happened).
   */
  function watched(
    id: string,
    serviceUrls: string[],
    { name = 'node-life', heartbeatIntervalMs = 500, deregistrationDelayMs = 0, requestTimeoutMs }: { name?: string; heartbeatIntervalMs?: number; deregistrationDelayMs?: number; requestTimeoutMs?: number } = {},
  ) {
    const service = nodeService({
      name,
      instanceId: id,
      eureka: { serviceUrls, heartbeatIntervalMs, registryFetchIntervalMs: 1000, jitterRatio: 0, ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }) },
      lifecycle: { deregistrationDelayMs },
    });
    cleanups.push(() => service.stop());
    const registry = service.registry as EurekaRegistry;
    const beats: (HeartbeatEvent & { at: number })[] = [];
    const writes: RegistrationEvent[] = [];
    registry.on('heartbeat', (e) => beats.push({ ...e, at: Date.now() }));
    registry.on('registration', (e) => writes.push(e));
    return { service, registry, beats, writes };
  }

  it('shows STARTING, UP, DOWN and back, OUT_OF_SERVICE and back, DOWN then cancel, with the server\'s HTTP codes', async () => {
    const proxy = await proxyTo(a);
    const id = 'lifecycle-1';
    let release = (): void => undefined;
    let healthy = true;
    const { service, beats, writes } = watched(id, [proxy.serviceUrl], { heartbeatIntervalMs: 1000, deregistrationDelayMs: 1500 });
    service.onInitialize(() => new Promise<void>((resolve) => (release = resolve)));
    service.addHealthCheck('dependency', () => ({ status: healthy ? 'UP' : 'DOWN' }), { intervalMs: 100, cacheMs: 0 });

    const started = service.start();
    const shown = (): Promise<string> => shownAs(a.serviceUrl, 'node-life', id);
    const reaches = async (want: string, timeoutMs = 10_000): Promise<void> => {
      await waitFor(async () => (await shown()) === want, timeoutMs, `the server to show ${want} (last: ${await shown()})`);
    };
    await reaches('STARTING/UNKNOWN');
    // Still STARTING while the hook runs, also on the other peer.
    await waitFor(async () => (await shownAs(b.serviceUrl, 'node-life', id)) === 'STARTING/UNKNOWN', 10_000, 'peer B to show STARTING');
    expect(await shown()).toBe('STARTING/UNKNOWN');
    release();
    await started;
    await reaches('UP/UNKNOWN');

    healthy = false;
    await reaches('DOWN/UNKNOWN');
    healthy = true;
    await reaches('UP/UNKNOWN');

    await service.markOutOfService();
    await reaches('OUT_OF_SERVICE/OUT_OF_SERVICE');
    await service.markUp();
    await reaches('UP/UNKNOWN');

    await waitFor(() => beats.some((e) => e.ok), 5000, 'a renewal');
    const stopping = service.stop();
    await reaches('DOWN/UNKNOWN', 5000);
    await stopping;
    expect(await shown()).toBe('absent');

    // The server's codes, as the client received them.
    const registers = writes.filter((e) => e.operation === 'register' && e.ok);
    expect(registers.length).toBeGreaterThan(0);
    expect(new Set(registers.map((e) => e.statusCode))).toEqual(new Set([204]));
    expect(writes.find((e) => e.operation === 'statusOverride')?.statusCode).toBe(200);
    expect(writes.find((e) => e.operation === 'removeOverride')?.statusCode).toBe(200);
    expect(writes.find((e) => e.operation === 'cancel')?.statusCode).toBe(200);
    expect(beats.filter((e) => e.ok).every((e) => e.statusCode === 200)).toBe(true);
    // A second cancel, and a renewal of the lease that is gone: 404.
    expect((await eurekaRequest('DELETE', `${a.serviceUrl}/apps/NODE-LIFE/${id}`)).code).toBe(404);
    expect((await eurekaRequest('PUT', `${a.serviceUrl}/apps/NODE-LIFE/${id}?status=UP&lastDirtyTimestamp=${Date.now()}`)).code).toBe(404);
    expectCleanWire(proxy);
  }, 120_000);

  it('re-registers at once when the server answers a renewal with 404, without a 409 and without the replication header', async () => {
    const proxy = await proxyTo(a);
    const id = 'lease-404';
    const { service, beats } = watched(id, [proxy.serviceUrl]);
    await service.start();
    await waitFor(async () => (await shownAs(a.serviceUrl, 'node-life', id)) === 'UP/UNKNOWN', 10_000, 'UP');
    // The server loses the lease.
    expect((await eurekaRequest('DELETE', `${a.serviceUrl}/apps/NODE-LIFE/${id}`)).code).toBe(200);
    await waitFor(() => beats.some((e) => e.statusCode === 404 && e.reregister), 10_000, 'a renewal answered 404');
    await waitFor(async () => (await shownAs(a.serviceUrl, 'node-life', id)) === 'UP/UNKNOWN', 10_000, 'registered again');
    expectCleanWire(proxy);
  }, 60_000);

  it('keeps the replication header out of what a user may add to requests', async () => {
    const proxy = await proxyTo(a);
    let registry: EurekaRegistry | undefined;
    try {
      registry = new EurekaRegistry({ serviceUrls: [proxy.serviceUrl], headers: { 'X-Netflix-Discovery-Replication': 'true' } });
    } catch (error) {
      expect((error as { code?: string }).code).toBe('ERR_INVALID_OPTION');
      return;
    }
    cleanups.push(() => registry.close());
    await registry.refresh();
    expectCleanWire(proxy);
  }, 30_000);

  it('keeps the operator\'s override through a lease the server lost, and removes it on markUp()', async () => {
    const proxy = await proxyTo(a);
    const id = 'override-lease';
    const { service, beats } = watched(id, [proxy.serviceUrl]);
    const shown = (): Promise<string> => shownAs(a.serviceUrl, 'node-life', id);
    await service.start();
    await waitFor(async () => (await shown()) === 'UP/UNKNOWN', 10_000, 'UP');
    await service.markOutOfService();
    await waitFor(async () => (await shown()) === 'OUT_OF_SERVICE/OUT_OF_SERVICE', 10_000, 'the override');
    // The server loses the lease (and with it the override): the next renewal gets 404 and the client registers again.
    expect((await eurekaRequest('DELETE', `${a.serviceUrl}/apps/NODE-LIFE/${id}`)).code).toBe(200);
    await waitFor(() => beats.some((e) => e.statusCode === 404), 10_000, 'a renewal answered 404');
    await waitFor(async () => (await shown()) === 'OUT_OF_SERVICE/OUT_OF_SERVICE', 10_000, `the override back after re-registering (last: ${await shown()})`);
    await service.markUp();
    await waitFor(async () => (await shown()) === 'UP/UNKNOWN', 10_000, `UP with no override (last: ${await shown()})`);
    // And it stays so: no later write puts the old status back.
    await waitFor(() => beats.filter((e) => e.ok).length >= beats.findIndex((e) => e.statusCode === 404) + 4, 10_000, 'more renewals');
    expect(await shown()).toBe('UP/UNKNOWN');
    expect(await shownAs(b.serviceUrl, 'node-life', id)).toBe('UP/UNKNOWN');
    expectCleanWire(proxy);
  }, 60_000);

  it('replicates a registration and an operator override from peer A to peer B', async () => {
    const id = 'replicated-1';
    const { service } = watched(id, [a.serviceUrl], { name: 'node-repl', heartbeatIntervalMs: 1000 });
    await service.start();
    await waitFor(async () => (await shownAs(b.serviceUrl, 'node-repl', id)) === 'UP/UNKNOWN', 15_000, 'B to show UP');
    await service.markOutOfService();
    await waitFor(async () => (await shownAs(b.serviceUrl, 'node-repl', id)) === 'OUT_OF_SERVICE/OUT_OF_SERVICE', 15_000, 'B to show the override');
    await service.markUp();
    await waitFor(async () => (await shownAs(b.serviceUrl, 'node-repl', id)) === 'UP/UNKNOWN', 15_000, 'B to show it removed');
    await service.stop();
    await waitFor(async () => (await shownAs(b.serviceUrl, 'node-repl', id)) === 'absent', 15_000, 'B to drop the cancelled instance');
  }, 90_000);

  // Last in the file: it kills one of the file's two servers.
  it('moves heartbeats to the other peer within one request timeout when the peer in use dies, without re-registering in a loop', async () => {
    const requestTimeoutMs = 2000;
    const id = 'failover-1';
    const { service, beats, writes } = watched(id, [a.serviceUrl, b.serviceUrl], { name: 'node-failover', requestTimeoutMs });
    await service.start();
    await waitFor(() => beats.filter((e) => e.ok).length >= 2, 10_000, 'renewals');
    const used = beats.filter((e) => e.ok).at(-1)?.serviceUrl ?? '';
    const [dead, alive] = used.startsWith(a.serviceUrl) ? [a, b] : [b, a];
    // The other peer has the lease by replication.
    await waitFor(async () => (await shownAs(alive.serviceUrl, 'node-failover', id)) === 'UP/UNKNOWN', 10_000, 'the lease replicated');
    const registersBefore = writes.filter((e) => e.operation === 'register').length;
    const killedAt = Date.now();
    await dead.process.kill();
    await waitFor(() => beats.some((e) => e.at > killedAt && e.ok && (e.serviceUrl ?? '').startsWith(alive.serviceUrl)), 10_000, 'a renewal on the other peer');
    const moved = beats.find((e) => e.at > killedAt && e.ok)!;
    // At most one renewal interval until the next renewal is due, then at most one request timeout on the dead peer.
    expect(moved.at - killedAt).toBeLessThan(500 + requestTimeoutMs + 500);
    const okAfter = beats.filter((e) => e.ok).length;
    await waitFor(() => beats.filter((e) => e.ok).length >= okAfter + 6, 15_000, 'more renewals on the other peer');
    expect(beats.filter((e) => e.at > killedAt && e.reregister)).toEqual([]);
    expect(writes.filter((e) => e.operation === 'register').length).toBe(registersBefore);
    expect(await shownAs(alive.serviceUrl, 'node-failover', id)).toBe('UP/UNKNOWN');
  }, 60_000);
});
