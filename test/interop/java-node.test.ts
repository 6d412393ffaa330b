// Java and Node services finding each other through the real Eureka cluster: a Spring Boot service (Eureka
// client + Spring Cloud LoadBalancer, @LoadBalanced RestClient) calls Node instances by their VIP, and a Node
// service calls the Java instances with service.client('java-vip'); a Node client follows the real server's
// full and delta payloads. Short fetch, renewal and cache intervals on both sides (this file is not about the
// defaults; the propagation test is).
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { RegistryInstance, Service, FetchEvent } from 'karyon-ts';
import { EurekaRegistry } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { SliceDecoder, SLICED_DECODE_MIN_BYTES } from '../../src/registry/eureka/SliceDecoder.js';
import { decodeApplications } from '../../src/registry/eureka/wire.js';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster, startJavaService } from './harness.js';
import { interopSuite } from './suite.js';
import type { EurekaPeer, JavaProcess } from './harness.js';
import { eurekaRequest, nodeService, registration } from './peers.js';

/** Spring settings of a Java service that follows changes within a few seconds. */
export const fastJava: Readonly<Record<string, string>> = {
  'eureka.client.registry-fetch-interval-seconds': '1',
  'eureka.instance.lease-renewal-interval-in-seconds': '1',
  'eureka.client.instance-info-replication-interval-seconds': '1',
  'spring.cloud.loadbalancer.cache.ttl': '1s',
};

interface CallResult {
  readonly counts: Record<string, number>;
  readonly failed: number;
  readonly errors: Record<string, number>;
}

async function javaCalls(java: JavaProcess, vip: string, n: number): Promise<CallResult> {
  const res = await eurekaRequest('GET', `${java.url}/call?vip=${vip}&n=${n}`);
  if (res.code !== 200) throw new Error(`/call answered ${res.code}: ${res.body}`);
  return JSON.parse(res.body) as CallResult;
}

