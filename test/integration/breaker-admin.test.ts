import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminOptions } from 'karyon-ts';
import type { AdminServiceView } from 'karyon-ts/extend';
import { CommandRegistry } from 'karyon-ts';
import { breakerAdminRoutes } from 'karyon-ts/extend';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** The breaker endpoints are the only ones these tests use, so the service view is never asked. */
const view = {} as AdminServiceView;

async function adminWith(registry: CommandRegistry, options: AdminOptions = {}) {
  const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1', ...options }));
  const routes = breakerAdminRoutes(admin, registry);
  await admin.listen();
  cleanups.push(async () => {
    await routes.close();
    await admin.close();
    await registry.close();
  });
  return { url: admin.url!, routes };
}

async function call(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', body: init.body ?? null, headers: init.headers ?? {} });
  const text = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

describe('GET /breakers', () => {
  it('shows every command with its state, settings, counts and latency percentiles', async () => {
    const registry = new CommandRegistry({ group: 'shop' });
    const getCart = registry.command('getCart', async (fail: boolean) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail) throw new Error('cart down');
      return 'cart';
    });
    registry.executor('client:pricing', { timeoutMs: 250 });
    for (let i = 0; i < 6; i++) await getCart(i % 3 === 0).catch(() => undefined);
    const { url } = await adminWith(registry);
    const res = await call(`${url}/breakers`);
    expect(res.status).toBe(200);
    const commands = res.json?.commands as Record<string, unknown>[];
    expect(commands.map((c) => c.name)).toEqual(['getCart', 'client:pricing']);
    expect(commands[0]).toMatchObject({
      name: 'getCart',
      group: 'shop',
      state: 'CLOSED',
      circuitOpen: false,
      health: { requestCount: 6, errorCount: 2, errorPercentage: 33 },
      rolling: { success: 4, failure: 2, fallbackMissing: 2, exceptionsThrown: 2 },
      settings: { timeoutMs: 1000, requestVolumeThreshold: 20, errorThresholdPercentage: 50, sleepWindowMs: 5000 },
      bulkhead: { running: 0, queued: 0, completed: 6 },
    });
    const latency = (commands[0] as { latency: { execute: { count: number; percentiles: Record<string, number> } } }).latency;
    expect(latency.execute.count).toBe(6);
    expect(latency.execute.percentiles['50']).toBeGreaterThanOrEqual(4);
    expect(commands[1]).toMatchObject({ name: 'client:pricing', settings: { timeoutMs: 250 } });
    const one = await call(`${url}/breakers/${encodeURIComponent('client:pricing')}`);
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({ name: 'client:pricing', group: 'shop' });
  });

  it('answers 404 for an unknown command', async () => {
    const { url } = await adminWith(new CommandRegistry());
    const res = await call(`${url}/breakers/nope`);
    expect(res.status).toBe(404);
    expect(res.json?.error).toBe('no command named "nope"');
  });
});

