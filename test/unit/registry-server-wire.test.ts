import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isKaryonError } from 'karyon-ts';
import { silentLogger } from 'karyon-ts/extend';
import { decodeInstance } from '../../src/registry/eureka/wire.js';
import { encodeLease } from '../../src/registry/server/encodeLease.js';
import { resolveEurekaServerOptions } from '../../src/registry/server/EurekaServerOptions.js';
import { LeaseRegistry } from '../../src/registry/server/LeaseRegistry.js';
import { parseRegistration } from '../../src/registry/server/parseRegistration.js';
import { ManualClock } from 'karyon-ts/testing';

// Register bodies in (checked as a Netflix server checks them) and InstanceInfo out.

const NOW = 1_700_000_000_000;

function body(fields: Record<string, unknown> = {}, drop: string[] = []): { instance: Record<string, unknown> } {
  const instance: Record<string, unknown> = {
    instanceId: 'i-1',
    hostName: 'host-1',
    app: 'GREETER',
    ipAddr: '10.0.0.1',
    status: 'UP',
    port: { $: 8080, '@enabled': 'true' },
    vipAddress: 'greeter',
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    ...fields,
  };
  for (const key of drop) delete instance[key];
  return { instance };
}

function reason(input: unknown, app = 'GREETER'): string {
  try {
    parseRegistration(input, app, NOW);
  } catch (error) {
    if (isKaryonError(error, 'ERR_EUREKA_PROTOCOL')) return error.message;
    throw error;
  }
  return 'accepted';
}

describe('parseRegistration', () => {
  it("refuses what a Netflix server refuses, with Netflix's messages, in Netflix's order", () => {
    expect(reason(body({}, ['instanceId', 'hostName']))).toBe('Missing instanceId');
    expect(reason(body({ hostName: '  ' }))).toBe('Missing hostname');
    expect(reason(body({}, ['ipAddr']))).toBe('Missing ip address');
    expect(reason(body({}, ['app']))).toBe('Missing appName');
    expect(reason(body({ app: 'OTHER' }))).toBe('Mismatched appName, expecting GREETER but was OTHER');
    // The app name is checked before the data center, as Netflix does.
    expect(reason(body({ app: 'OTHER' }, ['dataCenterInfo']))).toBe('Mismatched appName, expecting GREETER but was OTHER');
    expect(reason(body({}, ['dataCenterInfo']))).toBe('Missing dataCenterInfo');
    expect(reason(body({ dataCenterInfo: { '@class': 'x' } }))).toBe('Missing dataCenterInfo Name');
    expect(reason(body({ dataCenterInfo: { name: 'MyOwn' } }))).toMatch(/^Missing dataCenterInfo @class/);
  });

  it('falls back to the host name as the id, and compares the app name without case', () => {
    const registration = parseRegistration(body({ app: 'greeter' }, ['instanceId']), 'Greeter', NOW);
    expect(registration.instance.instanceId).toBe('host-1');
    expect(registration.instance.app).toBe('GREETER');
  });

  it('refuses a body that is not {"instance":{...}}', () => {
    for (const input of [null, [], 'text', { app: 'GREETER' }, { instance: [] }]) {
      expect(reason(input)).toBe('request body must be a JSON object {"instance":{...}}');
    }
  });

  it('refuses unknown status values, bad ports and bad timestamps with a reason, rather than storing nonsense', () => {
    expect(reason(body({ status: 'RUNNING' }))).toBe('Unknown status "RUNNING": expected UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN');
    expect(reason(body({ overriddenstatus: 'MAYBE' }))).toMatch(/^Unknown overriddenstatus "MAYBE"/);
    expect(reason(body({ status: 42 }))).toMatch(/^Unknown status 42/);
    expect(reason(body({ port: { $: 'http', '@enabled': 'true' } }))).toMatch(/^Invalid port/);
    expect(reason(body({ securePort: { $: 70000 } }))).toMatch(/^Invalid securePort/);
    expect(reason(body({ lastDirtyTimestamp: 'yesterday' }))).toBe('Invalid lastDirtyTimestamp "yesterday": expected epoch milliseconds');
    expect(reason(body({ leaseInfo: 'long' }))).toBe('Invalid leaseInfo: expected an object');
    expect(reason(body({ leaseInfo: { durationInSecs: -5 } }))).toMatch(/^Invalid leaseInfo.durationInSecs -5/);
  });

  it('accepts the quirks real clients send: lower-case status, string numbers, a bare port number, booleans', () => {
    const registration = parseRegistration(
      body({ status: 'starting', port: '8081', lastDirtyTimestamp: 1234, leaseInfo: { durationInSecs: '30' }, securePort: { $: '443', '@enabled': true } }),
      'GREETER',
      NOW,
    );
    expect(registration.instance.status).toBe('STARTING');
    expect(registration.instance.port).toBe(8081);
    expect(registration.instance.securePort).toBe(443);
    expect(registration.instance.securePortEnabled).toBe(true);
    expect(registration.instance.lastDirtyTimestamp).toBe(1234);
    expect(registration.ownLeaseDurationMs).toBe(30_000);
  });

  it('accepts the register body of another client library verbatim (Steeltoe)', () => {
    const fixture: unknown = JSON.parse(readFileSync(new URL('../fixtures/eureka/steeltoe__register-request.json', import.meta.url), 'utf8'));
    const registration = parseRegistration(fixture, 'foobar', NOW);
    expect(registration.instance).toMatchObject({ instanceId: 'some', app: 'FOOBAR', hostName: 'localhost', port: 8080, status: 'UP' });
    expect(registration.instance.lastDirtyTimestamp).toBe(1708427732823);
    expect(registration.instance.metadata).toEqual({});
  });
});

