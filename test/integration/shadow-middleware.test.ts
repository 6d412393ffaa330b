import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminServiceView } from 'karyon-ts/extend';
import { SHADOW_HEADER, createShadowTraffic, expressShadowMiddleware, fastifyShadowHook, isShadowRequest, shadowMiddleware } from 'karyon-ts';
import { shadowAdminRoutes } from 'karyon-ts/extend';
import type { InstanceDescriptor, ShadowTraffic, ShadowTrafficOptions } from 'karyon-ts';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { cleanupAfterEach } from '../support/cleanups.js';

const cleanups = cleanupAfterEach();
const listen = cleanups.listen;

function descriptor(id: string, vip: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: vip.toUpperCase(), zone: 'z1', port });
}

/** What a shadow server received. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly marked: boolean;
}

/** A real shadow server registered under `next`, recording every request. */
async function shadowServer(registry: InMemoryRegistry, answer: RequestListener = (_req, res) => res.end('shadow')): Promise<Received[]> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString(), marked: isShadowRequest(req) });
      answer(req, res);
    });
  });
  await registry.register(descriptor(`next-${received.length}`, 'next', await listen(server)), 'UP');
  return received;
}

function shadowOf(registry: InMemoryRegistry, options: Partial<ShadowTrafficOptions> = {}): ShadowTraffic {
  const shadow = createShadowTraffic({ registry, vip: 'next', ...options });
  cleanups.push(() => shadow.close());
  return shadow;
}

/** Sends raw bytes and returns the raw response (the connection is closed by the request's header). */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // Written, not ended: a half-closed socket would let the server close before a late write. Every request
    // says Connection: close, so the server ends the exchange.
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
  });
}

/** The raw response with its Date header masked: the only bytes allowed to differ between two runs. */
function masked(raw: string): string {
  return raw.replace(/\r\nDate: [^\r]+/i, '\r\nDate: -');
}