describe('PUT /breakers/{name}', () => {
  it('forces a command open and closed, and resets it', async () => {
    const registry = new CommandRegistry();
    let calls = 0;
    const ping = registry.command('ping', () => {
      calls++;
      return Promise.resolve('pong');
    });
    const { url } = await adminWith(registry);
    const open = await call(`${url}/breakers/ping`, { method: 'PUT', body: '{"action":"forceOpen"}' });
    expect(open.status).toBe(200);
    expect(open.json).toMatchObject({ state: 'FORCED_OPEN', circuitOpen: true, settings: { forceOpen: true } });
    await expect(ping()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN', command: 'ping' });
    expect(calls).toBe(0);
    const closed = await call(`${url}/breakers/ping`, { method: 'PUT', body: '{"action":"forceClosed"}' });
    expect(closed.json).toMatchObject({ state: 'FORCED_CLOSED', settings: { forceOpen: false, forceClosed: true } });
    await expect(ping()).resolves.toBe('pong');
    const reset = await call(`${url}/breakers/ping`, { method: 'PUT', body: '{"action":"reset"}' });
    expect(reset.json).toMatchObject({ state: 'CLOSED', settings: { forceOpen: false, forceClosed: false } });
    expect(ping.state).toBe('CLOSED');
  });

  it('changes settings live; null removes an override', async () => {
    const registry = new CommandRegistry();
    const slow = registry.command('slow', () => new Promise((resolve) => setTimeout(() => resolve('late'), 300)), { timeoutMs: 5000 });
    const { url } = await adminWith(registry);
    const res = await call(`${url}/breakers/slow`, { method: 'PUT', body: JSON.stringify({ settings: { timeoutMs: 20, maxConcurrent: 3 } }) });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ settings: { timeoutMs: 20, maxConcurrent: 3 } });
    await expect(slow()).rejects.toMatchObject({ code: 'ERR_COMMAND_TIMEOUT' });
    const cleared = await call(`${url}/breakers/slow`, { method: 'PUT', body: JSON.stringify({ settings: { timeoutMs: null } }) });
    expect(cleared.json).toMatchObject({ settings: { timeoutMs: 1000, maxConcurrent: 3 } });
    expect(slow.overrides).toEqual({ maxConcurrent: 3 });
  });

  it('answers 400 with a reason for bad input and 404 for an unknown command, changing nothing', async () => {
    const registry = new CommandRegistry();
    const cmd = registry.command('guarded', () => 1, { timeoutMs: 100 });
    const { url } = await adminWith(registry);
    const cases: [string, string, number, RegExp][] = [
      ['guarded', '{not json', 400, /not valid JSON/],
      ['guarded', '', 400, /empty/],
      ['guarded', '[1]', 400, /body must be/],
      ['guarded', '{}', 400, /got neither/],
      ['guarded', '{"action":"explode"}', 400, /field 'action' must be one of/],
      ['guarded', '{"action":"reset","extra":1}', 400, /unknown field "extra"/],
      ['guarded', '{"settings":[1]}', 400, /field 'settings' must be an object/],
      ['guarded', '{"settings":{"timeoutMs":-1}}', 400, /setting 'timeoutMs' of command 'guarded' must be an integer from 0 to 2147483647 \(got -1\)/],
      ['guarded', '{"settings":{"timeout":5}}', 400, /has no setting 'timeout'/],
      ['guarded', '{"settings":{"rollingBuckets":7}}', 400, /multiple of 'rollingBuckets'/],
      ['missing', '{"action":"reset"}', 404, /no command named "missing"/],
    ];
    for (const [name, body, status, reason] of cases) {
      const res = await call(`${url}/breakers/${name}`, { method: 'PUT', body });
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(String(res.json?.error)).toMatch(reason);
    }
    expect(cmd.settings.timeoutMs).toBe(100);
    expect(cmd.state).toBe('CLOSED');
  });

  it('answers 400 for a setting out of range, leaving the command, its window and its counts as they were', async () => {
    const registry = new CommandRegistry();
    const cmd = registry.command('bounded', (fail: boolean) => (fail ? Promise.reject(new Error('down')) : Promise.resolve('ok')), { timeoutMs: 300 });
    for (let i = 0; i < 4; i++) await cmd(i % 2 === 0).catch(() => undefined);
    const { url } = await adminWith(registry);
    const before = await call(`${url}/breakers/bounded`);
    const cases: [unknown, RegExp][] = [
      [{ rollingWindowMs: 2 ** 40, rollingBuckets: 2 ** 40 }, /setting 'rollingWindowMs' of command 'bounded' must be an integer from 1 to 2147483647 \(got 1099511627776\)/],
      [{ rollingBuckets: 2 ** 40 }, /setting 'rollingBuckets' of command 'bounded' must be an integer from 1 to 1000 \(got 1099511627776\)/],
      [{ percentileBuckets: 50_000 }, /setting 'percentileBuckets' of command 'bounded' must be an integer from 1 to 100 \(got 50000\)/],
      [{ percentileBuckets: 1_000_000, percentileWindowMs: 60_000_000 }, /'percentileBuckets'.*\(got 1000000\)/],
      [{ timeoutMs: 3e9 }, /setting 'timeoutMs' of command 'bounded' must be an integer from 0 to 2147483647 \(got 3000000000\)/],
      [{ sleepWindowMs: 50, maxConcurrent: 1e7 }, /setting 'maxConcurrent' of command 'bounded' must be an integer from 1 to 1000000 \(got 10000000\)/],
      [{ timeoutMs: null, maxQueued: 2e6 }, /setting 'maxQueued' .* \(got 2000000\)/],
    ];
    for (const [settings, reason] of cases) {
      for (const body of [{ settings }, { settings, action: 'forceOpen' }]) {
        const res = await call(`${url}/breakers/bounded`, { method: 'PUT', body: JSON.stringify(body) });
        expect({ body, status: res.status }).toEqual({ body, status: 400 });
        expect(String(res.json?.error)).toMatch(reason);
      }
    }
    const after = await call(`${url}/breakers/bounded`);
    expect({ ...after.json, at: 0 }).toEqual({ ...before.json, at: 0 }); // the same settings, window and counts
    expect(after.json).toMatchObject({ state: 'CLOSED', settings: { timeoutMs: 300, rollingBuckets: 10, percentileBuckets: 6 }, rolling: { success: 2, failure: 2 } });
    expect(cmd.overrides).toEqual({ timeoutMs: 300 });
    const fine = await call(`${url}/breakers/bounded`, { method: 'PUT', body: JSON.stringify({ settings: { timeoutMs: 2_147_483_647, percentileBuckets: 100, percentileWindowMs: 60_000 } }) });
    expect(fine.status).toBe(200);
    expect(fine.json).toMatchObject({ settings: { timeoutMs: 2_147_483_647, percentileBuckets: 100 } });
  });

  it('is a mutation: with an admin token it needs the bearer token', async () => {
    const registry = new CommandRegistry();
    const cmd = registry.command('secured', () => 1);
    const { url } = await adminWith(registry, { token: 's3cret' });
    const denied = await call(`${url}/breakers/secured`, { method: 'PUT', body: '{"action":"forceOpen"}' });
    expect(denied.status).toBe(401);
    expect(cmd.state).toBe('CLOSED');
    expect((await call(`${url}/breakers`)).status).toBe(200);
    const allowed = await call(`${url}/breakers/secured`, {
      method: 'PUT',
      body: '{"action":"forceOpen"}',
      headers: { authorization: 'Bearer s3cret' },
    });
    expect(allowed.status).toBe(200);
    expect(cmd.state).toBe('FORCED_OPEN');
  });
});
