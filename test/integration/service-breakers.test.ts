import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { command, createService, defineConfig, karyonConfigSchema } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service, KaryonError } from 'karyon-ts';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

function started(service: Service): Promise<Service> {
  services.push(service);
  return service.start().then(() => service);
}

describe('commands of a service', () => {
  it('service.command() is shown and steered through the admin API', async () => {
    const service = await started(createService({ name: 'cmd', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 } }));
    const double = service.command('double', (n: number) => n * 2, { fallback: () => -1 });
    expect(await double(21)).toBe(42);
    const list = (await (await request(`${service.adminUrl}/breakers`)).body.json()) as { commands: { name: string; state: string }[] } | { name: string; state: string }[];
    expect(JSON.stringify(list)).toContain('"name":"double"');
    const forced = await request(`${service.adminUrl}/breakers/double`, { method: 'PUT', body: '{"action":"forceOpen"}', headers: { 'content-type': 'application/json' } });
    expect(forced.statusCode).toBe(200);
    await forced.body.dump();
    expect(await double(21)).toBe(-1); // short-circuited to the fallback
    expect(double.state).toBe('FORCED_OPEN');
  });

  it('@command() methods of a registered component run through the service commands', async () => {
    class Users {
      calls = 0;
      @command({ timeoutMs: 500 })
      async find(id: string): Promise<string> {
        this.calls++;
        return `user ${id}`;
      }
    }
    const users = new Users();
    const service = createService({ name: 'cmd', admin: false, lifecycle: { deregistrationDelayMs: 0 } }).register(users);
    await started(service);
    expect(await users.find('7')).toBe('user 7');
    expect(service.commands.list().map((c) => c.name)).toEqual(['Users.find']);
    expect(users.calls).toBe(1);
  });

  it("a client's calls run through its breaker: a failing dependency opens it and calls stop reaching it", async () => {
    let hits = 0;
    const registry = new InMemoryRegistry();
    const backend = createService({
      name: 'flaky',
      server: createServer((_req, res) => {
        hits++;
        res.writeHead(500).end('broken');
      }),
      port: 0,
      host: '127.0.0.1',
      ipAddr: '127.0.0.1',
      registry,
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
    });
    await started(backend);
    const caller = await started(createService({ name: 'caller', registry, admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 } }));
    // No retries, no outlier ejection: only the breaker stands between the caller and the failing dependency.
    const client = caller.client('flaky', { retries: false, outlierDetection: false, breaker: { requestVolumeThreshold: 5 } });
    const statuses: (number | string)[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        const res = await client.request({ path: '/' });
        statuses.push(res.statusCode);
        await res.body.dump();
      } catch (error) {
        statuses.push((error as KaryonError).code);
      }
    }
    expect(statuses.slice(0, 5)).toEqual([500, 500, 500, 500, 500]);
    expect(statuses.slice(5)).toEqual(Array(5).fill('ERR_BREAKER_OPEN'));
    expect(hits).toBe(5);
    expect(client.command?.state).toBe('OPEN');
    const breakers = await (await request(`${caller.adminUrl}/breakers`)).body.text();
    expect(breakers).toContain('client:flaky');
  });

  it("a client call its breaker times out is aborted, not left running; the caller's signal still cancels the body", async () => {
    const registry = new InMemoryRegistry();
    let cut = 0;
    const backend = createService({
      name: 'slow',
      server: createServer((req, res) => {
        res.on('close', () => {
          if (!res.writableFinished) cut++;
        });
        if (req.url === '/stream') {
          // Headers at once, then the body never ends.
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('start');
        }
        // Otherwise: no answer at all.
      }),
      port: 0,
      host: '127.0.0.1',
      ipAddr: '127.0.0.1',
      registry,
      admin: false,
      lifecycle: { deregistrationDelayMs: 0, drainTimeoutMs: 100 },
    });
    await started(backend);
    const caller = await started(createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } }));
    // The client's own timeout is far off (60 s), so only the breaker's 150 ms can end the call within the
    // bounds below, which leave room for a loaded machine.
    const client = caller.client('slow', { retries: false, timeoutMs: 60_000, breaker: { timeoutMs: 150 } });
    const startedAt = Date.now();
    await expect(client.request({ path: '/hang' })).rejects.toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    // The request the command gave up on was cut at the backend, long before the client's own timeout.
    await expect.poll(() => cut, { timeout: 10_000 }).toBe(1);
    expect(client.stats().instances[0]?.pending).toBe(0);

    // The call's own signal follows the caller's until the body is read: aborting mid-body still cuts it.
    const controller = new AbortController();
    const res = await client.request({ path: '/stream', signal: controller.signal });
    expect(res.statusCode).toBe(200);
    const text = res.body.text();
    controller.abort(new Error('caller gave up'));
    await expect(text).rejects.toThrow();
    await expect.poll(() => cut, { timeout: 10_000 }).toBe(2);
  }, 40_000);

  it("the caller's cancellations never open the breaker, whatever their reason (AbortError, AbortSignal.timeout, an error of its own)", async () => {
    const registry = new InMemoryRegistry();
    const backend = createService({
      name: 'hangs',
      server: createServer(() => {}),
      port: 0,
      host: '127.0.0.1',
      ipAddr: '127.0.0.1',
      registry,
      admin: false,
      lifecycle: { deregistrationDelayMs: 0, drainTimeoutMs: 50 },
    });
    await started(backend);
    const caller = await started(createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } }));
    const client = caller.client('hangs', { retries: false, breaker: { requestVolumeThreshold: 3 } });
    const reasons = [undefined, new Error('user navigated away'), 'a string reason'];
    for (const reason of reasons) {
      const controller = new AbortController();
      const call = client.request({ path: '/', signal: controller.signal });
      setTimeout(() => controller.abort(reason), 20);
      // The caller's own error comes back as it is; no reason, or a string, as an AbortError (saying it).
      if (reason instanceof Error) await expect(call).rejects.toBe(reason);
      else await expect(call).rejects.toMatchObject({ name: 'AbortError', ...(reason === undefined ? {} : { message: reason }) });
    }
    for (let i = 0; i < 3; i++) {
      await expect(client.request({ path: '/', signal: AbortSignal.timeout(30) })).rejects.toMatchObject({ name: 'TimeoutError' });
    }
    expect(client.command?.snapshot().rolling).toMatchObject({ failure: 0, badRequest: 6 });
    expect(client.command?.state).toBe('CLOSED');
  });

  it('having no instance to call does not open the breaker', async () => {
    const registry = new InMemoryRegistry();
    const caller = await started(createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } }));
    const client = caller.client('later', { breaker: { requestVolumeThreshold: 2 } });
    for (let i = 0; i < 10; i++) await expect(client.request({ path: '/' })).rejects.toMatchObject({ code: 'ERR_NO_INSTANCES' });
    expect(client.command?.state).toBe('CLOSED');
    const backend = createService({ name: 'later', server: createServer((_q, r) => r.end('here')), port: 0, host: '127.0.0.1', ipAddr: '127.0.0.1', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    await started(backend);
    expect(await (await client.request({ path: '/' })).body.text()).toBe('here');
  });

  it('breaker.* settings of a dynamic configuration apply to every command, live', async () => {
    const config = defineConfig({ schema: karyonConfigSchema, env: { KARYON_APP_NAME: 'cmd', KARYON_BREAKER_VOLUME_THRESHOLD: '7' } });
    const service = await started(createService({ name: 'cmd', admin: false, config, lifecycle: { deregistrationDelayMs: 0 } }));
    const noop = service.command('noop', () => 1);
    expect(noop.settings.requestVolumeThreshold).toBe(7);
    config.setOverride('breaker.errorThresholdPercentage', 25.4);
    expect(noop.settings.errorThresholdPercentage).toBe(25);
    config.setOverride('breaker.sleepWindowMs', 1234);
    expect(noop.settings.sleepWindowMs).toBe(1234);
  });

  it('a breaker.* value the commands would refuse (a timeout beyond what a Node timer can wait) is refused by the configuration: nothing changes', async () => {
    const config = defineConfig({ schema: karyonConfigSchema, env: { KARYON_APP_NAME: 'cmd' } });
    const service = await started(createService({ name: 'cmd', admin: false, config, lifecycle: { deregistrationDelayMs: 0 } }));
    const a = service.command('a', () => 1);
    const b = service.command('b', () => 2, { sleepWindowMs: 100 });
    const before = [a.settings, b.settings];
    for (const [key, value] of [['breaker.timeoutMs', 3e9], ['breaker.sleepWindowMs', 2 ** 40], ['breaker.requestVolumeThreshold', 2 ** 40]] as const) {
      const last = config.get(key);
      expect(() => config.setOverride(key, value)).toThrow(new RegExp(`'${key.replace('.', '\\.')}': must be an integer from \\d+ to 2147483647`));
      expect(config.get(key)).toBe(last);
      expect([a.settings, b.settings]).toEqual(before);
      expect(service.commands.defaults).toEqual({ errorThresholdPercentage: 50, requestVolumeThreshold: 20, sleepWindowMs: 5000, timeoutMs: 1000 });
    }
    config.setOverride('breaker.timeoutMs', 2_147_483_647);
    expect([a.settings.timeoutMs, b.settings.timeoutMs]).toEqual([2_147_483_647, 2_147_483_647]);
  });
});