interopSuite('Java and Node services through the real Eureka cluster', () => {
  let peers: EurekaPeer[] = [];
  let urls: string[] = [];
  let java: JavaProcess[] = [];
  const nodes: Service[] = [];
  let reader: EurekaRegistry;
  const fetches: FetchEvent[] = [];
  let mismatches = 0;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await buildInterop();
    peers = await startEurekaCluster(2, { properties: { 'eureka.server.response-cache-update-interval-ms': '1000' } });
    urls = peers.map((p) => p.serviceUrl);
    // A reader that follows every payload of the whole file, the servers' own records included.
    reader = new EurekaRegistry({ serviceUrls: urls, registryFetchIntervalMs: 500, jitterRatio: 0 });
    reader.on('fetch', (e) => fetches.push(e));
    reader.on('hashMismatch', () => mismatches++);
    await reader.refresh();
    for (const i of [1, 2]) {
      const node = nodeService({
        instanceId: `node-${i}`,
        eureka: { serviceUrls: urls, heartbeatIntervalMs: 1000, registryFetchIntervalMs: 1000, jitterRatio: 0 },
        lease: { renewalIntervalMs: 1000, durationMs: 5000 },
        // Covers the chain to a Java caller here: server response cache (1 s) + Java fetch (1 s) + load
        // balancer cache (1 s), plus a renewal and a fetch of slack.
        lifecycle: { deregistrationDelayMs: 6000 },
      });
      nodes.push(node);
      await node.start();
    }
    java = await Promise.all([1, 2].map((i) => startJavaService(urls, `java-${i}`, fastJava)));
  }, 900_000);
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(async () => {
    await reader?.close();
    for (const node of nodes) await node.stop().catch(() => undefined);
    await killAll();
  }, 120_000);

  it('Node calls service.client(\'java-vip\') over both Java instances', async () => {
    const caller = nodeService({
      name: 'node-caller',
      instanceId: 'caller-1',
      eureka: { serviceUrls: urls, heartbeatIntervalMs: 1000, registryFetchIntervalMs: 1000, jitterRatio: 0 },
      lifecycle: { deregistrationDelayMs: 0 },
    });
    cleanups.push(() => caller.stop());
    await caller.start();
    await waitFor(() => caller.registry.upInstancesByVip('java-vip').length === 2, 60_000, 'both Java instances UP in the Node view');
    // Round robin, to show where each call goes; the default p2c-ewma keeps to the instance it knows while
    // the other's estimate (30 ms before its first answer) is above the first one's (a millisecond on loopback).
    const client = caller.client('java-vip', { balancer: 'round-robin' });
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const res = await client.request({ path: '/hello' });
      const body = await res.body.text();
      expect(res.statusCode).toBe(200);
      counts[body] = (counts[body] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['java-1', 'java-2']);
    expect(counts).toEqual({ 'java-1': 50, 'java-2': 50 });
  }, 120_000);

  it('Java calls the Node VIP through its @LoadBalanced client over both Node instances, and stops calling one taken OUT_OF_SERVICE', async () => {
    const [javaCaller] = java as [JavaProcess];
    const [node1] = nodes as [Service, Service];
    await waitFor(async () => Object.keys((await javaCalls(javaCaller, 'node-svc', 10)).counts).length === 2, 60_000, 'the Java caller to see both Node instances');
    const spread = await javaCalls(javaCaller, 'node-svc', 40);
    expect(spread.failed).toBe(0);
    expect(Object.keys(spread.counts).sort()).toEqual(['node-1', 'node-2']);
    expect(Math.min(...Object.values(spread.counts))).toBeGreaterThanOrEqual(10);

    await node1.markOutOfService();
    let failed = 0;
    await waitFor(
      async () => {
        const r = await javaCalls(javaCaller, 'node-svc', 10);
        failed += r.failed;
        return r.counts['node-1'] === undefined;
      },
      30_000,
      'the Java caller to stop calling node-1',
    );
    const after = await javaCalls(javaCaller, 'node-svc', 20);
    expect(after.counts).toEqual({ 'node-2': 20 });
    expect(failed + after.failed).toBe(0);

    await node1.markUp();
    await waitFor(async () => (await javaCalls(javaCaller, 'node-svc', 10)).counts['node-1'] !== undefined, 30_000, 'node-1 called again');
  }, 180_000);

  it('Java loses no call while a Node instance stops gracefully, and stops calling it', async () => {
    const [, javaCaller] = java as [JavaProcess, JavaProcess];
    const node2 = nodes[1] as Service;
    await waitFor(async () => Object.keys((await javaCalls(javaCaller, 'node-svc', 10)).counts).length === 2, 60_000, 'both Node instances called');
    const stopping = node2.stop();
    let done = false;
    void stopping.finally(() => (done = true));
    const totals: Record<string, number> = {};
    let failed = 0;
    const errors: Record<string, number> = {};
    while (!done) {
      const r = await javaCalls(javaCaller, 'node-svc', 5);
      failed += r.failed;
      for (const [k, v] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + v;
      Object.assign(errors, r.errors);
    }
    await stopping;
    const after = await javaCalls(javaCaller, 'node-svc', 20);
    expect({ failed, errors }).toEqual({ failed: 0, errors: {} });
    expect(totals['node-2']).toBeGreaterThan(0);
    expect(after).toEqual({ counts: { 'node-1': 20 }, failed: 0, errors: {} });
  }, 180_000);

  it('keeps two apps that share an instance id apart, as the Java client does', async () => {
    const record = (app: string): unknown => ({
      instance: {
        instanceId: 'shared-id',
        hostName: '127.0.0.1',
        app,
        ipAddr: '127.0.0.1',
        status: 'UP',
        port: { $: 9, '@enabled': 'true' },
        vipAddress: app.toLowerCase(),
        dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      },
    });
    const url = urls[0] ?? '';
    for (const app of ['TWIN-A', 'TWIN-B']) expect((await eurekaRequest('POST', `${url}/apps/${app}`, record(app))).code).toBe(204);
    cleanups.push(() => Promise.all(['TWIN-A', 'TWIN-B'].map((app) => eurekaRequest('DELETE', `${url}/apps/${app}/shared-id`))));
    await waitFor(() => reader.instancesByApp('TWIN-A').length === 1 && reader.instancesByApp('TWIN-B').length === 1, 20_000, 'both twins in the view');
    expect(reader.upInstancesByVip('twin-a').map((i) => i.app)).toEqual(['TWIN-A']);
    expect(reader.upInstancesByVip('twin-b').map((i) => i.app)).toEqual(['TWIN-B']);
    // Removing one leaves the other.
    expect((await eurekaRequest('DELETE', `${url}/apps/TWIN-A/shared-id`)).code).toBe(200);
    await waitFor(() => reader.instancesByApp('TWIN-A').length === 0, 20_000, 'TWIN-A gone from the view');
    expect(reader.instancesByApp('TWIN-B')).toHaveLength(1);
  }, 60_000);

  it('decodes the real full and delta payloads, the servers\' own records included, with no skipped instance and no hash mismatch', async () => {
    await waitFor(() => fetches.filter((e) => e.kind === 'delta' && e.ok).length >= 20, 60_000, '20 delta fetches');
    // Each peer registers itself with its own client, on its own schedule: on a busy machine the second record
    // can arrive after the twentieth delta.
    await waitFor(() => reader.instancesByApp('EUREKA-SERVER').length === 2, 60_000, 'both servers\' own records');
    const failedFetches = fetches.filter((e) => !e.ok);
    expect(failedFetches).toEqual([]);
    expect(fetches.reduce((sum, e) => sum + e.skipped, 0)).toBe(0);
    expect(mismatches).toBe(0);
    // Full fetches only at the start and while the view was still empty, never to repair it.
    expect(fetches.filter((e) => e.kind === 'full' && e.reason !== 'initial' && e.reason !== 'empty')).toEqual([]);
    expect(reader.instancesByApp('EUREKA-SERVER')).toHaveLength(2);
    expect(reader.instancesByApp('JAVA-VIP').map((i) => i.instanceId).sort()).toEqual(['java-1', 'java-2']);
    // The Java records read back whole: what a caller needs to reach them.
    for (const instance of reader.instancesByApp('JAVA-VIP')) {
      expect(instance.hostName).toBe('127.0.0.1');
      expect(instance.vipAddress).toBe('java-vip');
      expect(instance.status).toBe('UP');
      expect(java.map((j) => j.port)).toContain(instance.port);
    }
  }, 120_000);

  it("gives the records of a kept decoding worker again for the real server's instances whose leases only were renewed", async () => {
    type Wire = Record<string, unknown> & { instanceId: string; leaseInfo: Record<string, number> };
    type Apps = { applications: { application: { name: string; instance: Wire[] }[] } & Record<string, unknown> };
    const fetchApps = async (): Promise<Apps> => {
      const res = await eurekaRequest('GET', `${urls[0]}/apps`);
      expect(res.code).toBe(200);
      return JSON.parse(res.body) as Apps;
    };
    const first = await fetchApps();
    // A server writes the registry again when it changes (here, an instance registers), with every lease's last
    // renewal as it is then: every instance renews each second here, and the response cache is refreshed each second.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await eurekaRequest('POST', `${urls[0]}/apps/LEASE-PROBE`, registration('LEASE-PROBE', 'lease-probe-1'))).code).toBe(204);
    cleanups.push(() => eurekaRequest('DELETE', `${urls[0]}/apps/LEASE-PROBE/lease-probe-1`));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const second = await fetchApps();
    // Each real instance copied under other ids until the body is large enough for the worker; their text is
    // the server's but for the id.
    const copies = Math.ceil((3 * SLICED_DECODE_MIN_BYTES) / JSON.stringify(first).length);
    const widen = (apps: Apps): Apps => ({
      applications: {
        ...apps.applications,
        application: apps.applications.application.map((app) => ({
          ...app,
          instance: app.instance.flatMap((w) => Array.from({ length: copies }, (_, k) => ({ ...w, instanceId: `${w.instanceId}-${k}` }))),
        })),
      },
    });
    const [one, two] = [widen(first), widen(second)];
    // What the second body changes but for the leases' timestamps.
    const withoutTimes = (w: Wire): string => JSON.stringify({ ...w, leaseInfo: [w.leaseInfo.renewalIntervalInSecs, w.leaseInfo.durationInSecs] });
    const before = new Map(one.applications.application.flatMap((app) => app.instance.map((w) => [w.instanceId, w])));
    const instances = two.applications.application.flatMap((app) => app.instance);
    const changed = instances.filter((w) => before.get(w.instanceId) === undefined || withoutTimes(before.get(w.instanceId)!) !== withoutTimes(w)).length;
    const renewal = (w: Wire | undefined): number | undefined => w?.leaseInfo.lastRenewalTimestamp ?? w?.leaseInfo.renewalTimestamp;
    const renewed = instances.filter((w) => before.has(w.instanceId) && renewal(before.get(w.instanceId)) !== renewal(w)).length;
    expect(renewed).toBeGreaterThan(0);
    const decoder = new SliceDecoder({ keepWorkerMs: 60_000, clock: new ManualClock() });
    let made = 0;
    const compact = (instance: RegistryInstance): RegistryInstance => {
      made++;
      return Object.freeze({ ...instance });
    };
    try {
      const signal = new AbortController().signal;
      const now = Date.now();
      const decodeAll = async (apps: Apps): Promise<RegistryInstance[]> => {
        made = 0;
        const records: RegistryInstance[] = [];
        for await (const slice of (await decoder.decode([Buffer.from(JSON.stringify(apps))], now, signal, compact)).slices) {
          expect(slice.errors).toEqual([]);
          for (const entry of slice.entries) if ('status' in entry) records.push(entry);
        }
        return records;
      };
      await decodeAll(one);
      expect(made).toBe(before.size);
      const records = await decodeAll(two);
      expect(made).toBe(changed);
      expect(made).toBeLessThan(instances.length);
      expect(records).toEqual(decodeApplications(two, now).instances.map((e) => ({ ...e.instance })));
    } finally {
      decoder.close();
    }
  }, 60_000);

  it("fetchMode 'vips' reads the real server's GET /vips/{vip}: the VIP's instances only, the same records as a full fetch, its hash matched", async () => {
    const vipReader = new EurekaRegistry({ serviceUrls: urls, fetchMode: 'vips', fetchVips: ['java-vip'], registryFetchIntervalMs: 3_600_000 });
    cleanups.push(() => vipReader.close());
    const vipFetches: FetchEvent[] = [];
    let vipMismatches = 0;
    vipReader.on('fetch', (event) => vipFetches.push(event));
    vipReader.on('hashMismatch', () => vipMismatches++);
    await vipReader.refresh();
    await vipReader.refresh();
    expect(vipFetches.map((e) => [e.kind, e.ok, e.skipped])).toEqual([
      ['vips', true, 0],
      ['vips', true, 0],
    ]);
    expect(vipMismatches).toBe(0);
    const ids = (list: readonly { instanceId: string }[]) => list.map((i) => i.instanceId).sort();
    expect(ids(vipReader.instances())).toEqual(['java-1', 'java-2']);
    expect(ids(vipReader.upInstancesByVip('java-vip'))).toEqual(ids(reader.upInstancesByVip('java-vip')));
    const fields = (i: RegistryInstance | undefined) =>
      i && { host: i.hostName, ip: i.ipAddr, port: i.port, status: i.status, vip: i.vipAddress, zone: i.zone, metadata: { ...i.metadata }, health: i.healthCheckUrl };
    for (const instance of vipReader.instancesByVip('java-vip')) {
      expect(fields(instance)).toEqual(fields(reader.instance(instance.instanceId, 'JAVA-VIP')));
    }
    expect(vipReader.fetchMode).toEqual({ mode: 'vips', vips: ['java-vip'] });
  }, 60_000);
});
