// The common cases in one option: the out-of-service guard a service installs on its own server, a service on
// loopback from `host` alone, two services of one process sharing the default admin port, and a stopped
// service that cannot be started again.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { KaryonError, OUT_OF_SERVICE_HEADER, RETRIES_ELSEWHERE_HEADER, createService } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service, ServiceOptions } from 'karyon-ts';
import { defaultIpAddress } from '../../src/internal/net.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

function track(service: Service): Service {
  services.push(service);
  return service;
}

/** A backend whose server answers its id, counting what reached the handler. */
function backend(registry: InMemoryRegistry, id: string, extra: Partial<ServiceOptions> = {}): { service: Service; handled: () => number; server: Server } {
  let handled = 0;
  const server = createServer((req, res) => {
    handled++;
    req.resume();
    res.end(id);
  });
  const service = track(
    createService({
      name: 'backend',
      server,
      port: 0,
      host: '127.0.0.1',
      instanceId: id,
      registry,
      admin: false,
      logger: false,
      lifecycle: { deregistrationDelayMs: 0 },
      ...extra,
    }),
  );
  return { service, handled: () => handled, server };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; header: unknown; body: string }> {
  const res = await request(url, { headers });
  return { status: res.statusCode, header: res.headers[OUT_OF_SERVICE_HEADER], body: await res.body.text() };
}

describe('the out-of-service guard a service installs on its server', () => {
  it('is on by default: a karyon-ts client is steered away at once, other callers are still served', async () => {
    const registry = new InMemoryRegistry();
    const b1 = backend(registry, 'b1');
    const b2 = backend(registry, 'b2');
    await Promise.all([b1.service.start(), b2.service.start()]);
    const caller = track(createService({ name: 'caller', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await caller.start();
    const client = caller.client('backend', { balancer: 'round-robin' });
    const snapshot = registry.upInstancesByVip('backend');
    // A registry that never hears of the change: only the guard can steer the client.
    Object.assign(registry, { upInstancesByVip: () => snapshot });
    await b1.service.markOutOfService();
    const before = b1.handled();
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await (await client.request({ path: '/', method: 'POST', body: 'x', idempotent: false })).body.text());
    expect(answers).toEqual(Array(20).fill('b2'));
    expect(b1.handled()).toBe(before);

    const url = `http://127.0.0.1:${b1.service.instance!.port}/`;
    // A caller that does not retry elsewhere (no header) is served as before.
    expect(await get(url)).toEqual({ status: 200, header: undefined, body: 'b1' });
    expect(await get(url, { [RETRIES_ELSEWHERE_HEADER]: '1' })).toMatchObject({ status: 503, header: 'OUT_OF_SERVICE' });
    await b1.service.markUp();
    expect(await get(url, { [RETRIES_ELSEWHERE_HEADER]: '1' })).toEqual({ status: 200, header: undefined, body: 'b1' });
  });

  it("callers: 'all' refuses every caller; false installs nothing", async () => {
    const registry = new InMemoryRegistry();
    const all = backend(registry, 'all', { outOfServiceGuard: { callers: 'all', retryAfterSeconds: 2 } });
    const none = backend(registry, 'none', { outOfServiceGuard: false });
    await Promise.all([all.service.start(), none.service.start()]);
    await Promise.all([all.service.markOutOfService(), none.service.markOutOfService()]);
    const allUrl = `http://127.0.0.1:${all.service.instance!.port}/`;
    const res = await request(allUrl);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    await res.body.dump();
    expect(all.handled()).toBe(0);
    const noneUrl = `http://127.0.0.1:${none.service.instance!.port}/`;
    expect(await get(noneUrl, { [RETRIES_ELSEWHERE_HEADER]: '1' })).toEqual({ status: 200, header: undefined, body: 'none' });
  });

  it('rejects a guard option of the wrong kind, naming it', () => {
    const server = createServer();
    expect(() => createService({ name: 'bad', server, admin: false, outOfServiceGuard: 'yes' as never })).toThrow(/outOfServiceGuard/);
    expect(() => createService({ name: 'bad', server, admin: false, outOfServiceGuard: { callers: 'some' as never } })).toThrow(/outOfServiceGuard\.callers/);
  });
});

describe('a service on loopback', () => {
  it('host alone binds, publishes and is reached on loopback', async () => {
    const registry = new InMemoryRegistry();
    const server = createServer((_req, res) => res.end('here'));
    const service = track(createService({ name: 'local', server, port: 0, host: '127.0.0.1', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await service.start();
    const instance = service.instance!;
    expect({ ipAddr: instance.ipAddr, hostName: instance.hostName }).toEqual({ ipAddr: '127.0.0.1', hostName: '127.0.0.1' });
    expect(server.address()).toMatchObject({ address: '127.0.0.1' });
    const caller = track(createService({ name: 'caller', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await caller.start();
    expect(await (await caller.client('local').request({ path: '/' })).body.text()).toBe('here');
  });

  it('an explicit hostName still wins, and a service on all interfaces publishes the host address', async () => {
    const registry = new InMemoryRegistry();
    const named = track(createService({ name: 'a', server: createServer(), port: 0, host: '127.0.0.1', hostName: 'box.local', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    const all = track(createService({ name: 'b', server: createServer(), port: 0, host: '0.0.0.0', registry, admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await Promise.all([named.start(), all.start()]);
    expect({ ipAddr: named.instance!.ipAddr, hostName: named.instance!.hostName }).toEqual({ ipAddr: '127.0.0.1', hostName: 'box.local' });
    expect(all.instance!.ipAddr).toBe(defaultIpAddress());
  });
});

describe('two services in one process', () => {
  it('the second without admin.port listens on a free port, not on the first one 8077', async () => {
    const first = track(createService({ name: 'first', logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    const second = track(createService({ name: 'second', logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    const firstStarted = await first.start().then(
      () => true,
      (error: unknown) => error,
    );
    // 8077 may be held by another process on this host; then the first fails loudly, naming the option.
    if (firstStarted !== true) {
      expect(firstStarted).toMatchObject({ code: 'ERR_LISTEN', message: expect.stringContaining('admin.port') });
      return;
    }
    expect(first.adminUrl).toBe('http://127.0.0.1:8077');
    await second.start();
    expect(second.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(second.adminUrl).not.toBe(first.adminUrl);
    expect((await request(`${second.adminUrl}/status`)).statusCode).toBe(200);
    // Once the first has stopped, 8077 is free again for the next one.
    await first.stop();
    const third = track(createService({ name: 'third', logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await third.start();
    expect(third.adminUrl).toBe('http://127.0.0.1:8077');
  });
});

describe('a stopped service', () => {
  it('cannot be started again: ERR_INVALID_STATE saying to make a new one', async () => {
    const service = track(createService({ name: 'once', admin: false, logger: false, lifecycle: { deregistrationDelayMs: 0 } }));
    await service.start();
    await service.stop();
    const failure = await service.start().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(KaryonError);
    expect(failure).toMatchObject({ code: 'ERR_INVALID_STATE', message: expect.stringMatching(/'once' was stopped \(STOPPED\) and cannot be started again: create a new one with createService\(\)/) });
    expect(service.status).toBe('STOPPED');
  });

  it('nor after a stop() that came before any start()', async () => {
    const service = track(createService({ name: 'never', admin: false, logger: false }));
    await service.stop();
    await expect(service.start()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});
