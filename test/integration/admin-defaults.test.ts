import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CommandRegistry, createService, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';
import { breakerAdminRoutes } from 'karyon-ts/extend';
import type { Service } from 'karyon-ts';
import { defaultIpAddress } from '../../src/internal/net.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

/** Whether a TCP connection to host:port is accepted. */
async function reachable(host: string, port: number): Promise<boolean> {
  try {
    const res = await request(`http://${host}:${port}/livez`);
    await res.body.dump();
    return true;
  } catch {
    return false;
  }
}

describe('admin port defaults', () => {
  it('binds loopback only when no token is set, and prints what it binds', async () => {
    const service = createService({ name: 'safe', admin: { port: 0 }, lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(service);
    await service.start();
    const port = Number(new URL(service.adminUrl!).port);
    expect(service.adminUrl).toBe(`http://127.0.0.1:${port}`);
    expect(await reachable('127.0.0.1', port)).toBe(true);
    const external = defaultIpAddress();
    if (external !== '127.0.0.1') expect(await reachable(external, port)).toBe(false);
  });

  it('binds every interface when a token is set, and says so', async () => {
    const service = createService({ name: 'open', admin: { port: 0, token: 's3cret-token' }, lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(service);
    await service.start();
    expect(service.adminUrl).toMatch(/^http:\/\/(0\.0\.0\.0|\[::\]):\d+$/);
    const port = Number(new URL(service.adminUrl!).port);
    expect(await reachable(defaultIpAddress(), port)).toBe(true);
  });

  it('KARYON_ADMIN_HOST and KARYON_ADMIN_PORT reach the admin server through loadSettings', async () => {
    const settings = loadSettings({ env: { KARYON_APP_NAME: 'envy', KARYON_ADMIN_PORT: '0', KARYON_ADMIN_HOST: '0.0.0.0' } });
    const service = createService({ ...serviceOptionsFromSettings(settings), lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(service);
    await service.start();
    expect(service.adminUrl).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
  });

  it('a second instance on the same admin port fails loudly, naming the option and the variable to set', async () => {
    const first = createService({ name: 'first', admin: { port: 0 }, lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(first);
    await first.start();
    const port = Number(new URL(first.adminUrl!).port);
    const second = createService({ name: 'second', admin: { port }, lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(second);
    const failure = await second.start().then(() => undefined, (error: unknown) => error);
    expect(failure).toMatchObject({ code: 'ERR_LISTEN' });
    expect((failure as Error).message).toContain('EADDRINUSE');
    expect((failure as Error).message).toContain('admin.port');
    expect((failure as Error).message).toContain('KARYON_ADMIN_PORT');
    expect(second.status).toBe('FAILED');
  });
});

describe('admin routes', () => {
  it("adding a route a service already serves is an error naming it, so a second registry's breakers cannot silently never show", () => {
    const service = createService({ name: 'dup', admin: { port: 0, host: '127.0.0.1' }, logger: false });
    services.push(service);
    const commands = new CommandRegistry({ group: 'dup' });
    expect(() => breakerAdminRoutes(service.admin!, commands)).toThrow(
      expect.objectContaining({ code: 'ERR_DUPLICATE_ROUTE', message: expect.stringContaining('GET /breakers') }),
    );
    // The same path under another parameter name is the same route.
    service.admin!.route('GET', '/things/:id', (_req, res) => res.end());
    expect(() => service.admin!.route('GET', '/things/:name', (_req, res) => res.end())).toThrow(/GET \/things\/:name is already registered/);
    // Another method on the same path is another route.
    expect(() => service.admin!.route('DELETE', '/things/:id', (_req, res) => res.end())).not.toThrow();
  });

  it("service.command() is the way: the service's /breakers shows the command", async () => {
    const service = createService({ name: 'cmds', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 }, logger: false });
    services.push(service);
    const getUser = service.command('getUser', async (id: string) => ({ id }));
    await service.start();
    await getUser('42');
    const res = await request(`${service.adminUrl}/breakers`);
    const body = (await res.body.json()) as { commands: { name: string }[] };
    expect(body.commands.map((c) => c.name)).toContain('getUser');
  });
});
