import { describe, expect, it } from 'vitest';
import { InMemoryRegistry } from 'karyon-ts/testing';
import { toInstanceStatus } from '../../src/registry/types.js';
import type { InstanceDescriptor, RegistryChange } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

export function descriptor(id: string, overrides: Partial<InstanceDescriptor> = {}): InstanceDescriptor {
  return {
    instanceId: id,
    app: 'GREETER',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter',
    hostName: 'localhost',
    ipAddr: '127.0.0.1',
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'default',
    metadata: {},
    homePageUrl: '',
    statusPageUrl: '',
    healthCheckUrl: '',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
    ...overrides,
  };
}

describe('InMemoryRegistry', () => {
  it('shares instances between users, by app and by each VIP of a comma list, case-insensitively', async () => {
    const registry = new InMemoryRegistry({ clock: new ManualClock() });
    await registry.register(descriptor('a', { vipAddress: 'greeter, hello' }), 'UP');
    await registry.register(descriptor('b'), 'STARTING');
    expect(registry.instancesByApp('greeter').map((i) => i.instanceId)).toEqual(['a', 'b']);
    expect(registry.instancesByVip('HELLO').map((i) => i.instanceId)).toEqual(['a']);
    expect(registry.upInstancesByVip('greeter').map((i) => i.instanceId)).toEqual(['a']);
  });

  it('keeps the same UP array until the view changes, so reading allocates nothing', async () => {
    const registry = new InMemoryRegistry();
    await registry.register(descriptor('a'), 'UP');
    const first = registry.upInstancesByVip('greeter');
    expect(registry.upInstancesByVip('greeter')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    await registry.setStatus('a', 'DOWN');
    expect(registry.upInstancesByVip('greeter')).not.toBe(first);
    expect(registry.upInstancesByVip('greeter')).toEqual([]);
  });

  it('reports what changed, and nothing when nothing did', async () => {
    const clock = new ManualClock();
    const registry = new InMemoryRegistry({ clock });
    const changes: RegistryChange[] = [];
    const unsubscribe = registry.onChange((c) => changes.push(c));
    await registry.register(descriptor('a'), 'STARTING');
    clock.advance(1);
    await registry.setStatus('a', 'UP');
    await registry.deregister('a');
    await registry.deregister('a');
    expect(changes.map((c) => [c.added.length, c.modified.length, c.removed.length])).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(changes[1]!.modified[0]!.previous.status).toBe('STARTING');
    expect(changes[1]!.modified[0]!.current.status).toBe('UP');
    unsubscribe();
    await registry.register(descriptor('b'), 'UP');
    expect(changes).toHaveLength(3);
  });

  it('keeps OUT_OF_SERVICE as the override across re-registration, as Eureka does', async () => {
    const registry = new InMemoryRegistry();
    await registry.register(descriptor('a'), 'UP');
    await registry.setStatus('a', 'OUT_OF_SERVICE');
    expect(registry.instance('a')?.overriddenStatus).toBe('OUT_OF_SERVICE');
    await registry.setStatus('a', 'UP');
    expect(registry.instance('a')?.overriddenStatus).toBe('UNKNOWN');
  });

  it('rejects status changes and heartbeats of unknown instances', async () => {
    const registry = new InMemoryRegistry();
    await expect(registry.setStatus('nope', 'UP')).rejects.toMatchObject({ code: 'ERR_NOT_REGISTERED' });
    await expect(registry.heartbeat('nope')).rejects.toMatchObject({ code: 'ERR_NOT_REGISTERED' });
  });

  it('maps unknown status strings to UNKNOWN', () => {
    expect(toInstanceStatus('UP')).toBe('UP');
    expect(toInstanceStatus('up')).toBe('UNKNOWN');
    expect(toInstanceStatus(42)).toBe('UNKNOWN');
  });
});