describe('shadow middleware (node:http)', () => {
  it('copies each request with the marker, method, path, headers and body, and the client gets the same bytes as without it', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry);
    const shadow = shadowOf(registry, { allowNonIdempotent: true, compare: { headers: ['content-type', 'x-version'] } });
    // Three ways of answering: headers in writeHead (the fast path), setHeader + chunks, and an array of headers.
    const handler: RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        if (req.url!.startsWith('/head')) {
          res.writeHead(201, { 'content-type': 'application/json', 'x-version': '1' });
          res.end(JSON.stringify({ echo: body, url: req.url }));
        } else if (req.url!.startsWith('/chunks')) {
          // One write per turn of the event loop: Node 24's server joins writes made in the same turn into one
          // chunk, and the test below needs each write to be a chunk of its own on every Node.
          res.setHeader('content-type', 'text/plain');
          res.write('one,');
          setImmediate(() => {
            res.write(Buffer.from('two,'));
            setImmediate(() => res.end('three', 'utf8'));
          });
        } else {
          res.writeHead(200, 'Fine', ['Content-Type', 'text/plain', 'X-Version', '2']);
          res.end(body.toUpperCase());
        }
      });
    };
    const plainPort = await listen(createServer(handler));
    const teedPort = await listen(createServer(shadowMiddleware(shadow)(handler)));

    const requests = [
      'GET /head?q=1 HTTP/1.1\r\nHost: primary\r\nX-Trace: t-1\r\nConnection: close\r\n\r\n',
      'PUT /chunks HTTP/1.1\r\nHost: primary\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
      'POST /array HTTP/1.1\r\nHost: primary\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
    ];
    for (const text of requests) {
      const [plain, teed] = [await rawExchange(plainPort, text), await rawExchange(teedPort, text)];
      expect(masked(teed)).toBe(masked(plain));
    }
    // Each write stays its own chunk: the middleware passes writes through as they come.
    expect(masked(await rawExchange(teedPort, requests[1]!))).toContain('\r\n\r\n4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n');

    await waitFor(() => received.length === 4, 10_000, 'four copies');
    const byUrl = new Map(received.map((r) => [`${r.method} ${r.url}`, r]));
    expect(byUrl.get('GET /head?q=1')).toMatchObject({ body: '', marked: true, headers: { 'x-trace': 't-1', [SHADOW_HEADER]: '1' } });
    expect(byUrl.get('GET /head?q=1')!.headers.host).not.toBe('primary');
    expect(byUrl.get('PUT /chunks')).toMatchObject({ body: 'hello', marked: true, headers: { 'content-type': 'text/plain', 'content-length': '5' } });
    expect(byUrl.get('POST /array')).toMatchObject({ body: 'abcde', marked: true });
    // The captured primary answers, as the comparison saw them.
    await waitFor(() => shadow.report().targets[0]!.compared === 4, 10_000, 'four comparisons');
    const differences = shadow.report().differences;
    expect(differences.find((d) => d.path === '/head?q=1')!.primary).toEqual({
      status: 201,
      headers: { 'content-type': 'application/json', 'x-version': '1' },
      body: { echo: '', url: '/head?q=1' },
    });
    expect(differences.find((d) => d.method === 'PUT')!.primary).toEqual({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'one,two,three' });
    expect(differences.find((d) => d.path === '/array')!.primary).toEqual({ status: 200, headers: { 'content-type': 'text/plain', 'x-version': '2' }, body: 'ABCDE' });
  });

  it('compares HEAD and 204 answers without the body node:http drops, and copies once however many adapters see the request', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry, (req, res) => {
      res.writeHead(req.url === '/empty' ? 204 : 200, { 'content-type': 'text/plain' });
      res.end();
    });
    const shadow = shadowOf(registry, { compare: true });
    const handler: RequestListener = (req, res) => {
      res.writeHead(req.url === '/empty' ? 204 : 200, { 'content-type': 'text/plain' });
      res.end('a body node:http does not send for HEAD or 204');
    };
    // The same shadow traffic twice on one server (a middleware and an adapter, say): one copy per request.
    const twice = shadowMiddleware(shadow)(shadowMiddleware(shadow)(handler));
    const port = await listen(createServer(twice));
    const head = await request(`http://127.0.0.1:${port}/head`, { method: 'HEAD' });
    expect(head.statusCode).toBe(200);
    await head.body.dump();
    const empty = await request(`http://127.0.0.1:${port}/empty`);
    expect(empty.statusCode).toBe(204);
    expect(await empty.body.text()).toBe('');
    await waitFor(() => shadow.report().targets[0]!.compared === 2, 10_000, 'two comparisons');
    expect(received.map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /head', 'GET /empty']);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 2, matches: 2, mismatches: 0 });
  });

  it('does not copy bodies over the limit (declared or chunked) nor bodies the handler left unread, and counts them', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry);
    const shadow = shadowOf(registry, { allowNonIdempotent: true, maxBodyBytes: 8 });
    const port = await listen(
      createServer(
        shadowMiddleware(shadow)((req, res) => {
          if (req.url === '/ignore-body') {
            res.end('answered without reading');
            return;
          }
          req.resume();
          req.on('end', () => res.end('ok'));
        }),
      ),
    );
    const url = `http://127.0.0.1:${port}`;
    expect((await request(`${url}/declared`, { method: 'POST', body: 'more than eight' })).statusCode).toBe(200);
    const chunked = await request(`${url}/chunked`, { method: 'POST', body: Readable.from(['abcdef', 'ghijkl']) });
    expect(await chunked.body.text()).toBe('ok');
    expect(await (await request(`${url}/ignore-body`, { method: 'POST', body: 'abc' })).body.text()).toBe('answered without reading');
    expect(await (await request(`${url}/fits`, { method: 'POST', body: 'abcdefgh' })).body.text()).toBe('ok');
    await waitFor(() => received.length === 1, 10_000, 'one copy');
    expect(received[0]).toMatchObject({ url: '/fits', body: 'abcdefgh' });
    expect(shadow.report()).toMatchObject({ sampled: 4, skipped: { body_too_large: 2, body_unavailable: 1 } });
  });

  it('the shadow side: isShadowRequest tells a copy, and a shadow teeing its own traffic never copies a copy', async () => {
    const registry = new InMemoryRegistry();
    const downstream = await shadowServer(registry);
    // The shadow tees to its own shadow (a chain): copies reaching it must stop there.
    const chained = createShadowTraffic({ registry, vip: 'next' });
    cleanups.push(() => chained.close());
    const sideEffects: string[] = [];
    const shadowPort = await listen(
      createServer(
        shadowMiddleware(chained)((req, res) => {
          if (!isShadowRequest(req)) sideEffects.push(req.url!);
          res.end('done');
        }),
      ),
    );
    await registry.register(descriptor('mid', 'middle', shadowPort), 'UP');
    const shadow = shadowOf(registry, { vip: 'middle' });
    const primaryPort = await listen(createServer(shadowMiddleware(shadow)((req, res) => res.end('primary'))));
    expect(await (await request(`http://127.0.0.1:${primaryPort}/charge`)).body.text()).toBe('primary');
    await waitFor(() => shadow.report().targets[0]!.sent === 1, 10_000, 'the copy');
    await waitFor(() => chained.report().sampled === 0 && shadow.report().targets[0]!.inFlight === 0, 10_000, 'the copy answered');
    expect(sideEffects).toEqual([]);
    expect(chained.report().sampled).toBe(0);
    expect(downstream).toEqual([]);
    // A request that is not a copy is handled with side effects, and copied on.
    expect(await (await request(`http://127.0.0.1:${shadowPort}/real`)).body.text()).toBe('done');
    expect(sideEffects).toEqual(['/real']);
    await waitFor(() => downstream.length === 1, 10_000, 'the chained copy');
  });
});

