// A registry of thousands of instances on the real Eureka server: large enough that our client decompresses,
// parses and decodes the server's gzipped `GET /apps` on its worker thread, as it does at fleet scale. The
// instances are registered through the server's REST API (as Spring Boot services write them) and never renew
// but where a test renews them. One server (no replication); its response cache is refreshed every second.
//
// The server's read-write cache (a Guava LoadingCache) loses an invalidation that lands while the same payload is
// being generated (google/guava#1881), and its read-only layer regenerates every payload it holds each second, so a
// burst of writes can leave GET /apps (and /apps/delta) a few writes behind until the entry expires: 180 s by
// default, 5 s here. Tests wait for the payloads they read to show what they wrote (untilServed).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import type { FetchEvent, RegistryInstance } from 'karyon-ts';
import { decodeApplications } from '../../src/registry/eureka/wire.js';
import { memoryLogger } from '../support/logger.js';
import { buildInterop, killAll, startEurekaCluster } from './harness.js';
import { interopSuite } from './suite.js';
import { eurekaRequest, registration, untilServed, wireInstances, writeAll } from './peers.js';
import type { EurekaWrite, WireInstance } from './peers.js';

/** Instances registered: about 3 MB of JSON, 140 KB gzipped (from 64 KiB our client decodes on its worker). */
const INSTANCES = 3000;
const APPS = 60;
const ZONES = ['us-east-1a', 'us-east-1b', 'us-east-1c'];

/** The app and id of instance k. */
function instanceAt(k: number): { app: string; id: string } {
  const app = `FLEET-${String(k % APPS).padStart(2, '0')}`;
  return { app, id: `ip-10-1-${k >> 8}-${k & 255}.ec2.internal:${app.toLowerCase()}:8080` };
}

/** The path of instance k under a service URL. */
function pathOf(k: number): string {
  const { app, id } = instanceAt(k);
  return `/apps/${app}/${encodeURIComponent(id)}`;
}

/** Instance k as a Spring Boot service registers itself. */
function registrationOf(k: number): { instance: Record<string, unknown> } {
  const { app, id } = instanceAt(k);
  const host = `ip-10-1-${k >> 8}-${k & 255}.ec2.internal`;
  return registration(app, id, {
    hostName: host,
    ipAddr: `10.1.${k >> 8}.${k & 255}`,
    metadata: { 'management.port': '8081', zone: ZONES[k % ZONES.length], version: k % 7 === 0 ? '1.5.0' : '1.4.0' },
    homePageUrl: `http://${host}:8080/`,
    statusPageUrl: `http://${host}:8081/actuator/info`,
    healthCheckUrl: `http://${host}:8081/actuator/health`,
  });
}

/** The server's `GET /apps`, as JSON text, uncompressed. */
async function appsText(serviceUrl: string): Promise<string> {
  const res = await eurekaRequest('GET', `${serviceUrl}/apps`);
  expect(res.code).toBe(200);
  return res.body;
}

