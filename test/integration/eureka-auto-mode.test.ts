import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EurekaRegistry, createService } from 'karyon-ts';
import type { FetchEvent, InstanceDescriptor } from 'karyon-ts';
import type { RegistryReport } from 'karyon-ts/extend';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

// fetchMode 'auto' against the development registry: the client measures what a refresh costs in each mode
// (bytes received, event-loop time) and keeps the cheaper one, and the admin discovery view says which and why.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function instance(app: string, n: number, vip = app.toLowerCase()): InstanceDescriptor {
  return {
    instanceId: `h${n}:${vip}:8080`,
    app,
    vipAddress: vip,
    secureVipAddress: vip,
    hostName: `h${n}`,
    ipAddr: `10.0.${Math.floor(n / 250)}.${n % 250}`,
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'zone-a',
    metadata: { 'management.port': '8081', version: '1.4.2' },
    homePageUrl: `http://h${n}:8080/`,
    statusPageUrl: `http://h${n}:8080/info`,
    healthCheckUrl: `http://h${n}:8080/health`,
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
  };
}

async function devRegistry(deltaRetentionMs?: number): Promise<{ server: EurekaServer; writer: EurekaRegistry }> {
  const server = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0, ...(deltaRetentionMs === undefined ? {} : { deltaRetentionMs }) });
  cleanups.push(() => server.close());
  await server.listen();
  const writer = new EurekaRegistry({ serviceUrls: [server.url], fetchRegistry: false });
  cleanups.push(() => writer.close());
  return { server, writer };
}

async function report(url: string): Promise<RegistryReport> {
  const res = await request(`${url}/registry`);
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as RegistryReport;
}