describe('shadow middleware (Express and Fastify)', () => {
  it('Express: the middleware before express.json copies the body the parser reads; the app answers as before', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry);
    const shadow = shadowOf(registry, { allowNonIdempotent: true, compare: true });
    const app = express();
    app.use(expressShadowMiddleware(shadow));
    app.use(express.json());
    app.post('/orders', (req, res) => {
      res.status(201).json({ total: (req.body as { qty: number }).qty * 3 });
    });
    app.get('/orders/:id', (req, res) => {
      res.set('x-id', req.params.id).send(`order ${req.params.id}`);
    });
    const port = await listen(createServer(app));
    const created = await request(`http://127.0.0.1:${port}/orders`, { method: 'POST', body: '{"qty":4}', headers: { 'content-type': 'application/json' } });
    expect(created.statusCode).toBe(201);
    expect(await created.body.json()).toEqual({ total: 12 });
    const got = await request(`http://127.0.0.1:${port}/orders/9`);
    expect(got.headers['x-id']).toBe('9');
    expect(await got.body.text()).toBe('order 9');
    await waitFor(() => received.length === 2, 10_000, 'two copies');
    expect(received.find((r) => r.method === 'POST')).toMatchObject({ url: '/orders', body: '{"qty":4}', marked: true });
    expect(received.find((r) => r.method === 'GET')).toMatchObject({ url: '/orders/9', body: '', marked: true });
    await waitFor(() => shadow.report().targets[0]!.compared === 2, 10_000, 'two comparisons');
    expect(shadow.report().differences.find((d) => d.method === 'POST')!.primary).toMatchObject({ status: 201, body: { total: 12 } });
  });

  it('Express: in a mounted router, where Express rewrites req.url, copies go to the path the client asked for', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry);
    const shadow = shadowOf(registry);
    const router = express.Router();
    router.use(expressShadowMiddleware(shadow));
    router.get('/stock', (req, res) => {
      res.send(`in stock (${req.url})`);
    });
    const app = express();
    app.use('/warehouse', router);
    const port = await listen(createServer(app));
    expect(await (await request(`http://127.0.0.1:${port}/warehouse/stock?sku=1`)).body.text()).toBe('in stock (/stock?sku=1)');
    await waitFor(() => received.length === 1, 10_000, 'the copy');
    expect(received[0]).toMatchObject({ method: 'GET', url: '/warehouse/stock?sku=1', marked: true });
  });

  it('Fastify: the onRequest hook copies requests and their bodies; replies are unchanged', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry, (_req, res) => {
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end('{"total":12}');
    });
    const shadow = shadowOf(registry, { allowNonIdempotent: true, compare: true });
    const app = Fastify();
    app.addHook('onRequest', fastifyShadowHook(shadow));
    app.post('/orders', async (req, reply) => reply.code(201).send({ total: (req.body as { qty: number }).qty * 3 }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const created = await request(`http://127.0.0.1:${port}/orders?src=test`, { method: 'POST', body: '{"qty":4}', headers: { 'content-type': 'application/json' } });
    expect(created.statusCode).toBe(201);
    expect(await created.body.json()).toEqual({ total: 12 });
    await waitFor(() => received.length === 1, 10_000, 'the copy');
    expect(received[0]).toMatchObject({ method: 'POST', url: '/orders?src=test', body: '{"qty":4}', marked: true });
    // Fastify sends its headers through writeHead: the comparison still sees them, and only the status differs.
    await waitFor(() => shadow.report().targets[0]!.compared === 1, 10_000, 'the comparison');
    expect(shadow.report().differences[0]).toMatchObject({
      fields: ['status'],
      primary: { status: 201, headers: { 'content-type': 'application/json; charset=utf-8' }, body: { total: 12 } },
      shadow: { status: 200, body: { total: 12 } },
    });
  });
});

