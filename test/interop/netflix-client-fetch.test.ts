// The Netflix Eureka client (com.netflix.discovery.DiscoveryClient, as interop/eureka-fetch runs it) against our
// development registry: its first full fetch holds every instance registered over HTTP, of every status, and
// the deltas that follow a status change apply as deltas (the registry's apps__hashcode matches the one the
// Java client computes; a mismatch would make it fall back to a full fetch) and show the change. The same
// program is the Java peer of bench/eureka-java-client.bench.ts.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EurekaServer } from 'karyon-ts/testing';
import { buildInterop, killAll, startEurekaFetch } from './harness.js';
import type { EurekaFetchLine } from './harness.js';
import { interopSuite } from './suite.js';
import { eurekaRequest, registration } from './peers.js';

const APPS = 12;
const INSTANCES = 300;

/** The `i`th instance registered: a few start as STARTING, which the Java client must keep too. */
function instance(app: string, id: string, i: number): { instance: Record<string, unknown> } {
  const ip = `10.1.${i >> 8}.${i & 255}`;
  return registration(app, id, {
    ipAddr: ip,
    status: i % 25 === 0 ? 'STARTING' : 'UP',
    metadata: { zone: `zone-${i % 3}`, version: '1.0.0' },
    vipAddress: app.toLowerCase(),
    secureVipAddress: app.toLowerCase(),
    homePageUrl: `http://${ip}:8080/`,
    lastDirtyTimestamp: String(1_760_000_000_000 + i),
  });
}

interopSuite('the Netflix Eureka client fetching from the development registry', () => {
  let server: EurekaServer;
  const ids: { app: string; id: string }[] = [];

  beforeAll(async () => {
    await buildInterop();
    server = new EurekaServer({ port: 0, host: '127.0.0.1' });
    await server.listen();
    for (let i = 0; i < INSTANCES; i++) {
      const app = `FETCH-${String(i % APPS).padStart(2, '0')}`;
      const id = `fetch-${i}`;
      ids.push({ app, id });
      const res = await eurekaRequest('POST', `${server.url}/apps/${app}`, instance(app, id, i));
      if (res.code !== 204) throw new Error(`registration of ${id} answered ${res.code}: ${res.body}`);
    }
  }, 900_000);
  afterAll(async () => {
    await killAll();
    await server?.close();
  }, 60_000);

  it('holds every instance after its first full fetch, and applies the deltas of a status change', async () => {
    const run = startEurekaFetch({ url: server.url, deltas: 6, fetchIntervalSeconds: 1, timeoutSeconds: 60 });
    try {
      await run.next('start');
      const full = await run.next('full');
      expect(full['kind']).toBe('full');
      expect(full['instances']).toBe(INSTANCES);
      expect(full['apps']).toBe(APPS);
      expect(full['statuses']).toEqual({ STARTING: 12, UP: INSTANCES - 12 });
      // What the benchmark reads is there and plausible.
      for (const field of ['fetchMs', 'constructMs', 'processCpuMs', 'fetchThreadCpuMs', 'heapBytesPerInstance', 'gcMaxMs', 'tickerMaxGapMs']) {
        expect(typeof full[field], field).toBe('number');
        expect(full[field] as number, field).toBeGreaterThanOrEqual(0);
      }
      expect(full['heapBytesPerInstance'] as number).toBeGreaterThan(100);

      // Three instances go out of service; the Java client's deltas must carry it, without a full fetch.
      const out = ids.slice(1, 4);
      for (const { app, id } of out) {
        const res = await eurekaRequest('PUT', `${server.url}/apps/${app}/${id}/status?value=OUT_OF_SERVICE`);
        expect(res.code).toBe(200);
      }
      const deltas: EurekaFetchLine[] = [];
      for (let i = 0; i < 6; i++) {
        const delta = await run.next('delta');
        deltas.push(delta);
        if ((delta['statuses'] as Record<string, number>)['OUT_OF_SERVICE'] === 3) break;
      }
      expect(deltas.map((d) => d['kind'])).toEqual(deltas.map(() => 'delta'));
      const last = deltas[deltas.length - 1]!;
      expect(last['instances']).toBe(INSTANCES);
      expect(last['statuses']).toEqual({ OUT_OF_SERVICE: 3, STARTING: 12, UP: INSTANCES - 15 });
    } finally {
      await run.kill();
    }
  }, 180_000);
});
