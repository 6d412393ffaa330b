import { describe, expect, it } from 'vitest';
import { silentLogger } from 'karyon-ts/extend';
import { appsHashcode, encodeApplications } from '../../src/registry/eureka/wire.js';
import { applicationJson, applicationsJson, splitAtRenewal, wholeJson } from '../../src/registry/server/applicationsJson.js';
import { encodeLease } from '../../src/registry/server/encodeLease.js';
import { leaseExpiresAt } from '../../src/registry/server/EurekaLease.js';
import { LeaseRegistry } from '../../src/registry/server/LeaseRegistry.js';
import type { DeltaEntry } from '../../src/registry/server/LeaseRegistry.js';
import { parseRegistration } from '../../src/registry/server/parseRegistration.js';
import { Payload, ResponseCache } from '../../src/registry/server/ResponseCache.js';
import { ManualClock } from 'karyon-ts/testing';

// Leases, eviction, the delta queue and the response cache, on a manual clock and without sockets.

function instanceBody(id: string, fields: Record<string, unknown> = {}): { instance: Record<string, unknown> } {
  return {
    instance: {
      instanceId: id,
      hostName: id,
      app: 'GREETER',
      ipAddr: '10.0.0.1',
      status: 'UP',
      port: { $: 8080, '@enabled': 'true' },
      vipAddress: 'greeter',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      ...fields,
    },
  };
}

function setup(options: { leaseDurationMs?: number; deltaRetentionMs?: number } = {}) {
  const clock = new ManualClock();
  const registry = new LeaseRegistry({
    clock,
    logger: silentLogger,
    leaseDurationMs: options.leaseDurationMs ?? 90_000,
    deltaRetentionMs: options.deltaRetentionMs ?? 180_000,
  });
  const register = (id: string, fields: Record<string, unknown> = {}) =>
    registry.register(parseRegistration(instanceBody(id, { lastDirtyTimestamp: String(clock.now()), ...fields }), 'GREETER', clock.now()));
  return { clock, registry, register };
}

describe('leases', () => {
  it('expire one lease duration after the last renewal, not two as on Netflix', () => {
    const { clock, registry, register } = setup({ leaseDurationMs: 10_000 });
    register('a');
    clock.advance(6_000);
    expect(registry.renew('GREETER', 'a')).toBe('renewed');
    const renewedAt = clock.now();
    expect(leaseExpiresAt(registry.get('GREETER', 'a')!)).toBe(renewedAt + 10_000);
    clock.advance(10_000);
    expect(registry.evictExpired()).toEqual([]);
    clock.advance(1);
    expect(registry.evictExpired().map((lease) => lease.instance.instanceId)).toEqual(['a']);
    expect(registry.get('GREETER', 'a')).toBeUndefined();
  });

  it("take the instance's own leaseInfo.durationInSecs when above zero, else the server's duration", () => {
    const { registry, register } = setup({ leaseDurationMs: 10_000 });
    register('own', { leaseInfo: { renewalIntervalInSecs: 5, durationInSecs: 15 } });
    register('zero', { leaseInfo: { durationInSecs: 0 } });
    register('none');
    expect(registry.get('GREETER', 'own')?.instance.leaseDurationMs).toBe(15_000);
    expect(registry.get('GREETER', 'own')?.instance.leaseRenewalIntervalMs).toBe(5_000);
    expect(registry.get('GREETER', 'zero')?.instance.leaseDurationMs).toBe(10_000);
    expect(registry.get('GREETER', 'none')?.instance.leaseDurationMs).toBe(10_000);
  });

  it('eviction removes only the expired leases, with their overrides, and records DELETED', () => {
    const { clock, registry, register } = setup({ leaseDurationMs: 10_000 });
    register('dead');
    register('alive');
    registry.setOverride('GREETER', 'dead', 'OUT_OF_SERVICE');
    clock.advance(8_000);
    registry.renew('GREETER', 'alive');
    clock.advance(8_000);
    expect(registry.evictExpired().map((lease) => lease.instance.instanceId)).toEqual(['dead']);
    expect(registry.overrideOf('GREETER', 'dead')).toBeUndefined();
    expect(registry.get('GREETER', 'alive')?.instance.status).toBe('UP');
    const deleted = registry.delta().changes.find((change) => change.lease.instance.instanceId === 'dead');
    expect(deleted?.actionType).toBe('DELETED');
    expect(deleted?.lease.evictionTimestamp).toBe(clock.now());
  });

  it('eviction finds expired leases by last renewal, whatever their order of registration, duration or write', () => {
    const { clock, registry, register } = setup({ leaseDurationMs: 10_000 });
    register('first');
    register('second');
    register('long', { leaseInfo: { durationInSecs: 30 } });
    register('short', { leaseInfo: { durationInSecs: 5 } });
    clock.advance(4_000);
    // Every write renews: a renewal, an override and a re-registration each move a lease behind the others.
    registry.renew('GREETER', 'first');
    registry.setOverride('GREETER', 'long', 'OUT_OF_SERVICE');
    clock.advance(2_000);
    expect(registry.evictExpired().map((lease) => lease.instance.instanceId)).toEqual(['short']);
    clock.advance(4_001);
    expect(registry.evictExpired().map((lease) => lease.instance.instanceId)).toEqual(['second']);
    register('second');
    clock.advance(4_000);
    expect(registry.evictExpired().map((lease) => lease.instance.instanceId)).toEqual(['first']);
    clock.advance(30_000);
    expect(
      registry
        .evictExpired()
        .map((lease) => lease.instance.instanceId)
        .sort(),
    ).toEqual(['long', 'second']);
    expect(registry.size).toBe(0);
    register('again');
    registry.clear();
    clock.advance(60_000);
    expect(registry.evictExpired()).toEqual([]);
  });

  it('keeps serviceUpTimestamp across re-registrations, from the first time the instance was UP', () => {
    const { clock, registry, register } = setup();
    register('a', { status: 'STARTING' });
    expect(registry.get('GREETER', 'a')?.serviceUpTimestamp).toBe(0);
    clock.advance(1000);
    register('a', { status: 'UP' });
    const upAt = clock.now();
    clock.advance(1000);
    register('a', { status: 'UP' });
    expect(registry.get('GREETER', 'a')?.serviceUpTimestamp).toBe(upAt);
    expect(registry.get('GREETER', 'a')?.registrationTimestamp).toBe(clock.now());
  });
});

