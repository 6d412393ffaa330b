// Several Node services on one two-peer cluster of the real Eureka server, each given both service URLs in the
// same order: like the Java client, each shuffles the list (seeded by its instance id), sticks to the URL it
// picked, and so the clients spread over the peers instead of all hammering the first URL.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Service } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster } from './harness.js';
import { interopSuite } from './suite.js';
import { CapturingProxy, nodeService } from './peers.js';

interopSuite('several Node clients on a real Eureka cluster', () => {
  const proxies: CapturingProxy[] = [];
  const services: Service[] = [];

  beforeAll(async () => {
    await buildInterop();
    const peers = await startEurekaCluster(2);
    for (const peer of peers) {
      const proxy = new CapturingProxy(peer.serviceUrl);
      await proxy.listen();
      proxies.push(proxy);
    }
  }, 900_000);
  afterAll(async () => {
    await Promise.all(services.map((service) => service.stop().catch(() => undefined)));
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await killAll();
  });

  it('spread their registrations, heartbeats and fetches over the server URLs, each sticking to one', async () => {
    const urls = proxies.map((proxy) => proxy.serviceUrl);
    const ids = Array.from({ length: 8 }, (_, i) => `spread-${i}`);
    for (const id of ids) {
      const service = nodeService({
        instanceId: id,
        eureka: { serviceUrls: urls, heartbeatIntervalMs: 500, registryFetchIntervalMs: 500, jitterRatio: 0 },
        lease: { renewalIntervalMs: 500, durationMs: 1500 },
      });
      services.push(service);
      await service.start();
    }
    /** Which proxies each instance's heartbeats went through. */
    const heartbeatsOf = (id: string): Set<number> =>
      new Set(
        proxies.flatMap((proxy, p) => proxy.captured.filter((c) => c.method === 'PUT' && new URL(c.url, 'http://x').pathname.endsWith(`/${id}`)).map(() => p)),
      );
    await waitFor(() => ids.every((id) => heartbeatsOf(id).size > 0), 20_000, 'a heartbeat from every instance');
    // A few more rounds of heartbeats and fetches.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const byProxy = proxies.map(() => [] as string[]);
    for (const id of ids) {
      const used = [...heartbeatsOf(id)];
      // Sticky: every heartbeat of an instance went to the one URL it picked.
      expect(used, `instance ${id}`).toHaveLength(1);
      byProxy[used[0] ?? 0]?.push(id);
      // Its registration went there too.
      const registeredAt = proxies.findIndex((proxy) => proxy.captured.some((c) => c.method === 'POST' && c.body.includes(`"${id}"`)));
      expect(registeredAt, `registration of ${id}`).toBe(used[0]);
    }
    console.log(`instances per server URL: ${byProxy.map((list) => list.length).join(' / ')}`);
    // Spread: each server URL carries at least a quarter of the eight instances.
    for (const list of byProxy) expect(list.length).toBeGreaterThanOrEqual(2);
    // Fetches spread too: every proxy served registry reads.
    for (const proxy of proxies) expect(proxy.captured.filter((c) => c.method === 'GET' && c.url.includes('/apps')).length).toBeGreaterThan(0);
    // Nothing failed on the way.
    for (const proxy of proxies) expect(proxy.captured.filter((c) => c.status >= 500)).toEqual([]);
  }, 120_000);
});
