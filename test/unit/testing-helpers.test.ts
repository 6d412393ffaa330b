import { describe, expect, it } from 'vitest';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';

describe('testInstance', () => {
  it('fills a loopback instance from an id and a port, its VIP from its app', async () => {
    const instance = testInstance({ instanceId: 'greeter-1', app: 'GREETER', port: 8080 });
    expect(instance).toMatchObject({
      instanceId: 'greeter-1',
      app: 'GREETER',
      vipAddress: 'greeter',
      secureVipAddress: 'greeter',
      ipAddr: '127.0.0.1',
      port: 8080,
      zone: 'default',
      healthCheckUrl: 'http://127.0.0.1:8080/healthcheck',
    });
    const registry = new InMemoryRegistry();
    await registry.register(instance, 'UP');
    expect(registry.upInstancesByVip('greeter').map((i) => i.instanceId)).toEqual(['greeter-1']);
  });

  it('keeps every field given', () => {
    const instance = testInstance({ instanceId: 'a', port: 1, vipAddress: 'x,y', zone: 'z1', metadata: { v: '2' } });
    expect(instance).toMatchObject({ app: 'TEST', vipAddress: 'x,y', secureVipAddress: 'x,y', zone: 'z1', metadata: { v: '2' } });
  });
});