/** Records as plain objects (every field, as JSON gives them), sorted by id. */
function plain(instances: readonly RegistryInstance[]): RegistryInstance[] {
  return instances.map((i) => JSON.parse(JSON.stringify(i)) as RegistryInstance).sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

/** The records of the server's `GET /apps` text, decoded at once on this thread. */
function decodedAtOnce(text: string): RegistryInstance[] {
  return plain(decodeApplications(JSON.parse(text), 0).instances.map((e) => e.instance));
}

interopSuite('a registry of thousands of instances on the real Eureka server', () => {
  let serviceUrl = '';
  /** Sends `write(k)` for each k of `ks`; each must be answered `expected`. */
  const each = (ks: readonly number[], expected: number, write: (k: number) => EurekaWrite): Promise<void> => writeAll(serviceUrl, ks.map(write), expected);

  const all = Array.from({ length: INSTANCES }, (_, k) => k);
  const statusOf = (wire: readonly WireInstance[], status: string): number => wire.filter((w) => w.status === status).length;

  beforeAll(async () => {
    await buildInterop();
    const [peer] = await startEurekaCluster(1, {
      properties: { 'eureka.server.response-cache-update-interval-ms': '1000', 'eureka.server.response-cache-auto-expiration-in-seconds': '5' },
    });
    serviceUrl = peer!.serviceUrl;
    await each(all, 204, (k) => ({ method: 'POST', path: `/apps/${instanceAt(k).app}`, body: registrationOf(k) }));
    await untilServed(serviceUrl, (wire) => wire.length === INSTANCES, `all ${INSTANCES} instances`);
  }, 900_000);
  afterAll(async () => {
    await killAll();
  });

  it('a new client fetches it whole through its decoding worker, gzipped and chunked as the server sends it: the same records as decoded at once, none skipped', async () => {
    const text = await appsText(serviceUrl);
    const reader = new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 3_600_000, fetchDeltas: false });
    const fetches: FetchEvent[] = [];
    reader.on('fetch', (event) => fetches.push(event));
    try {
      await reader.refresh();
      const [first] = fetches;
      expect(first).toMatchObject({ kind: 'full', ok: true, instances: INSTANCES, skipped: 0, cached: INSTANCES, added: INSTANCES });
      // Gzipped by the server (a sixth of the text or less), and over the 64 KiB from which the worker
      // decompresses it.
      expect(first!.bytes).toBeGreaterThan(64 * 1024);
      expect(first!.bytes).toBeLessThan(text.length / 6);
      expect(plain(reader.instances())).toEqual(decodedAtOnce(text));
    } finally {
      await reader.close();
    }
  }, 60_000);

  it('a full fetch over the held view keeps the records of the instances whose leases only were renewed, and takes the changed ones', async () => {
    const logger = memoryLogger();
    const reader = new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 3_600_000, fetchDeltas: false, logger });
    const fetches: FetchEvent[] = [];
    reader.on('fetch', (event) => fetches.push(event));
    const out = all.filter((k) => k % 100 === 0);
    try {
      const before = await appsText(serviceUrl);
      await reader.refresh();
      const held = new Map(reader.instances().map((i) => [i.instanceId, i]));
      expect(held.size).toBe(INSTANCES);
      // Every lease renewed (the server moves its lastRenewalTimestamp), and a few instances taken out of service.
      await each(all, 200, (k) => ({ method: 'PUT', path: `${pathOf(k)}?status=UP&lastDirtyTimestamp=1000` }));
      await each(out, 200, (k) => ({ method: 'PUT', path: `${pathOf(k)}/status?value=OUT_OF_SERVICE` }));
      const after = await untilServed(serviceUrl, (wire) => statusOf(wire, 'OUT_OF_SERVICE') === out.length, `${out.length} instances OUT_OF_SERVICE`);
      const renewal = new Map(wireInstances(before).map((w) => [w.instanceId, w.leaseInfo.lastRenewalTimestamp]));
      const renewed = wireInstances(after).filter((w) => renewal.get(w.instanceId) !== w.leaseInfo.lastRenewalTimestamp).length;
      expect(renewed).toBe(INSTANCES);

      await reader.refresh();
      expect(fetches.at(-1)).toMatchObject({ kind: 'full', ok: true, instances: INSTANCES, skipped: 0, added: 0, removed: 0, modified: out.length });
      const outIds = new Set(out.map((k) => instanceAt(k).id));
      for (const instance of reader.instances()) {
        if (outIds.has(instance.instanceId)) expect(instance.status).toBe('OUT_OF_SERVICE');
        else expect(instance).toBe(held.get(instance.instanceId));
      }
      expect(plain(reader.instances())).toEqual(decodedAtOnce(after));

      // Nothing changed since: the server answers with the very bytes of its cache, so nothing is decoded, and the
      // view stays as it is.
      const kept = new Map(reader.instances().map((i) => [i.instanceId, i]));
      const undecoded = (): number => logger.lines.filter((line) => line.includes('nothing to decode')).length;
      const undecodedBefore = undecoded();
      await reader.refresh();
      expect(fetches.at(-1)).toMatchObject({ kind: 'full', ok: true, instances: INSTANCES, skipped: 0, added: 0, removed: 0, modified: 0 });
      expect(reader.instances().filter((i) => kept.get(i.instanceId) === i)).toHaveLength(INSTANCES);
      expect(undecoded()).toBe(undecodedBefore + 1);
    } finally {
      await reader.close();
      // Back in service, for the tests that follow.
      await each(out, 200, (k) => ({ method: 'PUT', path: `${pathOf(k)}/status?value=UP` }));
    }
  }, 120_000);

  it('deltas follow registrations, cancels and status changes of the large registry with no hash mismatch', async () => {
    const reader = new EurekaRegistry({ serviceUrls: [serviceUrl], registryFetchIntervalMs: 3_600_000 });
    const fetches: FetchEvent[] = [];
    let mismatches = 0;
    reader.on('fetch', (event) => fetches.push(event));
    reader.on('hashMismatch', () => mismatches++);
    try {
      await reader.refresh();
      const added = Array.from({ length: 20 }, (_, k) => INSTANCES + k);
      const cancelled = all.filter((k) => k % 150 === 1);
      const down = all.filter((k) => k % 150 === 2);
      await each(added, 204, (k) => ({ method: 'POST', path: `/apps/${instanceAt(k).app}`, body: registrationOf(k) }));
      await each(cancelled, 200, (k) => ({ method: 'DELETE', path: pathOf(k) }));
      await each(down, 200, (k) => ({ method: 'PUT', path: `${pathOf(k)}/status?value=OUT_OF_SERVICE` }));
      const expected = INSTANCES + added.length - cancelled.length;
      const text = await untilServed(serviceUrl, (wire) => wire.length === expected && statusOf(wire, 'OUT_OF_SERVICE') === down.length, 'the changes', {
        delta: true,
      });
      await reader.refresh();
      expect(fetches.map((e) => [e.kind, e.ok, e.skipped]).at(-1)).toEqual(['delta', true, 0]);
      expect(fetches.filter((e) => !e.ok || e.skipped > 0 || (e.kind === 'full' && e.reason !== 'initial'))).toEqual([]);
      expect(mismatches).toBe(0);
      expect(plain(reader.instances())).toEqual(decodedAtOnce(text));
    } finally {
      await reader.close();
    }
  }, 120_000);
});
