import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createService } from 'karyon-ts';
import { silentLogger } from 'karyon-ts/extend';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service } from 'karyon-ts';
import { EgressProxy } from '../../src/sidecar/EgressProxy.js';
import type { EgressProxyOptions } from 'karyon-ts/sidecar';

// A malformed request (a path with a space, an `expect` header) is refused by the HTTP client before anything
// is sent: the caller's mistake, answered as such, and never a failure of the dependency that could open its
// circuit for everyone else.

const services: Service[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function backendAndCaller(): Promise<{ caller: Service; seen: string[] }> {
  const registry = new InMemoryRegistry();
  const seen: string[] = [];
  const backend = createService({
    name: 'backend',
    server: createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        res.end('ok');
      });
    }),
    port: 0,
    host: '127.0.0.1',
    ipAddr: '127.0.0.1',
    registry,
    admin: false,
    lifecycle: { deregistrationDelayMs: 0 },
  });
  const caller = createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
  services.push(backend, caller);
  await backend.start();
  await caller.start();
  return { caller, seen };
}

describe('malformed requests through the service client', () => {
  it('are refused with ERR_INVALID_OPTION and never open the breaker', async () => {
    const { caller, seen } = await backendAndCaller();
    const client = caller.client('backend', { breaker: { requestVolumeThreshold: 5 } });
    for (let i = 0; i < 10; i++) {
      await expect(client.request({ path: '/a b' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', retryable: false });
      await expect(client.request({ path: '/', method: 'POST', body: 'x', headers: { expect: '100-continue' } })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    }
    expect(client.command?.state).toBe('CLOSED');
    expect(client.command?.snapshot().rolling).toMatchObject({ failure: 0 });
    const res = await client.request({ path: '/fine' });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(seen).toEqual(['GET /fine ']);
  });
});

/** An egress proxy over `caller`'s clients, behind a real server that routes as `route` says; its port. */
async function proxyFront(
  caller: Service,
  route: (url: URL) => { vip: string; path: string },
  options: Partial<EgressProxyOptions> = {},
): Promise<{ proxy: EgressProxy; port: number }> {
  const proxy = new EgressProxy({
    clientOf: (vip, clientOptions) => caller.client(vip, clientOptions),
    common: {},
    vips: {},
    maxBufferedBodyBytes: 1024,
    maxVips: 8,
    logger: silentLogger,
    ...options,
  });
  const front = createServer((req, res) => {
    const { vip, path } = route(new URL(req.url ?? '/', 'http://front'));
    void proxy.forward(req, res, vip, path, 'json');
  });
  servers.push(front);
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return { proxy, port: (front.address() as AddressInfo).port };
}

/** Sends one request with node:http (which, unlike undici, sends `expect`); waits for the whole answer. */
function send(port: number, path: string, init: { method?: string; headers?: Record<string, string | number>; body?: string } = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, method: init.method ?? 'GET', headers: init.headers ?? {} });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    // With `expect: 100-continue` the body waits for the server's go-ahead, as curl's does.
    if (init.headers?.expect === '100-continue') req.on('continue', () => req.end(init.body));
    else req.end(init.body);
  });
}

describe('the sidecar egress proxy', () => {
  it('takes a body sent with Expect: 100-continue (as curl sends large ones) and forwards it without the header', async () => {
    const { caller, seen } = await backendAndCaller();
    // As the sidecar's two routes do: the path as sent, or Prana's decoded `?path=`.
    const { proxy, port } = await proxyFront(caller, (url) => ({ vip: 'backend', path: url.searchParams.get('path') ?? url.pathname }));
    const body = 'a body worth waiting for';
    const answer = await send(port, '/upload', { method: 'POST', headers: { expect: '100-continue', 'content-length': Buffer.byteLength(body) }, body });
    expect(answer).toEqual({ status: 200, text: 'ok' });
    expect(seen).toEqual(['POST /upload a body worth waiting for']);
    // A decoded path the client cannot send (a space) is the caller's mistake: 400 every time, and the VIP's
    // breaker stays closed.
    for (let i = 0; i < 25; i++) expect((await send(port, '/q?path=%2Fa%20b')).status).toBe(400);
    expect(proxy.clients.get('backend')?.command?.state).toBe('CLOSED');
    expect((await send(port, '/q?path=%2Fok')).status).toBe(200);
  });

  it('makes no client for a VIP the registry does not know: made-up names take no slot', async () => {
    const { caller } = await backendAndCaller();
    const { proxy, port } = await proxyFront(
      caller,
      (url) => {
        const [, vip = '', ...rest] = url.pathname.split('/');
        return { vip, path: `/${rest.join('/')}` };
      },
      { maxVips: 2, knows: (vip) => caller.registry.instancesByVip(vip).length > 0 },
    );
    for (let i = 0; i < 5; i++) {
      const answer = await send(port, `/made-up-${i}/x`);
      expect(answer.status).toBe(503);
      expect(answer.text).toContain(`no instance of 'made-up-${i}' is available`);
    }
    expect(proxy.clients.size).toBe(0);
    expect((await send(port, '/backend/hello')).status).toBe(200);
    expect([...proxy.clients.keys()]).toEqual(['backend']);
  });
});
