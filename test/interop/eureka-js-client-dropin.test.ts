// eureka-js-client's own integration scenario (its test/integration.test.js: register the README's instance,
// wait for the registry to refresh, find the instance by app id and by VIP address, stop) run through the
// drop-in `Eureka` of karyon-ts/eureka-js-client against the real Spring Cloud Netflix Eureka server. The
// scenario's configuration is kept as it is (a plain `port: 8080`, `dataCenterInfo: { name: 'MyOwn' }`
// without '@class', which eureka-js-client's README says the real server refuses), except for where the
// server is: its host, port and Spring Cloud's `/eureka/apps/` path. Its 60 s sleep becomes a wait for the
// `registryUpdated` event that shows the instance.
import { afterAll, beforeAll, expect, it } from 'vitest';
import Eureka from 'karyon-ts/eureka-js-client';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster } from './harness.js';
import type { EurekaPeer } from './harness.js';
import { shownAs } from './peers.js';
import { interopSuite } from './suite.js';

interopSuite("eureka-js-client's integration scenario through the drop-in, on the real Eureka server", () => {
  let peer: EurekaPeer;

  beforeAll(async () => {
    await buildInterop();
    [peer] = (await startEurekaCluster(1, { properties: { 'eureka.server.response-cache-update-interval-ms': '1000' } })) as [EurekaPeer];
  }, 900_000);
  afterAll(async () => {
    await killAll();
  });

  it('registers, is found by app id and by VIP address, and leaves on stop', async () => {
    const server = new URL(peer.serviceUrl);
    const config = {
      instance: {
        app: 'jqservice',
        hostName: 'localhost',
        ipAddr: '127.0.0.1',
        port: 8080,
        vipAddress: 'jq.test.something.com',
        dataCenterInfo: {
          name: 'MyOwn',
        },
      },
      eureka: {
        heartbeatInterval: 30000,
        registryFetchInterval: 1000,
        fetchRegistry: true,
        servicePath: '/eureka/apps/',
        ssl: false,
        useDns: false,
        fetchMetadata: true,
        host: server.hostname,
        port: Number(server.port),
      },
    };
    const client = new Eureka({ ...config, logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
    let stopped = false;
    try {
      const started = await new Promise<Error | null>((resolve) => client.start((error) => resolve(error)));
      expect(started).toBeNull();
      expect(await shownAs(peer.serviceUrl, 'JQSERVICE', 'localhost')).toBe('UP/UNKNOWN');
      // The server's read cache refreshes every second here (30 s by default); the client fetches every second.
      await waitFor(() => client.getInstancesByAppId(config.instance.app).length === 1, 30_000, 'the instance to show in the fetched registry');

      expect(client.getInstancesByAppId(config.instance.app)).toHaveLength(1);
      expect(client.getInstancesByVipAddress(config.instance.vipAddress)).toHaveLength(1);
      expect(client.getInstancesByAppId(config.instance.app)[0]).toMatchObject({ hostName: 'localhost', status: 'UP', port: { $: 8080 } });

      const error = await new Promise<Error | null>((resolve) => client.stop((e) => resolve(e)));
      stopped = true;
      expect(error).toBeNull();
      expect(await shownAs(peer.serviceUrl, 'JQSERVICE', 'localhost')).toBe('absent');
    } finally {
      if (!stopped) await new Promise<void>((resolve) => client.stop(() => resolve()));
    }
  }, 120_000);
});