describe("EurekaRegistry fetchMode 'auto'", () => {
  it('moves to the full registry once its deltas cost less than fetching the VIPs, and shows it on the admin /registry', async () => {
    // Changes stay in the delta for 300 ms: right after the registrations, the delta carries every instance.
    const { server, writer } = await devRegistry(300);
    // Each BIG instance carries 8 KB of its own metadata, so bytes decide both ways whatever the CPU time measured
    // on a loaded machine: a VIP refresh costs about 1 MB, a quiet delta a few KB.
    for (let n = 1; n <= 120; n++) {
      const big = instance('BIG', n);
      await writer.register({ ...big, metadata: { ...big.metadata, build: randomBytes(4000).toString('hex') } }, 'UP');
    }
    for (let n = 200; n < 205; n++) await writer.register(instance('SMALL', n), 'UP');
    const service = createService({
      name: 'caller',
      admin: { port: 0 },
      logger: false,
      lifecycle: { deregistrationDelayMs: 0 },
      registry: { eureka: { serviceUrls: [server.url], fetchMode: 'auto', fetchVips: ['big'], registryFetchIntervalMs: 3_600_000 } },
    });
    cleanups.push(() => service.stop());
    const registry = service.registry as EurekaRegistry;
    const fetches: FetchEvent[] = [];
    registry.on('fetch', (event) => fetches.push(event));
    expect(registry.fetchMode).toMatchObject({ mode: 'vips', vips: ['big'], auto: { reason: 'initial' } });
    await service.start();
    await registry.refresh();
    // The cheapest start: only the VIP called.
    expect(fetches[0]).toMatchObject({ kind: 'vips', ok: true, instances: 120 });
    // Each refresh measures the VIPs; the first and then every 10th also probes a delta. As the registrations
    // leave the delta, it soon costs far less than 120 instances a refresh, a full fetch included.
    await waitFor(async () => {
      await registry.refresh();
      return registry.fetchMode.mode === 'full';
    }, 20_000, "auto to choose 'full'");
    const mode = registry.fetchMode;
    expect(mode.auto).toMatchObject({ reason: 'fullCheaper', horizon: 120 });
    expect(mode.auto!.vips!.instances).toBe(120);
    expect(mode.auto!.delta!.bytes).toBeLessThan(mode.auto!.vips!.bytes);
    // The change takes effect at the next refresh (one full fetch, unless a refresh in progress made it already),
    // then deltas follow.
    await waitFor(async () => {
      await registry.refresh();
      return fetches.at(-1)?.kind === 'delta';
    }, 10_000, 'a delta after the full fetch');
    // VIP refreshes, one full fetch for the change, then deltas.
    expect(fetches.map((f) => f.kind).join(' ')).toMatch(/^(vips )+full( delta)+$/);
    expect(fetches.find((f) => f.kind === 'full')).toMatchObject({ reason: 'fetchModeChanged', ok: true });
    expect(registry.instancesByApp('SMALL')).toHaveLength(5);
    expect(registry.instancesByVip('big')).toHaveLength(120);
    // Then deltas, which apply onto the whole view.
    await writer.setStatus('h200:small:8080', 'OUT_OF_SERVICE');
    await registry.refresh();
    expect(fetches.at(-1)).toMatchObject({ kind: 'delta', ok: true });
    expect(registry.instancesByApp('SMALL').find((i) => i.instanceId === 'h200:small:8080')?.status).toBe('OUT_OF_SERVICE');
    const fetch = (await report(service.adminUrl!)).fetch!;
    expect(fetch.mode).toMatchObject({ mode: 'full', vips: [], auto: { reason: 'fullCheaper', horizon: 120 } });
    expect(fetch.mode.auto!.full!.instances).toBeGreaterThanOrEqual(125);
  });

  it('moves to the VIPs when they cost less than the deltas of a busy registry, and drops the other apps', async () => {
    // 17 VIPs: too many to start with VIP fetches, so it starts with the full registry.
    const { server, writer } = await devRegistry();
    const vips = Array.from({ length: 17 }, (_, i) => `v${i}`);
    for (const [i, vip] of vips.entries()) await writer.register(instance(vip.toUpperCase(), 300 + i), 'UP');
    // 1,000 registrations of another app, each with 2 KB of its own metadata: the deltas carry them for the next
    // 3 minutes, about 1 MB gzipped against 16 KB for the 17 VIPs, so the bytes alone decide, whatever the CPU
    // time measured on a loaded machine.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const busy = instance('BUSY', 1 + batch * 100 + i);
          return writer.register({ ...busy, metadata: { build: randomBytes(1000).toString('hex') } }, 'UP');
        }),
      );
    }
    const reader = new EurekaRegistry({ serviceUrls: [server.url], fetchMode: 'auto', fetchVips: vips, registryFetchIntervalMs: 3_600_000 });
    cleanups.push(() => reader.close());
    const fetches: FetchEvent[] = [];
    reader.on('fetch', (event) => fetches.push(event));
    expect(reader.fetchMode).toMatchObject({ mode: 'full', vips: [], auto: { reason: 'initial' } });
    await reader.refresh();
    expect(fetches.at(-1)).toMatchObject({ kind: 'full', reason: 'initial' });
    expect(reader.instancesByApp('BUSY')).toHaveLength(1000);
    // The next refresh is a delta of 1,017 records against 17 VIPs of one instance each.
    await reader.refresh();
    expect(fetches.at(-1)).toMatchObject({ kind: 'delta', ok: true });
    expect(reader.fetchMode).toMatchObject({ mode: 'vips', vips, auto: { reason: 'vipsCheaper' } });
    expect(reader.fetchMode.auto!.vips!.instances).toBe(17);
    expect(reader.fetchMode.auto!.delta!.bytes).toBeGreaterThan(20 * reader.fetchMode.auto!.vips!.bytes);
    await reader.refresh();
    expect(fetches.at(-1)).toMatchObject({ kind: 'vips', ok: true, instances: 17 });
    // The view now holds the VIPs only; no other app is kept as if the registry had lost it.
    expect(reader.instancesByApp('BUSY')).toHaveLength(0);
    expect(reader.instances()).toHaveLength(17);
    expect(reader.protectedApps).toEqual([]);
  });
});