describe('encodeLease', () => {
  it('writes an InstanceInfo as a Netflix server does, echoing the data center metadata and pass-through fields', () => {
    const clock = new ManualClock(NOW);
    const registry = new LeaseRegistry({ clock, logger: silentLogger, leaseDurationMs: 90_000, deltaRetentionMs: 180_000 });
    const input = body({
      dataCenterInfo: {
        '@class': 'com.netflix.appinfo.AmazonInfo',
        name: 'Amazon',
        metadata: { 'instance-id': 'i-1', 'availability-zone': 'eu-west-1a' },
      },
      asgName: 'greeter-v001',
      appGroupName: 'GREETERS',
      lastDirtyTimestamp: '1699999999000',
    });
    const { lease } = registry.register(parseRegistration(input, 'GREETER', clock.now()));
    const wire = encodeLease(lease, 'ADDED');
    // Only the current spelling, as the real server writes it.
    expect(wire).not.toHaveProperty('overriddenstatus');
    expect(wire).toMatchObject({
      instanceId: 'i-1',
      app: 'GREETER',
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      port: { $: 8080, '@enabled': 'true' },
      dataCenterInfo: {
        '@class': 'com.netflix.appinfo.AmazonInfo',
        name: 'Amazon',
        metadata: { 'instance-id': 'i-1', 'availability-zone': 'eu-west-1a' },
      },
      leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 90, registrationTimestamp: NOW, lastRenewalTimestamp: NOW, serviceUpTimestamp: NOW },
      metadata: { '@class': 'java.util.Collections$EmptyMap' },
      asgName: 'greeter-v001',
      appGroupName: 'GREETERS',
      lastDirtyTimestamp: '1699999999000',
      lastUpdatedTimestamp: String(NOW),
      actionType: 'ADDED',
    });
    // What we write, our own reader (and so any client that reads like it) takes back unchanged.
    const decoded = decodeInstance(JSON.parse(JSON.stringify(wire)), 0);
    expect(decoded.instance).toEqual(lease.instance);
    expect(decoded.instance.zone).toBe('eu-west-1a');
  });
});

describe('resolveEurekaServerOptions', () => {
  it('fills the defaults and freezes the result without touching the input', () => {
    const input = { port: 0 };
    const resolved = resolveEurekaServerOptions(input);
    expect(resolved).toMatchObject({
      port: 0,
      host: undefined,
      leaseDurationMs: 90_000,
      evictionIntervalMs: 60_000,
      deltaRetentionMs: 180_000,
      responseCacheMs: 0,
      maxBodyBytes: 262_144,
      closeTimeoutMs: 1000,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(input).toEqual({ port: 0 });
    expect(resolveEurekaServerOptions().port).toBe(8761);
  });

  it('names the option, what was expected and what was given', () => {
    expect(() => resolveEurekaServerOptions({ port: 70_000 })).toThrow("option 'port' must be an integer port between 0 and 65535 (got 70000)");
    expect(() => resolveEurekaServerOptions({ leaseDurationMs: 0 })).toThrow("option 'leaseDurationMs' must be a positive number of milliseconds (got 0)");
    expect(() => resolveEurekaServerOptions({ evictionIntervalMs: -1 })).toThrow("option 'evictionIntervalMs' must be a non-negative number");
    expect(() => resolveEurekaServerOptions({ responseCacheMs: Number.NaN })).toThrow("option 'responseCacheMs'");
    expect(() => resolveEurekaServerOptions({ maxBodyBytes: 1.5 })).toThrow("option 'maxBodyBytes' must be a positive integer (got 1.5)");
    expect(() => resolveEurekaServerOptions({ host: '' })).toThrow("option 'host' must be a non-empty string");
  });
});
