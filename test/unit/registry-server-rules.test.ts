import { describe, expect, it } from 'vitest';
import type { Logger } from 'karyon-ts';
import { LeaseRegistry } from '../../src/registry/server/LeaseRegistry.js';
import { parseRegistration } from '../../src/registry/server/parseRegistration.js';
import { decideStatus } from '../../src/registry/server/statusRules.js';
import { ManualClock } from 'karyon-ts/testing';

// The server's status rules, each with its own test, on a manual clock and without sockets.

const ID = 'host-1:greeter:8080';

function instanceBody(fields: Record<string, unknown> = {}): { instance: Record<string, unknown> } {
  return {
    instance: {
      instanceId: ID,
      hostName: 'host-1',
      app: 'GREETER',
      ipAddr: '10.0.0.1',
      status: 'UP',
      port: { $: 8080, '@enabled': 'true' },
      securePort: { $: 8443, '@enabled': 'false' },
      vipAddress: 'greeter',
      secureVipAddress: 'greeter',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      ...fields,
    },
  };
}

function setup() {
  const clock = new ManualClock();
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (message) => lines.push(message),
    warn: (message) => lines.push(`WARN ${message}`),
    error: (message) => lines.push(`ERROR ${message}`),
  };
  const registry = new LeaseRegistry({ clock, logger, leaseDurationMs: 90_000, deltaRetentionMs: 180_000 });
  /** Registers with a fresh lastDirtyTimestamp (the clock's now) unless the fields give one. */
  const register = (fields: Record<string, unknown> = {}) => {
    clock.advance(1);
    return registry.register(parseRegistration(instanceBody({ lastDirtyTimestamp: String(clock.now()), ...fields }), 'greeter', clock.now()));
  };
  const status = () => registry.get('GREETER', ID)?.instance.status;
  return { clock, lines, registry, register, status };
}

describe('decideStatus: the first matching rule wins', () => {
  it('DownOrStartingRule: a reported STARTING, DOWN or UNKNOWN is taken, even over an override and an UP lease', () => {
    for (const reported of ['STARTING', 'DOWN', 'UNKNOWN'] as const) {
      expect(decideStatus(reported, 'OUT_OF_SERVICE', 'UP')).toEqual({ status: reported, rule: 'DownOrStartingRule' });
    }
  });

  it('OverrideExistsRule: an override beats a reported UP or OUT_OF_SERVICE and the existing lease', () => {
    expect(decideStatus('UP', 'OUT_OF_SERVICE', 'UP')).toEqual({ status: 'OUT_OF_SERVICE', rule: 'OverrideExistsRule' });
    expect(decideStatus('OUT_OF_SERVICE', 'UP', 'OUT_OF_SERVICE')).toEqual({ status: 'UP', rule: 'OverrideExistsRule' });
  });

  it('LeaseExistsRule: an UP or OUT_OF_SERVICE lease keeps its status', () => {
    expect(decideStatus('OUT_OF_SERVICE', undefined, 'UP')).toEqual({ status: 'UP', rule: 'LeaseExistsRule' });
    expect(decideStatus('UP', undefined, 'OUT_OF_SERVICE')).toEqual({ status: 'OUT_OF_SERVICE', rule: 'LeaseExistsRule' });
  });

  it('AlwaysMatchInstanceStatusRule: otherwise the reported status (no lease, or a DOWN/STARTING/UNKNOWN lease)', () => {
    for (const existing of [undefined, 'DOWN', 'STARTING', 'UNKNOWN'] as const) {
      expect(decideStatus('UP', undefined, existing)).toEqual({ status: 'UP', rule: 'AlwaysMatchInstanceStatusRule' });
    }
  });
});

