import { describe, expect, it } from 'vitest';
import { InstanceCache, sameInstance, vipsOf } from '../../src/registry/InstanceCache.js';
import type { RegistryChange, RegistryInstance } from 'karyon-ts';

function record(id: string, overrides: Partial<RegistryInstance> = {}): RegistryInstance {
  return Object.freeze({
    instanceId: id,
    app: 'GREETER',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter',
    hostName: id,
    ipAddr: '10.0.0.1',
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'z1',
    metadata: Object.freeze({ v: '1' }),
    homePageUrl: '',
    statusPageUrl: '',
    healthCheckUrl: '',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
    status: 'UP',
    overriddenStatus: 'UNKNOWN',
    lastUpdatedTimestamp: 1,
    lastDirtyTimestamp: 1,
    ...overrides,
  });
}

const key = (instanceId: string, app = 'GREETER') => ({ app, instanceId });
const ids = (list: Iterable<RegistryInstance>): string[] => [...list].map((instance) => instance.instanceId);

describe('InstanceCache (the view the Eureka client keeps)', () => {
  it('reports one change per batch, and nothing for a batch that changes nothing', () => {
    const cache = new InstanceCache();
    const changes: RegistryChange[] = [];
    cache.onChange((change) => changes.push(change));
    cache.apply([record('a'), record('b')]);
    cache.apply([record('a'), record('b')]);
    cache.apply([record('a', { metadata: { v: '1' } })]);
    expect(changes).toHaveLength(1);
    cache.apply([record('a', { status: 'DOWN' })], [key('b'), key('missing')]);
    expect(changes).toHaveLength(2);
    expect(ids(changes[1]!.removed)).toEqual(['b']);
    expect(changes[1]!.modified.map((m) => [m.previous.status, m.current.status])).toEqual([['UP', 'DOWN']]);
  });

  it('keeps the object it holds when an equal record is applied again', () => {
    const cache = new InstanceCache();
    const first = record('a');
    cache.apply([first]);
    cache.apply([record('a')]);
    expect(cache.get('a')).toBe(first);
  });

  it('judges a batch by each id’s state before and after it', () => {
    const cache = new InstanceCache();
    const original = record('a');
    cache.apply([original]);
    const changes: RegistryChange[] = [];
    cache.onChange((change) => changes.push(change));
    // Changed, then changed back, within one batch: no change, and the held object stays.
    cache.apply([record('a', { status: 'DOWN' }), record('a')]);
    expect(changes).toHaveLength(0);
    expect(cache.get('a')).toBe(original);
    // Added and removed within one batch: nothing to report.
    cache.apply([record('b')], [key('b')]);
    expect(changes).toHaveLength(0);
    expect(cache.size).toBe(1);
  });

  it('tells apart, within one batch, two apps carrying the same id and a record named several times', () => {
    const cache = new InstanceCache();
    cache.apply([record('shared'), record('shared', { app: 'OTHER', vipAddress: 'other' }), record('x')]);
    const changes: RegistryChange[] = [];
    cache.onChange((change) => changes.push(change));
    cache.apply(
      [
        record('shared', { status: 'DOWN' }),
        record('shared', { app: 'OTHER', vipAddress: 'other', status: 'STARTING' }),
        record('shared', { status: 'OUT_OF_SERVICE' }),
        record('shared', { app: 'THIRD', vipAddress: 'third' }),
        record('x', { status: 'DOWN' }),
        record('x'),
        record('x', { status: 'STARTING' }),
      ],
      [key('shared', 'OTHER')],
    );
    expect(changes).toHaveLength(1);
    const [change] = changes;
    expect(change!.modified.map((m) => [m.current.app, m.previous.status, m.current.status])).toEqual([
      ['GREETER', 'UP', 'OUT_OF_SERVICE'],
      ['GREETER', 'UP', 'STARTING'],
    ]);
    expect(change!.removed.map((r) => r.app)).toEqual(['OTHER']);
    expect(change!.added.map((r) => r.app)).toEqual(['THIRD']);
    expect(cache.byApp('OTHER')).toEqual([]);
    expect(Object.fromEntries(cache.statusCounts())).toEqual({ OUT_OF_SERVICE: 1, STARTING: 1, UP: 1 });
  });

  it('keeps the views it patches batch by batch equal to views built afresh', () => {
    const cache = new InstanceCache();
    const vips = ['a', 'b', 'c', 'a,b', 'B'];
    const apps = ['APP1', 'APP2', 'APP3'];
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const statuses = ['UP', 'DOWN', 'STARTING'] as const;
    const make = (i: number): RegistryInstance =>
      record(`i${i}`, { app: apps[i % apps.length]!, vipAddress: vips[random(vips.length)]!, status: statuses[random(statuses.length)]! });
    cache.replaceAll(Array.from({ length: 400 }, (_, i) => make(i)));
    const queries = ['a', 'b', 'c', 'A,c', ' b '];
    for (const query of queries) cache.upByVip(query);
    cache.byApp('app2');
    for (let batch = 0; batch < 50; batch++) {
      const upserts = Array.from({ length: 1 + random(20) }, () => make(random(450)));
      const removals = Array.from({ length: random(5) }, () => key(`i${random(450)}`, apps[random(apps.length)]));
      cache.apply(upserts, removals);
      const fresh = new InstanceCache();
      fresh.replaceAll([...cache.all()]);
      // The same records (a patched view appends what joins it; a fresh one follows the cache's order).
      const sorted = (list: readonly RegistryInstance[]): string[] => list.map((r) => `${r.app}/${r.instanceId}/${r.status}`).sort();
      for (const query of queries) {
        expect(sorted(cache.byVip(query)), query).toEqual(sorted(fresh.byVip(query)));
        expect(sorted(cache.upByVip(query)), query).toEqual(sorted(fresh.upByVip(query)));
      }
      expect(sorted(cache.byApp('app2'))).toEqual(sorted(fresh.byApp('app2')));
    }
  });

  it('counts instances by status as batches apply', () => {
    const cache = new InstanceCache();
    cache.replaceAll([record('a'), record('b', { status: 'DOWN' }), record('c')]);
    expect(Object.fromEntries(cache.statusCounts())).toEqual({ UP: 2, DOWN: 1 });
    cache.apply([record('b')], [key('a')]);
    expect(Object.fromEntries(cache.statusCounts())).toEqual({ UP: 2 });
    cache.replaceAll([]);
    expect(cache.statusCounts().size).toBe(0);
  });

  it('builds views on demand, by app and VIP, comma lists included, and rebuilds them after a change', () => {
    const cache = new InstanceCache();
    cache.replaceAll([
      record('a'),
      record('b', { vipAddress: 'Greeter,hello', status: 'STARTING' }),
      record('c', { app: 'OTHER', vipAddress: ' hello ' }),
    ]);
    expect(ids(cache.byApp('greeter'))).toEqual(['a', 'b']);
    expect(ids(cache.byVip('HELLO'))).toEqual(['b', 'c']);
    expect(ids(cache.upByVip('hello'))).toEqual(['c']);
    expect(ids(cache.byVip('hello, greeter,hello'))).toEqual(['a', 'b', 'c']);
    expect(cache.byVip(' , ')).toEqual([]);
    const up = cache.upByVip('greeter');
    expect(cache.upByVip('greeter')).toBe(up);
    expect(() => (up as RegistryInstance[]).push(record('x'))).toThrow();
    cache.apply([record('b', { vipAddress: 'greeter,hello' })]);
    expect(ids(cache.upByVip('greeter'))).toEqual(['a', 'b']);
    expect(ids(cache.upByVip('hello'))).toEqual(['b', 'c']);
  });

  it('finds every instance of a VIP first asked for after deltas and full replacements moved instances between VIPs', async () => {
    const cache = new InstanceCache();
    cache.replaceAll([record('a'), record('b'), record('c', { app: 'OTHER', vipAddress: 'other' })]);
    // A delta moves one instance of an app to a VIP no record had: the first read of that VIP finds it.
    cache.apply([record('b', { vipAddress: 'greeter,canary' })]);
    expect(ids(cache.byVip('canary'))).toEqual(['b']);
    // A full replacement (in slices) moves an app to another VIP and adds one: reads made after it see only it.
    const next = new Map([
      ['GREETER', new Map([['a', record('a', { vipAddress: 'other' })]])],
      ['OTHER', new Map([['c', record('c', { app: 'OTHER', vipAddress: 'other' })]])],
      ['NEW', new Map([['d', record('d', { app: 'NEW', vipAddress: 'Fresh, other' })]])],
    ]);
    await cache.replaceInSlices(next, () => new Promise((resolve) => setImmediate(resolve)), 0);
    expect(ids(cache.byVip('other'))).toEqual(['a', 'c', 'd']);
    expect(ids(cache.byVip('fresh'))).toEqual(['d']);
    expect(cache.byVip('greeter')).toEqual([]);
    expect(cache.byVip('canary')).toEqual([]);
    expect(ids(cache.byApp('new'))).toEqual(['d']);
  });

  it('compares with the equality it is given', () => {
    const cache = new InstanceCache({ equals: (a, b) => a.instanceId === b.instanceId });
    const first = record('a');
    cache.apply([first]);
    cache.apply([record('a', { status: 'DOWN' })]);
    expect(cache.get('a')).toBe(first);
  });

  it('splits VIP lists and compares records field by field', () => {
    expect(vipsOf({ vipAddress: 'A, b,,a ' })).toEqual(['a', 'b']);
    expect(sameInstance(record('a'), record('a'))).toBe(true);
    expect(sameInstance(record('a'), record('a', { metadata: { v: '2' } }))).toBe(false);
    expect(sameInstance(record('a'), record('a', { metadata: { v: '1', w: '2' } }))).toBe(false);
    expect(sameInstance(record('a'), record('a', { lastDirtyTimestamp: 2 }))).toBe(false);
  });
});
