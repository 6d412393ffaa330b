import { afterEach, describe, expect, it } from 'vitest';
import { createService, EurekaRegistry } from 'karyon-ts';
import type { InstanceDescriptor, HeartbeatEvent } from 'karyon-ts';
import type { EurekaInstance } from '../../src/registry/eureka/EurekaInstance.js';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

// The client against the project's development Eureka server, which applies Eureka's status rules, leases and
// deltas: what one process asks for is what another process sees, through both URL shapes, with deltas that
// keep the views' hash in step.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function devServer(port = 0): Promise<EurekaServer> {
  const server = new EurekaServer({ port, host: '127.0.0.1', responseCacheMs: 0 });
  cleanups.push(() => server.close());
  await server.listen();
  return server;
}

function registry(url: string, options: Partial<ConstructorParameters<typeof EurekaRegistry>[0]> = {}): EurekaRegistry {
  const created = new EurekaRegistry({ serviceUrls: [url], jitterRatio: 0, ...options });
  cleanups.push(() => created.close());
  return created;
}

const descriptor: InstanceDescriptor = {
  instanceId: 'h1:greeter:8080',
  app: 'GREETER',
  vipAddress: 'greeter',
  secureVipAddress: 'greeter',
  hostName: 'h1',
  ipAddr: '10.0.0.1',
  port: 8080,
  portEnabled: true,
  securePort: 443,
  securePortEnabled: false,
  zone: 'zone-a',
  metadata: { version: '2.0.0' },
  homePageUrl: 'http://h1:8080/',
  statusPageUrl: 'http://h1:8077/status',
  healthCheckUrl: 'http://h1:8077/healthcheck',
  leaseRenewalIntervalMs: 30_000,
  leaseDurationMs: 90_000,
};