describe('LeaseRegistry status rules', () => {
  it('STARTING -> UP and UP -> DOWN -> UP are done by re-registering', () => {
    const { register, status, lines } = setup();
    expect(register({ status: 'STARTING' }).decision.rule).toBe('DownOrStartingRule');
    expect(status()).toBe('STARTING');
    expect(register({ status: 'UP' }).decision.rule).toBe('AlwaysMatchInstanceStatusRule');
    expect(status()).toBe('UP');
    register({ status: 'DOWN' });
    expect(status()).toBe('DOWN');
    register({ status: 'UP' });
    expect(status()).toBe('UP');
    expect(lines).toEqual([
      `registered GREETER/${ID} as STARTING at 10.0.0.1:8080 (vip greeter, lease 90s)`,
      `GREETER/${ID} STARTING -> UP (re-registered)`,
      `GREETER/${ID} UP -> DOWN (re-registered)`,
      `GREETER/${ID} DOWN -> UP (re-registered)`,
    ]);
  });

  it('LeaseExistsRule: an UP instance cannot go OUT_OF_SERVICE by re-registering', () => {
    const { register, status, lines } = setup();
    register({ status: 'UP' });
    const outcome = register({ status: 'OUT_OF_SERVICE' });
    expect(outcome.decision.rule).toBe('LeaseExistsRule');
    expect(status()).toBe('UP');
    expect(lines.at(-1)).toContain('re-registered GREETER/host-1:greeter:8080 as UP; reported OUT_OF_SERVICE, kept by LeaseExistsRule');
  });

  it('the OUT_OF_SERVICE re-register case: an override is sticky over UP re-registrations, but STARTING and DOWN still win', () => {
    const { registry, register, status, lines } = setup();
    register({ status: 'UP' });
    expect(registry.setOverride('greeter', ID, 'OUT_OF_SERVICE')).toBe(true);
    expect(status()).toBe('OUT_OF_SERVICE');
    expect(lines.at(-1)).toBe(`GREETER/${ID} UP -> OUT_OF_SERVICE (override set)`);

    const again = register({ status: 'UP' });
    expect(again.decision.rule).toBe('OverrideExistsRule');
    expect(status()).toBe('OUT_OF_SERVICE');
    expect(again.lease.instance.overriddenStatus).toBe('OUT_OF_SERVICE');
    expect(lines.at(-1)).toContain("reported UP, kept the operator's override");

    // An instance that is not ready must never get traffic, override or not.
    register({ status: 'DOWN' });
    expect(status()).toBe('DOWN');
    register({ status: 'STARTING' });
    expect(status()).toBe('STARTING');
    // ...and once it reports UP again, the override still holds.
    register({ status: 'UP' });
    expect(status()).toBe('OUT_OF_SERVICE');
    expect(registry.overrideOf('greeter', ID)).toBe('OUT_OF_SERVICE');
  });

  it('an override set to the status the instance already has stores nothing, as on Netflix', () => {
    const { registry, register, status } = setup();
    register({ status: 'UP' });
    const version = registry.version;
    expect(registry.setOverride('GREETER', ID, 'UP')).toBe(true);
    expect(registry.overrideOf('GREETER', ID)).toBeUndefined();
    expect(registry.version).toBe(version);
    expect(status()).toBe('UP');
  });

  it('an override on an unknown instance is refused', () => {
    const { registry } = setup();
    expect(registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE')).toBe(false);
    expect(registry.removeOverride('GREETER', ID, 'UP')).toBe(false);
    expect(registry.size).toBe(0);
  });

  it('removing the override with value=UP puts the instance back UP and in rotation on re-registration', () => {
    const { registry, register, status, lines } = setup();
    register({ status: 'UP' });
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    expect(registry.removeOverride('GREETER', ID, 'UP')).toBe(true);
    expect(status()).toBe('UP');
    expect(registry.overrideOf('GREETER', ID)).toBeUndefined();
    expect(registry.get('GREETER', ID)?.instance.overriddenStatus).toBe('UNKNOWN');
    expect(lines.at(-1)).toBe(`GREETER/${ID} OUT_OF_SERVICE -> UP (override removed)`);
    expect(registry.renew('GREETER', ID)).toBe('renewed');
    register({ status: 'UP' });
    expect(status()).toBe('UP');
  });

  it('removing the override without a value: UNKNOWN, the next heartbeat is refused, and re-registering as UP works', () => {
    const { registry, register, status, lines } = setup();
    register({ status: 'UP' });
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    registry.removeOverride('GREETER', ID);
    expect(status()).toBe('UNKNOWN');
    expect(lines.at(-1)).toContain('OUT_OF_SERVICE -> UNKNOWN (override removed without a status');
    expect(registry.renew('GREETER', ID)).toBe('status-unknown');
    const outcome = register({ status: 'UP' });
    expect(outcome.decision.rule).toBe('AlwaysMatchInstanceStatusRule');
    expect(status()).toBe('UP');
    expect(registry.renew('GREETER', ID)).toBe('renewed');
  });

  it('cancel removes the lease and its override: registering again starts from the reported status', () => {
    const { registry, register, status } = setup();
    register({ status: 'UP' });
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    expect(registry.cancel('greeter', ID)).toBe(true);
    expect(registry.get('GREETER', ID)).toBeUndefined();
    expect(registry.cancel('greeter', ID)).toBe(false);
    register({ status: 'UP' });
    expect(status()).toBe('UP');
  });

  it('an overriddenStatus carried in the body becomes the override when none is stored', () => {
    const { registry, register, status } = setup();
    register({ status: 'UP', overriddenstatus: 'OUT_OF_SERVICE' });
    expect(status()).toBe('OUT_OF_SERVICE');
    expect(registry.overrideOf('GREETER', ID)).toBe('OUT_OF_SERVICE');
  });

  it('a register older than the stored record (by lastDirtyTimestamp) keeps the stored one; an equal one replaces it', () => {
    const { registry, register, status, clock, lines } = setup();
    const first = register({ status: 'STARTING', lastDirtyTimestamp: '5000' });
    register({ status: 'UP', lastDirtyTimestamp: '7000', ipAddr: '10.0.0.2' });
    const stale = register({ status: 'DOWN', lastDirtyTimestamp: '6000', ipAddr: '10.0.0.9' });
    expect(stale.keptStored).toBe(true);
    expect(status()).toBe('UP');
    expect(registry.get('GREETER', ID)?.instance.ipAddr).toBe('10.0.0.2');
    expect(registry.get('GREETER', ID)?.instance.lastDirtyTimestamp).toBe(7000);
    expect(registry.get('GREETER', ID)?.lastRenewalTimestamp).toBe(clock.now());
    expect(lines.at(-1)).toContain('kept the stored record: its lastDirtyTimestamp 6000 is older than the stored 7000');
    const equal = register({ status: 'DOWN', lastDirtyTimestamp: '7000', ipAddr: '10.0.0.3' });
    expect(equal.keptStored).toBe(false);
    expect(status()).toBe('DOWN');
    expect(first.lease.instance.lastDirtyTimestamp).toBe(5000);
  });

  it('a body without status registers UP; without lastDirtyTimestamp it gets the receive time', () => {
    const { registry, clock } = setup();
    const body = instanceBody();
    delete body.instance.status;
    registry.register(parseRegistration(body, 'GREETER', clock.now()));
    expect(registry.get('GREETER', ID)?.instance.status).toBe('UP');
    expect(registry.get('GREETER', ID)?.instance.lastDirtyTimestamp).toBe(clock.now());
  });
});

describe('LeaseRegistry renewals', () => {
  it('a renewal without a lease is refused (the client must register)', () => {
    const { registry, lines } = setup();
    expect(registry.renew('GREETER', ID)).toBe('not-registered');
    expect(lines.at(-1)).toContain('refused (404): not registered');
  });

  it('a renewal with a newer lastDirtyTimestamp than the stored one is refused; an older or equal one is fine', () => {
    const { registry, register, clock } = setup();
    register({ lastDirtyTimestamp: '5000' });
    clock.advance(10_000);
    expect(registry.renew('GREETER', ID, 6000)).toBe('newer-timestamp');
    // The lease itself was renewed all the same, as on Netflix.
    expect(registry.get('GREETER', ID)?.lastRenewalTimestamp).toBe(clock.now());
    expect(registry.renew('GREETER', ID, 5000)).toBe('renewed');
    expect(registry.renew('GREETER', ID, 4000)).toBe('renewed');
    expect(registry.renew('GREETER', ID)).toBe('renewed');
  });

  it('a renewal is not a change: the version and the delta stay as they were', () => {
    const { registry, register, clock } = setup();
    register();
    const version = registry.version;
    clock.advance(30_000);
    expect(registry.renew('GREETER', ID)).toBe('renewed');
    expect(registry.version).toBe(version);
    expect(registry.delta().changes).toHaveLength(1);
  });

  it('setting and removing an override both renew the lease, as Netflix does', () => {
    const { registry, register, clock } = setup();
    register();
    clock.advance(50_000);
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    expect(registry.get('GREETER', ID)?.lastRenewalTimestamp).toBe(clock.now());
    clock.advance(10_000);
    registry.removeOverride('GREETER', ID, 'UP');
    expect(registry.get('GREETER', ID)?.lastRenewalTimestamp).toBe(clock.now());
    expect(registry.get('GREETER', ID)?.instance).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN' });
  });

  it('removing an override that does not exist changes nothing but the renewal (deleteStatusOverride)', () => {
    const { registry, register, clock } = setup();
    register();
    const before = registry.get('GREETER', ID)!;
    const version = registry.version;
    clock.advance(10_000);
    expect(registry.removeOverride('GREETER', ID, 'DOWN')).toBe(true);
    expect(registry.removeOverride('GREETER', ID)).toBe(true);
    const after = registry.get('GREETER', ID)!;
    expect(after.instance).toBe(before.instance);
    expect(after.lastRenewalTimestamp).toBe(clock.now());
    expect(registry.version).toBe(version);
    expect(registry.delta().changes).toHaveLength(1);
  });

  it('keeps OUT_OF_SERVICE for good when a lost lease is re-registered with it in the body, as a real server does', () => {
    // Why a client must never send OUT_OF_SERVICE in a registration: no override is stored, so neither the
    // override PUT (the status already is OUT_OF_SERVICE) nor its removal changes anything, and LeaseExistsRule
    // keeps OUT_OF_SERVICE over every later UP.
    const { registry, clock } = setup();
    registry.register(parseRegistration(instanceBody({ status: 'OUT_OF_SERVICE' }), 'GREETER', clock.now()));
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    expect(registry.overrideOf('GREETER', ID)).toBeUndefined();
    registry.removeOverride('GREETER', ID, 'UP');
    registry.register(parseRegistration(instanceBody({ status: 'UP', lastDirtyTimestamp: String(clock.now() + 1) }), 'GREETER', clock.now()));
    expect(registry.get('GREETER', ID)?.instance).toMatchObject({ status: 'OUT_OF_SERVICE', overriddenStatus: 'UNKNOWN' });
  });
});

describe('LeaseRegistry bookkeeping', () => {
  it('ids are unique per app: two apps may share an instance id (eureka-js-client uses the host name)', () => {
    const { registry, clock } = setup();
    const other = instanceBody({ app: 'CALLER', instanceId: ID });
    registry.register(parseRegistration(instanceBody(), 'GREETER', clock.now()));
    registry.register(parseRegistration(other, 'CALLER', clock.now()));
    expect(registry.size).toBe(2);
    registry.setOverride('CALLER', ID, 'OUT_OF_SERVICE');
    expect(registry.get('GREETER', ID)?.instance.status).toBe('UP');
    expect(registry.get('CALLER', ID)?.instance.status).toBe('OUT_OF_SERVICE');
    registry.cancel('CALLER', ID);
    expect(registry.get('GREETER', ID)).toBeDefined();
    expect(registry.findById(ID)?.instance.app).toBe('GREETER');
  });

  it('metadata updates merge into the record, re-register it (ADDED in the delta) and keep its status', () => {
    const { registry, register, clock, lines } = setup();
    register({ metadata: { version: '1' }, status: 'UP' });
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    clock.advance(1000);
    const updated = registry.updateMetadata('greeter', ID, { version: '2', zone: 'eu-west-1a' });
    expect(updated?.instance.metadata).toEqual({ version: '2', zone: 'eu-west-1a' });
    expect(updated?.instance.zone).toBe('eu-west-1a');
    expect(updated?.instance.status).toBe('OUT_OF_SERVICE');
    expect(updated?.registrationTimestamp).toBe(clock.now());
    expect(registry.delta().changes.at(-1)?.actionType).toBe('ADDED');
    expect(lines.at(-1)).toBe(`metadata of GREETER/${ID} updated: version=2, zone=eu-west-1a`);
    expect(registry.updateMetadata('greeter', 'nobody', { a: 'b' })).toBeUndefined();
  });

  it('logs one line per registration, status change, cancellation and eviction, and none per renewal', () => {
    const { registry, register, clock, lines } = setup();
    register({ status: 'STARTING' });
    register({ status: 'UP' });
    for (let i = 0; i < 5; i++) registry.renew('GREETER', ID);
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    registry.removeOverride('GREETER', ID, 'UP');
    registry.cancel('GREETER', ID);
    register({ status: 'UP' });
    clock.advance(90_001);
    registry.evictExpired();
    expect(lines).toEqual([
      `registered GREETER/${ID} as STARTING at 10.0.0.1:8080 (vip greeter, lease 90s)`,
      `GREETER/${ID} STARTING -> UP (re-registered)`,
      `GREETER/${ID} UP -> OUT_OF_SERVICE (override set)`,
      `GREETER/${ID} OUT_OF_SERVICE -> UP (override removed)`,
      `cancelled GREETER/${ID} (was UP)`,
      `registered GREETER/${ID} as UP at 10.0.0.1:8080 (vip greeter, lease 90s)`,
      `evicted GREETER/${ID}: no renewal for 90s (lease 90s)`,
    ]);
  });

  it('clear drops leases, overrides and the delta, and the version keeps counting up', () => {
    const { registry, register } = setup();
    register();
    registry.setOverride('GREETER', ID, 'OUT_OF_SERVICE');
    const version = registry.version;
    expect(registry.clear()).toBe(1);
    expect(registry.size).toBe(0);
    expect(registry.overrideOf('GREETER', ID)).toBeUndefined();
    expect(registry.delta().changes).toEqual([]);
    expect(registry.hashcode()).toBe('');
    expect(registry.version).toBeGreaterThan(version);
    expect(registry.renew('GREETER', ID)).toBe('not-registered');
  });
});
