import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, outOfServiceGuard } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service } from 'karyon-ts';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

function backend(registry: InMemoryRegistry, id: string): Service {
  const guard = outOfServiceGuard(() => service.status);
  const server = createServer(guard((_req, res) => res.end(id)));
  const service = createService({
    name: 'backend',
    server,
    port: 0,
    host: '127.0.0.1',
    ipAddr: '127.0.0.1',
    instanceId: id,
    registry,
    admin: false,
    lifecycle: { deregistrationDelayMs: 0 },
  });
  services.push(service);
  return service;
}

describe('service.client()', () => {
  it('balances over the instances this service sees, reports metrics, and shows in GET /instances', async () => {
    const registry = new InMemoryRegistry();
    await Promise.all([backend(registry, 'b1').start(), backend(registry, 'b2').start()]);
    const caller = createService({
      name: 'caller',
      registry,
      admin: { port: 0, host: '127.0.0.1' },
      lifecycle: { deregistrationDelayMs: 0 },
      metrics: { prometheus: true },
    });
    services.push(caller);
    await caller.start();
    const client = caller.client('backend', { balancer: 'round-robin' });
    const answers = new Set<string>();
    for (let i = 0; i < 10; i++) answers.add(await (await client.request({ path: '/' })).body.text());
    expect(answers).toEqual(new Set(['b1', 'b2']));

    const instances = (await (await request(`${caller.adminUrl}/instances`)).body.json()) as { clients: { vip: string; rule: string; instances: { instanceId: string; requests: number }[] }[] };
    const view = JSON.stringify(instances);
    expect(view).toContain('"vip":"backend"');
    expect(view).toContain('"rule":"round-robin"');
    expect(view).toMatch(/"instanceId":"b1"/);

    const metrics = await (await request(`${caller.adminUrl}/metrics`)).body.text();
    expect(metrics).toMatch(/karyon_client_requests_total\{[^}]*outcome="success"[^}]*status_class="2xx"[^}]*target="backend"[^}]*\} 10/);
  });

  it('an instance taken out of service gets no more calls at once, before any registry propagation', async () => {
    // A registry that never hears of status changes: only the 503 guard can steer the client.
    const registry = new InMemoryRegistry();
    const b1 = backend(registry, 'b1');
    await Promise.all([b1.start(), backend(registry, 'b2').start()]);
    const caller = createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    services.push(caller);
    await caller.start();
    const client = caller.client('backend', { balancer: 'round-robin' });
    const snapshot = registry.upInstancesByVip('backend');
    // Freeze the caller's view: pretend the registry still lists b1 as UP.
    Object.assign(registry, { upInstancesByVip: () => snapshot });
    await b1.markOutOfService();
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await (await client.request({ path: '/', method: 'POST', body: 'x' })).body.text());
    expect(answers.every((a) => a === 'b2')).toBe(true);
  });

  it('cannot be made once the service has stopped and closed its clients', async () => {
    const caller = createService({ name: 'caller', admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    await caller.start();
    await caller.stop();
    expect(() => caller.client('x')).toThrow(/clients cannot be made once the service has closed its clients \(STOPPED\)/);
  });
});