describe('shadow admin routes', () => {
  async function admin(shadow: ShadowTraffic | (() => ShadowTraffic | undefined), token?: string): Promise<string> {
    const server = new AdminServer({} as AdminServiceView, resolveAdminOptions({ port: 0, host: '127.0.0.1', ...(token !== undefined && { token }) }));
    shadowAdminRoutes(server, shadow);
    await server.listen();
    cleanups.push(() => server.close());
    return server.url!;
  }

  async function call(url: string, method: 'GET' | 'PUT' = 'GET', body?: string, headers: Record<string, string> = {}) {
    const res = await request(url, { method, body: body ?? null, headers });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  }

  it('GET /shadow answers the shared contract; PUT {"enabled": false} is the kill switch; PUT needs the token', async () => {
    const registry = new InMemoryRegistry();
    const received = await shadowServer(registry, (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"price":12}');
    });
    const shadow = shadowOf(registry, { rate: 1, compare: true });
    const appPort = await listen(
      createServer(
        shadowMiddleware(shadow)((_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end('{"price":10}');
        }),
      ),
    );
    const url = await admin(shadow, 'secret');
    await (await request(`http://127.0.0.1:${appPort}/price`)).body.text();
    await waitFor(() => shadow.report().targets[0]!.compared === 1, 10_000, 'the comparison');

    const report = await call(`${url}/shadow`);
    expect(report.status).toBe(200);
    expect(report.json).toMatchObject({
      enabled: true,
      rate: 1,
      targets: [{ vip: 'next', sent: 1, dropped: 0, failed: 0, compared: 1, matches: 0, mismatches: 1 }],
      differences: [
        {
          method: 'GET',
          path: '/price',
          primary: { status: 200, headers: { 'content-type': 'application/json' }, body: { price: 10 } },
          shadow: { status: 200, headers: { 'content-type': 'application/json' }, body: { price: 12 } },
          fields: ['body.price'],
        },
      ],
    });
    const difference = (report.json.differences as { at: unknown }[])[0]!;
    expect(typeof difference.at).toBe('number');

    expect((await call(`${url}/shadow`, 'PUT', '{"enabled":false}')).status).toBe(401);
    const auth = { authorization: 'Bearer secret', 'content-type': 'application/json' };
    const killed = await call(`${url}/shadow`, 'PUT', '{"enabled":false}', auth);
    expect(killed).toMatchObject({ status: 200, json: { enabled: false } });
    await (await request(`http://127.0.0.1:${appPort}/price`)).body.text();
    expect((await call(`${url}/shadow`)).json).toMatchObject({ enabled: false, targets: [{ sent: 1 }] });
    expect(received).toHaveLength(1);

    expect(await call(`${url}/shadow`, 'PUT', '{"enabled":true,"rate":0.5}', auth)).toMatchObject({ status: 200, json: { enabled: true, rate: 0.5 } });
    expect(await call(`${url}/shadow`, 'PUT', '{"rate":2}', auth)).toMatchObject({ status: 400, json: { error: expect.stringMatching(/'rate' must be a number from 0 to 1/) } });
    expect(await call(`${url}/shadow`, 'PUT', '{"vip":"x"}', auth)).toMatchObject({ status: 400, json: { error: expect.stringMatching(/unknown field "vip"/) } });
    expect(await call(`${url}/shadow`, 'PUT', '{}', auth)).toMatchObject({ status: 400, json: { error: expect.stringMatching(/got neither/) } });
    expect(await call(`${url}/shadow`, 'PUT', '[1]', auth)).toMatchObject({ status: 400 });
    expect(await call(`${url}/shadow`, 'PUT', '{"enabled":"no"}', auth)).toMatchObject({ status: 400 });
  });

  it('answers 404 while the service has no shadow traffic', async () => {
    const service: { shadow?: ShadowTraffic } = {};
    const url = await admin(() => service.shadow);
    expect(await call(`${url}/shadow`)).toMatchObject({ status: 404, json: { error: 'no shadow traffic is configured' } });
    expect((await call(`${url}/shadow`, 'PUT', '{"enabled":false}')).status).toBe(404);
    service.shadow = shadowOf(new InMemoryRegistry());
    expect(await call(`${url}/shadow`)).toMatchObject({ status: 200, json: { enabled: true, targets: [{ vip: 'next', sent: 0 }] } });
  });
});
