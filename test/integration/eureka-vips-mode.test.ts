import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceDescriptor, RegistryChange, FetchEvent, HashMismatchEvent } from 'karyon-ts';
import { EurekaRegistry } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';

// fetchMode 'vips': the client fetches only the VIPs its service calls (GET /vips/{vip}), here from the
// development registry, which answers them as the real server does (the VIP's own hash, versions__delta -1).

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
    ipAddr: `10.0.0.${n}`,
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'zone-a',
    metadata: {},
    homePageUrl: `http://h${n}:8080/`,
    statusPageUrl: `http://h${n}:8080/info`,
    healthCheckUrl: `http://h${n}:8080/health`,
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
  };
}

describe("EurekaRegistry fetchMode 'vips'", () => {
  it('fetches and holds only the VIPs asked for, with the same change events and a hash check per VIP', async () => {
    const server = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
    cleanups.push(() => server.close());
    await server.listen();
    const writer = new EurekaRegistry({ serviceUrls: [server.url], fetchRegistry: false });
    cleanups.push(() => writer.close());
    for (let n = 1; n <= 3; n++) await writer.register(instance('GREETER', n), 'UP');
    for (let n = 4; n <= 9; n++) await writer.register(instance('OTHER', n), 'UP');
    await writer.register(instance('BILLING', 10), 'DOWN');
    const reader = new EurekaRegistry({ serviceUrls: [server.url], fetchMode: 'vips', fetchVips: ['Greeter', 'billing'], registryFetchIntervalMs: 3_600_000 });
    cleanups.push(() => reader.close());
    const fetches: FetchEvent[] = [];
    const changes: RegistryChange[] = [];
    const mismatches: HashMismatchEvent[] = [];
    reader.on('fetch', (event) => fetches.push(event));
    reader.on('hashMismatch', (event) => mismatches.push(event));
    reader.onChange((change) => changes.push(change));
    expect(reader.fetchMode).toEqual({ mode: 'vips', vips: ['greeter', 'billing'] });
    await reader.refresh();
    expect(reader.instances().map((i) => i.instanceId).sort()).toEqual(['h10:billing:8080', 'h1:greeter:8080', 'h2:greeter:8080', 'h3:greeter:8080']);
    expect(reader.upInstancesByVip('greeter')).toHaveLength(3);
    expect(reader.instancesByVip('other')).toHaveLength(0);
    expect(fetches.at(-1)).toMatchObject({ kind: 'vips', ok: true, instances: 4, cached: 4, added: 4 });
    expect(changes.at(-1)!.added).toHaveLength(4);
    // A change on the server shows at the next refresh, as one change event; the other app's never.
    await writer.setStatus('h2:greeter:8080', 'OUT_OF_SERVICE');
    await writer.register(instance('OTHER', 11), 'UP');
    await writer.register(instance('BILLING', 12), 'UP');
    await reader.refresh();
    const change = changes.at(-1)!;
    expect(change.modified.map((m) => [m.current.instanceId, m.current.status])).toEqual([['h2:greeter:8080', 'OUT_OF_SERVICE']]);
    expect(change.added.map((i) => i.instanceId)).toEqual(['h12:billing:8080']);
    expect(reader.upInstancesByVip('greeter').map((i) => i.instanceId).sort()).toEqual(['h1:greeter:8080', 'h3:greeter:8080']);
    await writer.deregister('h1:greeter:8080');
    await reader.refresh();
    expect(changes.at(-1)!.removed.map((i) => i.instanceId)).toEqual(['h1:greeter:8080']);
    expect(mismatches).toEqual([]);
    // Nothing but VIP fetches went to the server.
    expect(fetches.every((f) => f.kind === 'vips')).toBe(true);
  });
});