describe('the delta queue', () => {
  it('holds the latest change of each instance within the retention, with its action', () => {
    const { clock, registry, register } = setup({ deltaRetentionMs: 60_000 });
    register('a', { status: 'STARTING' });
    clock.advance(1_000);
    register('b');
    clock.advance(1_000);
    register('a', { status: 'UP' });
    registry.setOverride('GREETER', 'b', 'OUT_OF_SERVICE');
    register('c');
    registry.cancel('GREETER', 'c');
    const actions = registry.delta().changes.map((change) => [change.lease.instance.instanceId, change.actionType, change.lease.instance.status]);
    expect(actions).toEqual([
      ['a', 'ADDED', 'UP'],
      ['b', 'MODIFIED', 'OUT_OF_SERVICE'],
      ['c', 'DELETED', 'UP'],
    ]);
  });

  it('drops a change once it is older than the retention, and says when that will happen', () => {
    const { clock, registry, register } = setup({ deltaRetentionMs: 60_000 });
    register('a');
    const addedAt = clock.now();
    clock.advance(30_000);
    register('b');
    expect(registry.delta().validUntil).toBe(addedAt + 60_001);
    clock.advance(30_000);
    expect(registry.delta().changes.map((c) => c.lease.instance.instanceId)).toEqual(['a', 'b']);
    clock.advance(1);
    expect(registry.delta().changes.map((c) => c.lease.instance.instanceId)).toEqual(['b']);
    clock.advance(30_000);
    expect(registry.delta()).toEqual({ changes: [], validUntil: Infinity });
  });

  it('the version increments on every change', () => {
    const { registry, register } = setup();
    const versions = [registry.version];
    register('a');
    versions.push(registry.version);
    registry.setOverride('GREETER', 'a', 'OUT_OF_SERVICE');
    versions.push(registry.version);
    registry.removeOverride('GREETER', 'a', 'UP');
    versions.push(registry.version);
    registry.cancel('GREETER', 'a');
    versions.push(registry.version);
    expect(versions).toEqual([0, 1, 2, 3, 4]);
  });

  it('apps__hashcode counts every instance of every status, statuses in alphabetical order', () => {
    const { registry, register } = setup();
    expect(registry.hashcode()).toBe('');
    register('a');
    register('b');
    register('c');
    register('d', { status: 'DOWN' });
    register('e', { status: 'STARTING' });
    registry.setOverride('GREETER', 'c', 'OUT_OF_SERVICE');
    expect(registry.hashcode()).toBe('DOWN_1_OUT_OF_SERVICE_1_STARTING_1_UP_2_');
    registry.cancel('GREETER', 'a');
    expect(registry.hashcode()).toBe('DOWN_1_OUT_OF_SERVICE_1_STARTING_1_UP_1_');
  });

  it('keeps the hash equal to appsHashcode() over every lease through any sequence of changes', () => {
    const { clock, registry, register } = setup({ leaseDurationMs: 50_000 });
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const statuses = ['UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE', 'UNKNOWN'] as const;
    for (let step = 0; step < 2_000; step++) {
      const id = `i-${random(40)}`;
      clock.advance(random(1_000));
      switch (random(7)) {
        case 0:
        case 1:
          register(id, { status: statuses[random(5)] });
          break;
        case 2:
          registry.setOverride('GREETER', id, statuses[random(5)]!);
          break;
        case 3:
          registry.removeOverride('GREETER', id, random(2) === 0 ? 'UP' : undefined);
          break;
        case 4:
          registry.cancel('GREETER', id);
          break;
        case 5:
          registry.renew('GREETER', id);
          break;
        default:
          registry.evictExpired();
      }
      expect(registry.hashcode()).toBe(appsHashcode([...registry.all()].map((lease) => lease.instance.status)));
    }
    expect(registry.size).toBeGreaterThan(0);
    registry.clear();
    expect(registry.hashcode()).toBe('');
  });
});

