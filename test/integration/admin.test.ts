import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service, ServiceOptions } from 'karyon-ts';
import { defaultIpAddress } from '../../src/internal/net.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

async function started(options: Partial<ServiceOptions> = {}) {
  const registry = new InMemoryRegistry();
  const service = createService({
    name: 'admin-test',
    port: 8080,
    hostName: 'localhost',
    registry,
    admin: { port: 0 },
    lifecycle: { deregistrationDelayMs: 0 },
    ...options,
  });
  services.push(service);
  await service.start();
  return { service, registry, url: service.adminUrl! };
}

async function call(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: (init.method ?? 'GET') as 'GET', body: init.body ?? null, headers: init.headers ?? {} });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json: json as Record<string, unknown> };
}

describe('admin API', () => {
  it('GET /healthcheck answers 200 with every check while UP, 503 otherwise', async () => {
    let healthy = true;
    const { service, url } = await started();
    service.addHealthCheck('db', () => ({ status: healthy ? 'UP' : 'DOWN', details: { pool: 4 } }), { cacheMs: 0 });
    const up = await call(`${url}/healthcheck`);
    expect(up.status).toBe(200);
    expect(up.json).toMatchObject({ status: 'UP', ready: true, live: true, checks: { db: { status: 'PASSING', lastResult: { details: { pool: 4 } } } } });
    healthy = false;
    const down = await call(`${url}/healthcheck`);
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({ status: 'DOWN', ready: false, checks: { db: { status: 'CRITICAL' } } });
    expect(service.status).toBe('DOWN');
  });

  it('GET /livez and /readyz are separate', async () => {
    const { service, url } = await started();
    service.addHealthCheck('loop', () => false, { kind: 'liveness', cacheMs: 0 });
    expect((await call(`${url}/readyz`)).status).toBe(200);
    const livez = await call(`${url}/livez`);
    expect(livez.status).toBe(503);
    expect(livez.json).toEqual({ live: false, status: 'UP' });
    await service.markOutOfService();
    expect((await call(`${url}/readyz`)).json).toEqual({ ready: false, status: 'OUT_OF_SERVICE' });
  });

  it('GET /status shows identity, state and the transitions', async () => {
    const { url } = await started({ version: '2.0.0', zone: 'z1' });
    const status = await call(`${url}/status`);
    expect(status.status).toBe(200);
    expect(status.json).toMatchObject({
      app: 'admin-test',
      instanceId: 'localhost:admin-test:8080',
      status: 'UP',
      registryStatus: 'UP',
      zone: 'z1',
      version: '2.0.0',
      outOfServiceByOperator: false,
      transitions: [{ from: 'STARTING', to: 'UP', reason: 'initialize hooks finished' }],
    });
  });

  it('PUT /status from loopback takes the instance out of service and back, and the registry hears it', async () => {
    const { service, registry, url } = await started();
    const out = await call(`${url}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' });
    expect(out.status).toBe(200);
    expect(out.json).toMatchObject({ status: 'OUT_OF_SERVICE', outOfServiceByOperator: true });
    expect(registry.instance(service.instanceId!)?.status).toBe('OUT_OF_SERVICE');
    const back = await call(`${url}/status`, { method: 'PUT', body: '{"status":"UP"}' });
    expect(back.json).toMatchObject({ status: 'UP' });
    expect(registry.instance(service.instanceId!)?.status).toBe('UP');
  });

  it('bad requests get a 4xx with a reason and change nothing', async () => {
    const { service, url } = await started();
    const cases: [string, { method?: string; body?: string; headers?: Record<string, string> }, number, RegExp][] = [
      ['/status', { method: 'PUT', body: '{not json' }, 400, /not valid JSON/],
      ['/status', { method: 'PUT', body: '' }, 400, /empty/],
      ['/status', { method: 'PUT', body: '{"status":"DOWN"}' }, 400, /OUT_OF_SERVICE/],
      ['/status', { method: 'PUT', body: '[1,2]' }, 400, /OUT_OF_SERVICE/],
      ['/status', { method: 'PUT', body: JSON.stringify({ status: 'x'.repeat(100_000) }) }, 413, /exceeds the limit/],
      ['/status', { method: 'DELETE' }, 405, /not allowed/],
      ['/nope', {}, 404, /no admin endpoint/],
      ['/%E0%A4%A', {}, 404, /no admin endpoint/],
    ];
    for (const [path, init, status, reason] of cases) {
      const res = await call(`${url}${path}`, init);
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(String(res.json?.error)).toMatch(reason);
    }
    expect((await call(`${url}/status`, { method: 'DELETE' })).headers.allow).toBe('GET, PUT');
    expect(service.status).toBe('UP');
  });

  it('with a token, mutations need it as a bearer token (401 otherwise), reads stay open', async () => {
    const { service, url } = await started({ admin: { port: 0, token: 'let-me-in' } });
    const body = '{"status":"OUT_OF_SERVICE"}';
    const missing = await call(`${url}/status`, { method: 'PUT', body });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toMatch(/Bearer/);
    expect((await call(`${url}/status`, { method: 'PUT', body, headers: { authorization: 'Bearer let-me-out' } })).status).toBe(401);
    expect((await call(`${url}/status`, { method: 'PUT', body, headers: { authorization: 'Basic bGV0' } })).status).toBe(401);
    expect(service.status).toBe('UP');
    expect((await call(`${url}/status`)).status).toBe(200);
    const ok = await call(`${url}/status`, { method: 'PUT', body, headers: { authorization: 'Bearer let-me-in' } });
    expect(ok.status).toBe(200);
    expect(service.status).toBe('OUT_OF_SERVICE');
  });

  it('without a token, mutations from a non-loopback address are refused with 403', async () => {
    const address = defaultIpAddress();
    expect(address).not.toBe('127.0.0.1'); // this test needs a non-loopback interface
    const { service } = await started({ admin: { port: 0, host: '0.0.0.0' } });
    const port = new URL(service.adminUrl!).port;
    const res = await call(`http://${address}:${port}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' });
    expect(res.status).toBe(403);
    expect(String(res.json.error)).toMatch(/loopback/);
    expect(service.status).toBe('UP');
    expect((await call(`http://${address}:${port}/status`)).status).toBe(200);
  });

  it('survives a flood of garbage requests', async () => {
    const { service, url } = await started();
    const { connect } = await import('node:net');
    const { port } = new URL(url);
    const garbage = ['GARBAGE\r\n\r\n', 'PUT /status HTTP/1.1\r\nContent-Length: 5\r\n\r\n{', 'GET / HTTP/9.9\r\n\r\n', '\x00\x01\x02\r\n\r\n'];
    await Promise.all(
      garbage.map(
        (payload) =>
          new Promise<void>((resolve) => {
            const socket = connect(Number(port), '127.0.0.1', () => socket.end(payload));
            socket.on('error', () => resolve());
            socket.on('close', () => resolve());
            socket.resume();
          }),
      ),
    );
    const fuzz = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call(`${url}/status`, { method: 'PUT', body: JSON.stringify({ status: i % 2 === 0 ? i : null, junk: 'x'.repeat(i) }) }),
      ),
    );
    expect(new Set(fuzz.map((r) => r.status))).toEqual(new Set([400]));
    expect((await call(`${url}/status`)).status).toBe(200);
    expect(service.status).toBe('UP');
  });

  it('extra routes can be added by other subsystems', async () => {
    const { service, url } = await started();
    service.admin!.route('GET', '/things/:id', (_req, res, params) => {
      res.end(JSON.stringify({ id: params.id }));
    });
    expect((await call(`${url}/things/a%20b`)).json).toEqual({ id: 'a b' });
  });

  it('a port already in use fails start() with ERR_LISTEN and unwinds', async () => {
    const { service: first } = await started();
    const port = Number(new URL(first.adminUrl!).port);
    const second = createService({ name: 'second', admin: { port }, lifecycle: { deregistrationDelayMs: 0 } });
    await expect(second.start()).rejects.toMatchObject({ code: 'ERR_LISTEN' });
    expect(second.status).toBe('FAILED');
  });
});
