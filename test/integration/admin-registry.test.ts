import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService } from 'karyon-ts';
import { registryAdminRoutes } from 'karyon-ts/extend';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { RegistryChange, RegistryInstance, Service, ServiceOptions, ServiceRegistry } from 'karyon-ts';
import type { RegistryReport } from 'karyon-ts/extend';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

const services: Service[] = [];
const admins: AdminServer[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
  await Promise.allSettled(admins.splice(0).map((a) => a.close()));
});

/** An admin server of its own, to serve the registry view of a registry other than a service's. */
async function standaloneAdmin(): Promise<AdminServer> {
  const view = {
    status: () => { throw new Error('not used'); },
    health: () => Promise.reject(new Error('not used')),
    setOperatorStatus: () => Promise.reject(new Error('not used')),
  };
  const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1' }));
  admins.push(admin);
  await admin.listen();
  return admin;
}

async function registryAt(url: string): Promise<{ status: number; body: RegistryReport }> {
  const res = await request(`${url}/registry`);
  return { status: res.statusCode, body: (await res.body.json()) as RegistryReport };
}

function make(options: Partial<ServiceOptions> & { name: string }): Service {
  const service = createService({
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: 0 },
    ...options,
  });
  services.push(service);
  return service;
}

async function registryOf(service: Service): Promise<{ status: number; body: RegistryReport }> {
  const res = await request(`${service.adminUrl}/registry`);
  return { status: res.statusCode, body: (await res.body.json()) as RegistryReport };
}

const contractFields = ['instanceId', 'status', 'overriddenStatus', 'zone', 'vipAddress', 'ipAddr', 'hostName', 'port', 'lastUpdatedTimestamp'];

describe('GET /registry', () => {
  it('lists every app and instance the registry knows, of any status, sorted, with the contract fields', async () => {
    const registry = new InMemoryRegistry();
    // A service serves GET /registry on its admin port by itself.
    const viewer = make({ name: 'viewer', registry, port: 7000, zone: 'z1' });
    const b = make({ name: 'billing', registry, port: 7002, instanceId: 'billing-b', zone: 'z2' });
    const a = make({ name: 'billing', registry, port: 7001, instanceId: 'billing-a', zone: 'z1' });
    const down = make({ name: 'ledger', registry, port: 7003, instanceId: 'ledger-1' });
    down.addHealthCheck('db', () => false);
    await Promise.all([viewer.start(), a.start(), b.start(), down.start()]);
    await b.markOutOfService();

    const { status, body } = await registryOf(viewer);
    expect(status).toBe(200);
    expect(body.apps.map((app) => app.name)).toEqual(['BILLING', 'LEDGER', 'VIEWER']);
    const billing = body.apps[0]!;
    expect(billing.instances.map((i) => i.instanceId)).toEqual(['billing-a', 'billing-b']);
    for (const field of contractFields) expect(billing.instances[0]).toHaveProperty(field);
    expect(billing.instances[0]).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN', zone: 'z1', vipAddress: 'billing', ipAddr: '127.0.0.1', hostName: '127.0.0.1', port: 7001 });
    expect(billing.instances[1]).toMatchObject({ status: 'OUT_OF_SERVICE', overriddenStatus: 'OUT_OF_SERVICE', zone: 'z2' });
    expect(billing.instances[1]!.statusPageUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/status$/);
    expect(body.apps[1]!.instances[0]).toMatchObject({ instanceId: 'ledger-1', status: 'DOWN' });
    expect(typeof billing.instances[0]!.lastUpdatedTimestamp).toBe('number');

    // Gone from the registry, gone from the view.
    await a.stop();
    const after = await registryOf(viewer);
    expect(after.body.apps[0]!.instances.map((i) => i.instanceId)).toEqual(['billing-b']);
  });

  it("shows what a Eureka client fetched: other services' instances as the development Eureka server has them", async () => {
    await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
    await eureka.listen();
    const eurekaOptions = { serviceUrls: [eureka.url], registryFetchIntervalMs: 100, heartbeatIntervalMs: 1000 };
    const viewer = make({ name: 'viewer', port: 7100, registry: { eureka: eurekaOptions } });
    const greeter = make({ name: 'greeter', port: 7101, instanceId: 'greeter-1', registry: { eureka: eurekaOptions } });
    await Promise.all([viewer.start(), greeter.start()]);
    await greeter.markOutOfService();

    await waitFor(
      async () => {
        const { body } = await registryOf(viewer);
        const instance = body.apps.find((app) => app.name === 'GREETER')?.instances[0];
        return instance?.status === 'OUT_OF_SERVICE' && body.apps.some((app) => app.name === 'VIEWER');
      },
      15_000,
      'the viewer to fetch the greeter out of service',
    );
    const { body } = await registryOf(viewer);
    expect(body.apps.find((app) => app.name === 'GREETER')!.instances[0]).toMatchObject({
      instanceId: 'greeter-1',
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
      port: 7101,
      vipAddress: 'greeter',
    });
  });

  it('follows a registry without instances() through its change events, and stops when closed', async () => {
    const inner = new InMemoryRegistry();
    // Only the ServiceRegistry interface, nothing more: no way to list everything at once.
    const bare: ServiceRegistry = {
      propagationDelayMs: 0,
      register: (instance, status) => inner.register(instance, status),
      setStatus: (id, status) => inner.setStatus(id, status),
      heartbeat: (id) => inner.heartbeat(id),
      deregister: (id) => inner.deregister(id),
      instancesByApp: (app) => inner.instancesByApp(app),
      instancesByVip: (vip) => inner.instancesByVip(vip),
      upInstancesByVip: (vip) => inner.upInstancesByVip(vip),
      onChange: (listener: (change: RegistryChange) => void) => inner.onChange(listener),
      close: () => Promise.resolve(),
    };
    const viewer = make({ name: 'viewer', port: 7200, registry: bare });
    const admin = await standaloneAdmin();
    const routes = registryAdminRoutes(admin, bare);
    const other = make({ name: 'other', port: 7201, instanceId: 'other-1', registry: bare });
    await viewer.start();
    await other.start();
    await other.markOutOfService();
    let { body } = await registryAt(admin.url!);
    expect(body.apps.map((app) => [app.name, app.instances.map((i: { status: string }) => i.status)])).toEqual([
      ['OTHER', ['OUT_OF_SERVICE']],
      ['VIEWER', ['UP']],
    ]);
    await routes.close();
    await routes.close(); // idempotent
    await other.markUp();
    ({ body } = await registryAt(admin.url!));
    expect(body.apps.find((app) => app.name === 'OTHER')!.instances[0]!.status).toBe('OUT_OF_SERVICE');
  });

  it('answers an empty list for an empty registry, and HEAD without a body', async () => {
    const admin = await standaloneAdmin();
    registryAdminRoutes(admin, { ...stubRegistry(), instances: () => [] });
    const { status, body } = await registryAt(admin.url!);
    expect(status).toBe(200);
    expect(body).toEqual({ apps: [] });
    const head = await request(`${admin.url}/registry`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    expect(await head.body.text()).toBe('');
  });
});

function stubRegistry(): Omit<ServiceRegistry, 'instances'> {
  const none: readonly RegistryInstance[] = [];
  return {
    register: () => Promise.resolve(),
    setStatus: () => Promise.resolve(),
    heartbeat: () => Promise.resolve(),
    deregister: () => Promise.resolve(),
    instancesByApp: () => none,
    instancesByVip: () => none,
    upInstancesByVip: () => none,
    onChange: () => () => undefined,
    close: () => Promise.resolve(),
  };
}