describe('applicationsJson', () => {
  it('writes the same bytes as JSON.stringify(encodeApplications(...)), apps grouped in order of appearance', () => {
    const { registry, register } = setup();
    register('a');
    registry.register(parseRegistration(instanceBody('c-1', { app: 'CALLER', vipAddress: 'caller' }), 'CALLER', 0));
    register('b', { status: 'DOWN', metadata: { quote: 'say "hi"\n', unicode: 'é€' } });
    registry.cancel('GREETER', 'a');
    const entries = registry.delta().changes;
    const expected = JSON.stringify(encodeApplications(entries.map((e) => encodeLease(e.lease, e.actionType)), 7, registry.hashcode()));
    const whole = (e: DeltaEntry) => wholeJson(e.lease.instance.app, JSON.stringify(encodeLease(e.lease, e.actionType)));
    const actual = applicationsJson(entries.map(whole), 7, registry.hashcode()).toString();
    expect(actual).toBe(expected);
    expect(JSON.parse(actual).applications.application.map((app: { name: string }) => app.name)).toEqual(['CALLER', 'GREETER']);
    expect(applicationsJson([], '1', '').toString()).toBe(JSON.stringify(encodeApplications([], '1', '')));
  });

  it('writes each renewal into bytes kept without it, after non-ASCII text too, as the whole encoding would', () => {
    const { registry, register } = setup();
    register('a', { metadata: { unicode: 'é€ "quoted"' } });
    register('b');
    register('c');
    register('d');
    const placeholder = -987_654_321_012_345;
    const renewals = [0, 1_700_000_001_234, 9, 10];
    const leases = registry.app('GREETER').map((lease, i) => ({ ...lease, lastRenewalTimestamp: renewals[i % renewals.length]! }));
    const pieces = leases.map((lease) => {
      const split = splitAtRenewal(JSON.stringify(encodeLease({ ...lease, lastRenewalTimestamp: placeholder })), placeholder);
      if (split === undefined) throw new Error('placeholder not found');
      return { app: lease.instance.app, ...split, renewal: lease.lastRenewalTimestamp };
    });
    expect(applicationsJson(pieces, 3, 'UP_2_').toString()).toBe(JSON.stringify(encodeApplications(leases.map((lease) => encodeLease(lease)), 3, 'UP_2_')));
    expect(applicationJson('GREETER', pieces).toString()).toBe(
      JSON.stringify({ application: { name: 'GREETER', instance: leases.map((lease) => encodeLease(lease)) } }),
    );
    // A text field holding the placeholder's digits cannot be mistaken for the renewal: not found once, not split.
    expect(splitAtRenewal(`{"lastRenewalTimestamp":${placeholder},"x":"\\"lastRenewalTimestamp\\":${placeholder}"}`, placeholder)).toBeDefined();
    expect(splitAtRenewal(`{"lastRenewalTimestamp":${placeholder},"lastRenewalTimestamp":${placeholder}}`, placeholder)).toBeUndefined();
  });
});