describe('EurekaRegistry against the development Eureka server', () => {
  it('shows every lifecycle status to another client, the override included, with deltas in step', async () => {
    const server = await devServer();
    const writer = registry(server.url, { fetchRegistry: false });
    const reader = registry(server.url.replace(/\/eureka$/, '/eureka/v2'));
    let mismatches = 0;
    reader.on('hashMismatch', () => mismatches++);
    const seen = async (): Promise<string> => {
      await reader.refresh();
      const instance = reader.instance(descriptor.instanceId);
      return instance === undefined ? 'absent' : `${instance.status}/${instance.overriddenStatus}`;
    };

    const steps: [string, () => Promise<void>][] = [
      ['register STARTING', () => writer.register(descriptor, 'STARTING')],
      ['UP', () => writer.setStatus(descriptor.instanceId, 'UP')],
      ['OUT_OF_SERVICE', () => writer.setStatus(descriptor.instanceId, 'OUT_OF_SERVICE')],
      ['DOWN', () => writer.setStatus(descriptor.instanceId, 'DOWN')],
      ['OUT_OF_SERVICE again', () => writer.setStatus(descriptor.instanceId, 'OUT_OF_SERVICE')],
      ['UP again', () => writer.setStatus(descriptor.instanceId, 'UP')],
      ['heartbeat', () => writer.heartbeat(descriptor.instanceId)],
      ['DOWN on shutdown', () => writer.setStatus(descriptor.instanceId, 'DOWN')],
      ['cancel', () => writer.deregister(descriptor.instanceId)],
    ];
    const observed: [string, string][] = [];
    for (const [step, run] of steps) {
      await run();
      observed.push([step, await seen()]);
    }
    expect(observed).toEqual([
      ['register STARTING', 'STARTING/UNKNOWN'],
      ['UP', 'UP/UNKNOWN'],
      ['OUT_OF_SERVICE', 'OUT_OF_SERVICE/OUT_OF_SERVICE'],
      ['DOWN', 'DOWN/OUT_OF_SERVICE'],
      ['OUT_OF_SERVICE again', 'OUT_OF_SERVICE/OUT_OF_SERVICE'],
      ['UP again', 'UP/UNKNOWN'],
      ['heartbeat', 'UP/UNKNOWN'],
      ['DOWN on shutdown', 'DOWN/UNKNOWN'],
      ['cancel', 'absent'],
    ]);
    expect(mismatches).toBe(0);
  });

  it('keeps the record the server returns field by field', async () => {
    const server = await devServer();
    const writer = registry(server.url, { fetchRegistry: false });
    const reader = registry(server.url);
    await writer.register(descriptor, 'UP');
    await reader.refresh();
    expect((reader.instance(descriptor.instanceId) as EurekaInstance).toJSON()).toMatchObject({
      ...descriptor,
      metadata: { version: '2.0.0', zone: 'zone-a' },
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
    });
    expect(reader.upInstancesByVip('greeter').map((i) => i.instanceId)).toEqual([descriptor.instanceId]);
  });

  it('registers again when a restarted server has lost the lease (heartbeat 404)', async () => {
    const first = await devServer();
    const port = new URL(first.url).port;
    const writer = registry(first.url, { fetchRegistry: false, heartbeatIntervalMs: 200, retryInitialDelayMs: 50, retryMaxDelayMs: 200 });
    const heartbeats: HeartbeatEvent[] = [];
    writer.on('heartbeat', (event) => heartbeats.push(event));
    await writer.register(descriptor, 'UP');
    await first.close();
    const second = await devServer(Number(port));
    await waitFor(() => heartbeats.some((event) => event.reregister), 10_000, 'a heartbeat answered 404');
    const reader = registry(second.url);
    await waitFor(
      async () => {
        await reader.refresh();
        return reader.instance(descriptor.instanceId)?.status === 'UP';
      },
      10_000,
      'the instance registered again on the new server',
    );
  });

  for (const loss of ['the server restarts empty', 'an operator deletes the instance'] as const) {
    it(`keeps the operator's override through a lost lease (${loss}), and markUp() then leaves it UP with no override`, async () => {
      const server = await devServer();
      const service = createService({
        name: 'greeter',
        port: 8080,
        hostName: '127.0.0.1',
        ipAddr: '127.0.0.1',
        registry: { eureka: { serviceUrls: [server.url], heartbeatIntervalMs: 100, registryFetchIntervalMs: 60_000, jitterRatio: 0 } },
        admin: false,
        lifecycle: { deregistrationDelayMs: 0 },
      });
      cleanups.push(() => service.stop());
      await service.start();
      const id = service.instanceId!;
      const stored = () => server.instance('GREETER', id)?.instance;
      await waitFor(() => stored()?.status === 'UP', 10_000, 'UP on the server');
      await service.markOutOfService();
      await waitFor(() => stored()?.overriddenStatus === 'OUT_OF_SERVICE', 10_000, 'the override on the server');

      if (loss === 'the server restarts empty') server.reset();
      else {
        const res = await fetch(`${server.url}/apps/GREETER/${encodeURIComponent(id)}`, { method: 'DELETE' });
        expect(res.status).toBe(200);
      }
      expect(stored()).toBeUndefined();
      // The next heartbeat gets 404; the client registers again and restores the override.
      await waitFor(() => stored()?.overriddenStatus === 'OUT_OF_SERVICE', 10_000, 'the override restored after the lease loss');
      expect(stored()?.status).toBe('OUT_OF_SERVICE');

      await service.markUp();
      await waitFor(() => stored()?.status === 'UP', 10_000, 'UP after markUp()');
      expect(stored()).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN' });
      // And it stays so across heartbeats (no rule brings OUT_OF_SERVICE back).
      const renewed = server.instance('GREETER', id)!.lastRenewalTimestamp;
      await waitFor(() => server.instance('GREETER', id)!.lastRenewalTimestamp > renewed + 150, 10_000, 'two more heartbeats');
      expect(stored()).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN' });
    });
  }
});
