import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InstancePool } from '../../src/registry/eureka/EurekaInstance.js';
import {
  appsHashcode,
  appsHashcodeOfCounts,
  decodeApplications,
  decodeInstance,
  encodeApplications,
  encodeInstance,
} from '../../src/registry/eureka/wire.js';
import type { DecodedInstance } from '../../src/registry/eureka/wire.js';
import { sameInstance } from '../../src/registry/InstanceCache.js';
import type { InstanceDescriptor, RegistryInstance } from 'karyon-ts';

const NOW = 1_800_000_000_000;

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/eureka/${name}`, import.meta.url), 'utf8'));
}

/** The compact record the client caches must read exactly as the plain decoded record. */
function expectCompactAlike(decoded: readonly DecodedInstance[]): void {
  const pool = new InstancePool();
  for (const { instance } of decoded) {
    const compact = pool.compact(instance);
    expect(compact.toJSON()).toEqual(instance);
    expect(sameInstance(compact, instance)).toBe(true);
    expect(compact.sameAs(instance)).toBe(true);
  }
}

describe('Eureka wire: the fixtures, field by field', () => {
  it('decodes fargo__apps-sample-1-2.json (old server: number versions__delta, string $, overriddenstatus, no instanceId)', () => {
    const decoded = decodeApplications(fixture('fargo__apps-sample-1-2.json'), NOW);
    expect(decoded.versionsDelta).toBe('1');
    expect(decoded.appsHashcode).toBe('UP_24_');
    expect(decoded.errors).toEqual([]);
    expect(decoded.instances).toHaveLength(2);
    const [first, second] = decoded.instances;
    expect(first!.instance).toEqual({
      instanceId: 'qa16gs.qa.somecompany.com:7100',
      app: 'TESTENG.LSM',
      vipAddress: '[test.lax1.qa16]',
      secureVipAddress: '',
      hostName: 'qa16gs.qa.somecompany.com:7100',
      ipAddr: '192.168.191.150',
      port: 7100,
      portEnabled: true,
      securePort: 7100,
      securePortEnabled: true,
      zone: 'default',
      metadata: {
        'service-query-uri': 'https://qa16gs.qa.somecompany.com:7100',
        'base-uri': 'https://qa16gs.qa.somecompany.com:7100',
        'swagger-api-docs': 'https://qa16gs.qa.somecompany.com:7100/api-docs',
      },
      homePageUrl: '',
      statusPageUrl: '',
      healthCheckUrl: '',
      leaseRenewalIntervalMs: 30_000,
      leaseDurationMs: 90_000,
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      lastUpdatedTimestamp: 1402357291394,
      lastDirtyTimestamp: 1402357289731,
    });
    expect(first!.actionType).toBe('ADDED');
    expect(first!.dataCenterName).toBe('MyOwn');
    expect(first!.dataCenterClass).toBe('com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo');
    expect(first!.lease).toEqual({
      registrationTimestamp: 1402357291394,
      lastRenewalTimestamp: 1402552702008,
      serviceUpTimestamp: 1402357291394,
    });
    expect(first!.statusMissing).toBe(false);
    expect(first!.lastDirtyTimestampMissing).toBe(false);
    expect(second!.instance).toMatchObject({
      instanceId: 'qa22gs:7100',
      hostName: 'qa22gs:7100',
      ipAddr: '192.168.191.235',
      port: 7100,
      vipAddress: '[test.lax1.qa22]',
      metadata: { 'base-uri': 'https://qa22gs:7100' },
      lastUpdatedTimestamp: 1402096233497,
      lastDirtyTimestamp: 1401527685391,
    });
    expect(second!.lease.lastRenewalTimestamp).toBe(1402552691629);
    expectCompactAlike(decoded.instances);
  });

  it('decodes steeltoe__apps-full.json (modern server: string @enabled and timestamps, empty-map @class, renewalTimestamp)', () => {
    const decoded = decodeApplications(fixture('steeltoe__apps-full.json'), NOW);
    expect(decoded.versionsDelta).toBe('1');
    expect(decoded.appsHashcode).toBe('UP_1_');
    expect(decoded.errors).toEqual([]);
    expect(decoded.instances).toHaveLength(1);
    const [only] = decoded.instances;
    expect(only!.instance).toEqual({
      instanceId: 'localhost:foo',
      app: 'FOO',
      vipAddress: 'foo',
      secureVipAddress: '',
      hostName: 'localhost',
      ipAddr: '192.168.56.1',
      port: 8080,
      portEnabled: true,
      securePort: 443,
      securePortEnabled: false,
      zone: 'default',
      metadata: {},
      homePageUrl: 'http://localhost:8080/',
      statusPageUrl: 'http://localhost:8080/info',
      healthCheckUrl: 'http://localhost:8080/health',
      leaseRenewalIntervalMs: 30_000,
      leaseDurationMs: 90_000,
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      lastUpdatedTimestamp: 1457714988223,
      lastDirtyTimestamp: 1457714988172,
    });
    expect(only!.actionType).toBe('ADDED');
    expect(only!.dataCenterName).toBe('MyOwn');
    expect(only!.lease).toEqual({
      registrationTimestamp: 1457714988223,
      lastRenewalTimestamp: 1457716158319,
      serviceUpTimestamp: 1457714988223,
    });
    expectCompactAlike(decoded.instances);
  });

  it('decodes steeltoe__apps-delta.json (a MODIFIED action and the hash of the whole registry)', () => {
    const decoded = decodeApplications(fixture('steeltoe__apps-delta.json'), NOW);
    expect(decoded.versionsDelta).toBe('3');
    expect(decoded.appsHashcode).toBe('UP_1_');
    expect(decoded.instances).toHaveLength(1);
    const [only] = decoded.instances;
    expect(only!.actionType).toBe('MODIFIED');
    expect(only!.instance).toMatchObject({
      instanceId: 'localhost:foo',
      app: 'FOO',
      hostName: 'localhost',
      ipAddr: '192.168.56.1',
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      port: 8080,
      portEnabled: true,
      securePort: 443,
      securePortEnabled: false,
      metadata: {},
      vipAddress: 'foo',
      lastUpdatedTimestamp: 1457714988223,
      lastDirtyTimestamp: 1457714988172,
    });
    expectCompactAlike(decoded.instances);
  });

  it('decodes steeltoe__register-request.json (a client body: no status means UP, no leaseInfo means the defaults)', () => {
    const body = fixture('steeltoe__register-request.json') as { instance: unknown };
    const decoded = decodeInstance(body.instance, NOW);
    expect(decoded.instance).toEqual({
      instanceId: 'some',
      app: 'FOOBAR',
      vipAddress: '',
      secureVipAddress: '',
      hostName: 'localhost',
      ipAddr: '127.0.0.1',
      port: 8080,
      portEnabled: true,
      securePort: 9090,
      securePortEnabled: false,
      zone: 'default',
      metadata: {},
      homePageUrl: '',
      statusPageUrl: '',
      healthCheckUrl: '',
      leaseRenewalIntervalMs: 30_000,
      leaseDurationMs: 90_000,
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      lastUpdatedTimestamp: 1708427732823,
      lastDirtyTimestamp: 1708427732823,
    });
    expect(decoded.statusMissing).toBe(true);
    expect(decoded.lastDirtyTimestampMissing).toBe(false);
    expect(decoded.actionType).toBeUndefined();
    expect(decoded.lease).toEqual({ registrationTimestamp: 0, lastRenewalTimestamp: 0, serviceUpTimestamp: 0 });
    expectCompactAlike([decoded]);
  });
});

describe('Eureka wire: every quirk real servers emit', () => {
  const base = {
    instanceId: 'h1:greeter:8080',
    hostName: 'h1',
    app: 'greeter',
    ipAddr: '10.0.0.1',
    status: 'UP',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
  };

  it('accepts a single application object and a single instance object instead of arrays', () => {
    const decoded = decodeApplications(
      { applications: { versions__delta: 7, apps__hashcode: 'UP_1_', application: { name: 'GREETER', instance: base } } },
      NOW,
    );
    expect(decoded.versionsDelta).toBe('7');
    expect(decoded.instances.map((i) => i.instance.instanceId)).toEqual(['h1:greeter:8080']);
    expect(decoded.instances[0]!.instance.app).toBe('GREETER');
  });

  it('accepts an empty registry with no application at all', () => {
    const decoded = decodeApplications({ applications: { versions__delta: '1', apps__hashcode: '' } }, NOW);
    expect(decoded.instances).toEqual([]);
    expect(decoded.appsHashcode).toBe('');
  });

  it('reads $ and @enabled as strings, numbers or booleans, and numbers given as strings', () => {
    const { instance } = decodeInstance(
      {
        ...base,
        port: { $: '8081', '@enabled': true },
        securePort: { $: 8443, '@enabled': 'TRUE' },
        leaseInfo: { renewalIntervalInSecs: '10', durationInSecs: '40', registrationTimestamp: '5' },
        lastUpdatedTimestamp: 1700000000001,
        lastDirtyTimestamp: '1700000000000',
      },
      NOW,
    );
    expect(instance).toMatchObject({
      port: 8081,
      portEnabled: true,
      securePort: 8443,
      securePortEnabled: true,
      leaseRenewalIntervalMs: 10_000,
      leaseDurationMs: 40_000,
      lastUpdatedTimestamp: 1700000000001,
      lastDirtyTimestamp: 1700000000000,
    });
  });

  it('reads both spellings of the override, the current one first', () => {
    expect(decodeInstance({ ...base, overriddenStatus: 'OUT_OF_SERVICE' }, NOW).instance.overriddenStatus).toBe('OUT_OF_SERVICE');
    expect(decodeInstance({ ...base, overriddenstatus: 'OUT_OF_SERVICE' }, NOW).instance.overriddenStatus).toBe('OUT_OF_SERVICE');
    expect(decodeInstance({ ...base }, NOW).instance.overriddenStatus).toBe('UNKNOWN');
  });

  it('drops the @class marker from metadata and keeps the zone from it', () => {
    const { instance } = decodeInstance({ ...base, metadata: { '@class': 'java.util.HashMap', zone: 'us-east-1c', v: 3 } }, NOW);
    expect(instance.metadata).toEqual({ zone: 'us-east-1c', v: '3' });
    expect(instance.zone).toBe('us-east-1c');
  });

  it('keeps only own metadata keys, keeps a __proto__ key as data, and pollutes nothing', () => {
    const nested = JSON.parse('{"__proto__": {"polluted": "yes"}, "zone": "z1"}') as object;
    const inherited = Object.assign(Object.create({ inherited: 'x' }) as object, { zone: 'z2' });
    expect(decodeInstance({ ...base, metadata: nested }, NOW).instance.metadata).toEqual({ zone: 'z1' });
    expect(decodeInstance({ ...base, metadata: inherited }, NOW).instance.metadata).toEqual({ zone: 'z2' });
    const decoded = decodeInstance({ ...base, metadata: JSON.parse('{"__proto__": "a value", "toString": "t"}') as object }, NOW).instance.metadata;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.entries(decoded)).toEqual([
      ['__proto__', 'a value'],
      ['toString', 't'],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads numbers written as strings, and takes a blank or non-numeric one as missing', () => {
    const lease = (durationInSecs: unknown): number => decodeInstance({ ...base, leaseInfo: { durationInSecs } }, NOW).instance.leaseDurationMs;
    expect(lease('30')).toBe(30_000);
    expect(lease(' 45 ')).toBe(45_000);
    expect(lease('0')).toBe(0);
    expect(lease('')).toBe(90_000);
    expect(lease('   ')).toBe(90_000);
    expect(lease('soon')).toBe(90_000);
    expect(lease(12.7)).toBe(12_000);
    const dirty = decodeInstance({ ...base, lastDirtyTimestamp: ' ' }, NOW);
    expect(dirty.lastDirtyTimestampMissing).toBe(true);
    expect(dirty.instance.lastDirtyTimestamp).toBe(NOW);
  });

  it('maps unknown statuses to UNKNOWN and reads known ones in any case, as Eureka does', () => {
    expect(decodeInstance({ ...base, status: 'SLEEPING' }, NOW).instance.status).toBe('UNKNOWN');
    expect(decodeInstance({ ...base, status: 42 }, NOW).instance.status).toBe('UNKNOWN');
    expect(decodeInstance({ ...base, status: 'down' }, NOW).instance.status).toBe('DOWN');
  });

  it('falls back to the Amazon instance id, then the host name, for the id', () => {
    const amazon = {
      ...base,
      instanceId: undefined,
      dataCenterInfo: { name: 'Amazon', '@class': 'x', metadata: { 'instance-id': 'i-123', 'availability-zone': 'us-east-1a' } },
    };
    expect(decodeInstance(amazon, NOW).instance).toMatchObject({ instanceId: 'i-123', zone: 'us-east-1a' });
    expect(decodeInstance({ ...base, instanceId: '' }, NOW).instance.instanceId).toBe('h1');
  });

  it('skips an instance that does not decode, names why, and keeps the others', () => {
    const decoded = decodeApplications(
      { applications: { application: [{ name: 'GREETER', instance: [{ ...base, hostName: undefined, instanceId: 'x' }, base] }, 'junk'] } },
      NOW,
    );
    expect(decoded.instances.map((i) => i.instance.instanceId)).toEqual(['h1:greeter:8080']);
    expect(decoded.errors).toEqual(['GREETER: Missing hostname', 'an application entry is not an object']);
  });

  it('rejects a document that is not an applications document at all', () => {
    expect(() => decodeApplications({ application: [] }, NOW)).toThrow(/no "applications" object/);
    expect(() => decodeApplications(null, NOW)).toThrow(expect.objectContaining({ code: 'ERR_EUREKA_PROTOCOL' }));
  });
});

describe('Eureka wire: writing', () => {
  const descriptor: InstanceDescriptor = {
    instanceId: 'h1:greeter:8080',
    app: 'greeter',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter',
    hostName: 'h1',
    ipAddr: '10.0.0.1',
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'z1',
    metadata: {},
    homePageUrl: 'http://h1:8080/',
    statusPageUrl: 'http://h1:8077/status',
    healthCheckUrl: 'http://h1:8077/healthcheck',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
  };

  it('writes what strict servers want: string @enabled, @class, statusPageUrl, string timestamps, the empty-map marker', () => {
    const wire = encodeInstance(descriptor, 'STARTING', 1234);
    expect(wire).toMatchObject({
      instanceId: 'h1:greeter:8080',
      app: 'GREETER',
      status: 'STARTING',
      port: { $: 8080, '@enabled': 'true' },
      securePort: { $: 443, '@enabled': 'false' },
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 90 },
      metadata: { '@class': 'java.util.Collections$EmptyMap' },
      statusPageUrl: 'http://h1:8077/status',
      healthCheckUrl: 'http://h1:8077/healthcheck',
      lastDirtyTimestamp: '1234',
      lastUpdatedTimestamp: '1234',
    });
    // And reads back as it was written.
    expect(decodeInstance(wire, NOW).instance).toMatchObject({ ...descriptor, app: 'GREETER', zone: 'default', status: 'STARTING' });
  });

  it('groups instances by app and round-trips through the decoder', () => {
    const a = encodeInstance(descriptor, 'UP', 1);
    const b = encodeInstance({ ...descriptor, instanceId: 'h2:greeter:8080', hostName: 'h2' }, 'DOWN', 2, { actionType: 'MODIFIED' });
    const c = encodeInstance({ ...descriptor, instanceId: 'h3:other:1', app: 'other' }, 'UP', 3);
    const document = encodeApplications([a, b, c], 5, appsHashcode(['UP', 'DOWN', 'UP']));
    expect(document.applications.apps__hashcode).toBe('DOWN_1_UP_2_');
    const decoded = decodeApplications(JSON.parse(JSON.stringify(document)), NOW);
    expect(decoded.instances.map((i) => [i.instance.instanceId, i.instance.status, i.actionType])).toEqual([
      ['h1:greeter:8080', 'UP', undefined],
      ['h2:greeter:8080', 'DOWN', 'MODIFIED'],
      ['h3:other:1', 'UP', undefined],
    ]);
  });

  it('hashes counts of every status in alphabetical order, empty for an empty registry', () => {
    expect(appsHashcode([])).toBe('');
    expect(appsHashcode(['UP', 'UP', 'UP', 'DOWN'])).toBe('DOWN_1_UP_3_');
    expect(appsHashcodeOfCounts(new Map([['UP', 3], ['OUT_OF_SERVICE', 1], ['DOWN', 0], ['STARTING', 2]]))).toBe('OUT_OF_SERVICE_1_STARTING_2_UP_3_');
    expect(appsHashcodeOfCounts([])).toBe('');
  });
});

describe('EurekaInstance: the compact record the client caches', () => {
  const rich = decodeInstance(
    {
      instanceId: 'ip-10-0-0-7.ec2.internal:greeter:8080',
      hostName: 'ip-10-0-0-7.ec2.internal',
      app: 'GREETER',
      ipAddr: '10.0.0.7',
      status: 'UP',
      port: { $: 8080, '@enabled': 'true' },
      dataCenterInfo: { '@class': 'x', name: 'MyOwn' },
      metadata: { zone: 'a', version: '1' },
      homePageUrl: 'http://ip-10-0-0-7.ec2.internal:8080/',
      statusPageUrl: 'http://10.0.0.7:8081/actuator/info',
      healthCheckUrl: 'https://lb.example.com/health',
      vipAddress: 'greeter,hello',
      lastUpdatedTimestamp: '1700000000500',
      lastDirtyTimestamp: '1700000000000',
    },
    NOW,
  ).instance;
  const plain = (overrides: Partial<RegistryInstance>): RegistryInstance => ({ ...rich, ...overrides });
  // Where a record reads its host name from: the IP address (preferIpAddress), its own copy (an EC2 id) with
  // timestamps near or far apart.
  const hostShapes: RegistryInstance[] = [
    plain({ instanceId: 'myhost:greeter:8080', hostName: '10.0.0.7', homePageUrl: 'http://10.0.0.7:8080/' }),
    plain({ instanceId: 'i-0abc', hostName: 'ip-10-0-0-7.ec2.internal', lastUpdatedTimestamp: 1_700_000_000_051 }),
    plain({ instanceId: 'i-0abd', hostName: 'ip-10-0-0-7.ec2.internal', lastUpdatedTimestamp: 1_700_000_000_000 + 2 ** 31 }),
    plain({ instanceId: 'h:greeter:8080', hostName: 'h', lastUpdatedTimestamp: 1_700_000_000_000 + 2 ** 31 }),
  ];

  it('reads every field as the plain record does, whatever shape the URLs have', () => {
    const pool = new InstancePool();
    const cases: RegistryInstance[] = [
      plain({}),
      plain({ instanceId: 'i-0abc', hostName: 'ip-10-0-0-8.ec2.internal', homePageUrl: 'http://ip-10-0-0-8.ec2.internal:8080/', port: 8080 }),
      plain({ instanceId: 'h:app:9', hostName: 'h', ipAddr: '10.1.1.1', port: 9, homePageUrl: 'http://10.1.1.1:9', statusPageUrl: 'http://h:90/s', healthCheckUrl: 'http://h:9?x' }),
      plain({ hostName: 'same', instanceId: 'same', homePageUrl: '', status: 'OUT_OF_SERVICE', overriddenStatus: 'OUT_OF_SERVICE' }),
      plain({ lastUpdatedTimestamp: 1, lastDirtyTimestamp: 1_700_000_000_000, status: 'STARTING', port: 0 }),
      plain({ instanceId: 'x', hostName: '', homePageUrl: '' }),
      ...hostShapes,
    ];
    for (const instance of cases) {
      const compact = pool.compact(instance);
      expect(compact.toJSON()).toEqual(instance);
      expect(JSON.parse(JSON.stringify(compact))).toEqual(JSON.parse(JSON.stringify(instance)));
      expect(Object.isFrozen(compact)).toBe(true);
    }
  });

  it('tells, without a new record, whether a decoded instance is the one held (a fetch over a held view keeps it)', () => {
    const pool = new InstancePool();
    const cases: RegistryInstance[] = [
      plain({}),
      plain({ instanceId: 'i-0abc', hostName: 'ip-10-0-0-8.ec2.internal', homePageUrl: 'http://ip-10-0-0-8.ec2.internal:8080/', port: 8080 }),
      plain({ hostName: 'same', instanceId: 'same', homePageUrl: '', status: 'OUT_OF_SERVICE', overriddenStatus: 'OUT_OF_SERVICE' }),
      plain({ lastUpdatedTimestamp: 1, lastDirtyTimestamp: 1_700_000_000_000, status: 'STARTING', port: 0 }),
      ...hostShapes,
    ];
    for (const instance of cases) {
      const held = pool.compact(instance);
      expect(held.matches({ ...instance })).toBe(true);
      const changes: Partial<RegistryInstance>[] = [
        { status: instance.status === 'UP' ? 'DOWN' : 'UP' },
        { overriddenStatus: 'DOWN' },
        { ipAddr: '10.9.9.9' },
        { port: instance.port + 1 },
        { hostName: `${instance.hostName}x` },
        { hostName: instance.hostName.slice(0, -1) },
        { lastDirtyTimestamp: instance.lastDirtyTimestamp + 1 },
        { lastUpdatedTimestamp: instance.lastUpdatedTimestamp + 1 },
        { zone: 'elsewhere' },
        { metadata: { ...instance.metadata, version: '2' } },
        { healthCheckUrl: `${instance.healthCheckUrl}/deep` },
        { leaseDurationMs: instance.leaseDurationMs + 1000 },
      ];
      for (const change of changes) {
        const changed = { ...instance, ...change };
        expect(held.matches(changed), JSON.stringify(change)).toBe(pool.compact(changed).sameAs(held));
        expect(held.matches(changed), JSON.stringify(change)).toBe(false);
        // Made with the held record as a hint (a delta's change), the record is exactly the changed instance.
        expect(pool.compact(changed, held).toJSON(), JSON.stringify(change)).toEqual(changed);
      }
    }
  });

  it('rebuilds every record exactly when many instances share profiles (the fast path of a payload)', () => {
    const pool = new InstancePool();
    const shapes = [
      (h: string, ip: string, p: number) => `http://${h}:${p}/`,
      (h: string, ip: string, p: number) => `http://${ip}:${p}/info`,
      (_h: string, ip: string) => `https://${ip}/health?deep=1`,
      (h: string) => `http://user@${h}:8081/x`,
      () => 'http://lb.example.com/',
      (h: string, _ip: string, p: number) => `http://${h}:${p}0/wrong-port-digits`,
    ];
    for (let i = 0; i < 300; i++) {
      const host = i % 7 === 0 ? `h${i}` : `ip-10-0-${i}.internal`;
      const ip = `10.0.${i % 5}.${i}`;
      const port = 8000 + (i % 3);
      const instance = plain({
        instanceId: i % 11 === 0 ? `i-${i}` : `${host}:greeter:${port}`,
        hostName: host,
        ipAddr: ip,
        port,
        zone: `z${i % 3}`,
        homePageUrl: shapes[i % shapes.length]!(host, ip, port),
        statusPageUrl: shapes[(i + 1) % shapes.length]!(host, ip, port),
        healthCheckUrl: shapes[(i + 2) % shapes.length]!(host, ip, port),
        status: i % 4 === 0 ? 'DOWN' : 'UP',
        // Now and then a timestamp weeks away from the others of its profile, or a fraction: kept exactly too.
        lastDirtyTimestamp: i % 13 === 0 ? 1_600_000_000_000 + i : 1_700_000_000_000 + i,
        lastUpdatedTimestamp: i % 17 === 0 ? 1_700_000_000_000.5 : 1_700_000_000_000 + 2 * i,
      });
      expect(pool.compact(instance).toJSON()).toEqual(instance);
    }
    expect(pool.profiles).toBeLessThan(60);
  });

  it('shares one profile among instances of an app that differ only in host, IP, port and timestamps', () => {
    const pool = new InstancePool();
    const a = pool.compact(plain({ instanceId: 'a:greeter:8080', hostName: 'a', ipAddr: '10.0.0.1', homePageUrl: 'http://a:8080/' }));
    const b = pool.compact(plain({ instanceId: 'b:greeter:8081', hostName: 'b', ipAddr: '10.0.0.2', port: 8081, homePageUrl: 'http://b:8081/' }));
    const c = pool.compact(plain({ instanceId: 'c:greeter:8080', hostName: 'c', zone: 'other' }));
    expect(pool.profiles).toBe(2);
    expect(a.metadata).toBe(b.metadata);
    expect(b.homePageUrl).toBe('http://b:8081/');
    pool.retainOnly([c]);
    expect(pool.profiles).toBe(1);
  });

  it('finds the profile of an instance from any app, in any order, and keeps many profiles of one app apart', () => {
    const pool = new InstancePool();
    // 30 apps, 3 zones each, and one app whose instances each carry their own metadata.
    const made = Array.from({ length: 300 }, (_, i) =>
      plain({ instanceId: `h${i}:app:8080`, hostName: `h${i}`, app: `APP-${i % 30}`, zone: `z${Math.floor(i / 30) % 3}`, homePageUrl: `http://h${i}:8080/` }),
    );
    const own = Array.from({ length: 20 }, (_, i) => plain({ instanceId: `o${i}`, app: 'OWN', metadata: { slot: String(i) } }));
    for (const instance of [...made, ...own]) pool.compact(instance);
    const profiles = pool.profiles;
    // Instances met again in a scattered order (as a delta brings them) read back exactly and make no profile.
    for (let k = 0; k < 600; k++) {
      const instance = k % 7 === 0 ? own[(k * 13) % own.length]! : made[(k * 37) % made.length]!;
      const again = { ...instance, lastDirtyTimestamp: instance.lastDirtyTimestamp + k };
      expect(pool.compact(again).toJSON()).toEqual(again);
    }
    expect(pool.profiles).toBe(profiles);
    expect(profiles).toBe(90 + 20);
  });

  it('compares records by content across pools, and tells changed ones apart', () => {
    const one = new InstancePool().compact(plain({ status: 'UP' }));
    const two = new InstancePool().compact(plain({ status: 'UP' }));
    const down = new InstancePool().compact(plain({ status: 'DOWN' }));
    expect(one.sameAs(two)).toBe(true);
    expect(one.sameAs(down)).toBe(false);
    expect(sameInstance(one, down)).toBe(false);
  });

  it('refuses an instance whose port is not a TCP port', () => {
    expect(() => new InstancePool().compact(plain({ port: 70_000 }))).toThrow(expect.objectContaining({ code: 'ERR_EUREKA_PROTOCOL' }));
  });
});