describe('ResponseCache', () => {
  function cacheSetup(refreshMs: number) {
    const clock = new ManualClock();
    let version = 0;
    let builds = 0;
    const cache = new ResponseCache({
      clock,
      refreshMs,
      version: () => version,
      build: (key) => {
        builds++;
        return key === 'missing' ? undefined : new Payload(JSON.stringify({ key, version }), key === 'delta' ? clock.now() + 100 : Infinity);
      },
    });
    const body = (key: string) => JSON.parse(cache.get(key)?.body.toString() ?? 'null') as unknown;
    return { clock, cache, body, bump: () => version++, builds: () => builds };
  }

  it('off: builds a payload once per registry version and serves every change at once', () => {
    const { cache, body, bump, builds } = cacheSetup(0);
    expect(body('apps')).toEqual({ key: 'apps', version: 0 });
    expect(cache.get('apps')).toBe(cache.get('apps'));
    expect(builds()).toBe(1);
    bump();
    expect(body('apps')).toEqual({ key: 'apps', version: 1 });
    expect(builds()).toBe(2);
  });

  it('off: rebuilds a payload whose content ages with time (the delta) once it is stale', () => {
    const { clock, cache, builds } = cacheSetup(0);
    const first = cache.get('delta');
    clock.advance(99);
    expect(cache.get('delta')).toBe(first);
    clock.advance(1);
    expect(cache.get('delta')).not.toBe(first);
    expect(builds()).toBe(2);
  });

  it('on: answers from the read-only copy until the refresh tick, as Netflix does', async () => {
    const { clock, cache, body, bump } = cacheSetup(30_000);
    cache.start();
    expect(body('apps')).toEqual({ key: 'apps', version: 0 });
    bump();
    await clock.advanceAsync(29_999);
    expect(body('apps')).toEqual({ key: 'apps', version: 0 });
    await clock.advanceAsync(1);
    expect(body('apps')).toEqual({ key: 'apps', version: 1 });
    // A key first read after the change is built from the registry as it is.
    expect(body('app:OTHER')).toEqual({ key: 'app:OTHER', version: 1 });
    await cache.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('never caches a missing payload', () => {
    const { cache, builds } = cacheSetup(30_000);
    expect(cache.get('missing')).toBeUndefined();
    expect(cache.get('missing')).toBeUndefined();
    expect(builds()).toBe(2);
  });

  describe('memory of large bodies', () => {
    const MiB = 1024 * 1024;
    function bigSetup(options: { refreshMs?: number; size?: () => number } = {}) {
      const clock = new ManualClock();
      let version = 0;
      const cache = new ResponseCache({
        clock,
        refreshMs: options.refreshMs ?? 0,
        version: () => version,
        build: (_key, allocate) => {
          const body = allocate(options.size?.() ?? 2 * MiB);
          body.fill(0x30 + (version % 10));
          return new Payload(body);
        },
      });
      return { cache, bump: () => version++ };
    }

    it('is reused by the next payload of the key once nobody reads the old one', async () => {
      const { cache, bump } = bigSetup();
      const first = cache.get('apps')!;
      bump();
      const second = cache.get('apps')!;
      expect(second.body.buffer === first.body.buffer).toBe(true);
      expect(second.body[0]).toBe(0x31);
      // While a response sends it, or its compression reads it, the next payload gets memory of its own.
      const release = second.use();
      bump();
      const third = cache.get('apps')!;
      expect(third.body.buffer === second.body.buffer).toBe(false);
      expect(second.body[0]).toBe(0x31);
      release();
      const zipping = third.gzipped();
      bump();
      const fourth = cache.get('apps')!;
      expect(fourth.body.buffer === third.body.buffer).toBe(false);
      expect(third.body.every((byte) => byte === 0x32)).toBe(true);
      await zipping;
      bump();
      expect(cache.get('apps')!.body.buffer === fourth.body.buffer).toBe(true);
    });

    it('is not reused while the read-only layer serves the old payload, nor when far too large or too small', async () => {
      const { cache, bump } = bigSetup({ refreshMs: 30_000 });
      const served = cache.get('apps')!;
      bump();
      cache.refresh();
      expect(cache.get('apps')!.body.buffer === served.body.buffer).toBe(false);
      expect(served.body[0]).toBe(0x30);
      await cache.close();

      let size = 2 * MiB;
      const sized = bigSetup({ size: () => size });
      const big = sized.cache.get('apps')!;
      size = 1.5 * MiB;
      sized.bump();
      expect(sized.cache.get('apps')!.body.buffer === big.body.buffer).toBe(true);
      size = 3 * MiB;
      sized.bump();
      expect(sized.cache.get('apps')!.body.buffer === big.body.buffer).toBe(false);
      size = MiB / 2;
      sized.bump();
      expect(sized.cache.get('apps')!.body.length).toBe(MiB / 2);
      sized.bump();
      // Below a MiB a body comes from ordinary allocation, which may share memory with other buffers.
      const small = sized.cache.get('apps')!;
      sized.bump();
      expect(sized.cache.get('apps')!.body.buffer === small.body.buffer && small.body.buffer.byteLength < MiB).toBe(false);
    });
  });

  it('gzips a payload once and shares the bytes', async () => {
    const payload = new Payload(JSON.stringify({ hello: 'world' }));
    const [a, b] = await Promise.all([payload.gzipped(), payload.gzipped()]);
    expect(a).toBe(b);
    const { gunzipSync } = await import('node:zlib');
    expect(JSON.parse(gunzipSync(a).toString())).toEqual({ hello: 'world' });
  });
});
