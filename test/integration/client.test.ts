import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodeFetch from 'node-fetch';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient } from 'karyon-ts';
import { registerInstancesRoute } from 'karyon-ts/extend';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { InstanceDescriptor, ServiceClient, ServiceClientOptions } from 'karyon-ts';
import type { AdminServiceView } from 'karyon-ts/extend';
import { InMemoryRegistry, ManualClock, testInstance } from 'karyon-ts/testing';

type Handler = (req: IncomingMessage, res: ServerResponse, server: TestServer) => void;

interface TestServer {
  readonly id: string;
  readonly port: number;
  readonly server: Server;
  hits: number;
  handler: Handler;
  close(): Promise<void>;
}

const answerWithId: Handler = (req, res, server) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => (body += chunk));
  req.on('end', () => {
    const text = JSON.stringify({ id: server.id, method: req.method, url: req.url, body, header: req.headers['x-test'] ?? null });
    res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': server.id });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(id: string, handler: Handler = answerWithId): Promise<TestServer> {
  const server = createServer((req, res) => {
    entry.hits++;
    entry.handler(req, res, entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const entry: TestServer = {
    id,
    port: (server.address() as AddressInfo).port,
    server,
    hits: 0,
    handler,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  cleanups.push(() => entry.close());
  return entry;
}

function descriptor(id: string, port: number, zone = 'z1', vip = 'greeter'): InstanceDescriptor {
  return testInstance({ instanceId: id, app: vip.toUpperCase(), zone, port });
}

async function fleet(count: number, options: ServiceClientOptions & { zone?: string } = {}, zones: string[] = []): Promise<{
  registry: InMemoryRegistry;
  servers: TestServer[];
  client: ServiceClient;
}> {
  const registry = new InMemoryRegistry();
  const servers: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    const server = await startServer(`i${i}`);
    servers.push(server);
    await registry.register(descriptor(server.id, server.port, zones[i] ?? 'z1'), 'UP');
  }
  const client = createServiceClient({ registry, vip: 'greeter', ...options });
  cleanups.push(() => client.close());
  return { registry, servers, client };
}

async function callMany(client: ServiceClient, count: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const response = await client.request({ path: '/' });
    const { id } = (await response.body.json()) as { id: string };
    expect(response.instanceId).toBe(id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

describe('service client against real servers', () => {
  it('round-robin spreads calls evenly over every UP instance, one keep-alive pool each', async () => {
    const { client, servers } = await fleet(3, { balancer: 'round-robin' });
    let connections = 0;
    for (const server of servers) server.server.on('connection', () => connections++);
    const counts = await callMany(client, 30);
    expect([...counts.values()]).toEqual([10, 10, 10]);
    expect(connections).toBe(3);
  });

  it('every built-in rule reaches every instance, and the rule changes live', async () => {
    const { client, servers } = await fleet(3, { balancer: 'random' });
    const ids = servers.map((server) => server.id).sort();
    const names = ['random', 'least-loaded', 'weighted-response-time', 'zone-avoidance', 'round-robin', 'p2c-ewma'] as const;
    for (const name of names) {
      client.setRule(name);
      expect(client.rule.name).toBe(name);
      if (name === 'p2c-ewma') {
        // p2c-ewma keeps to the fastest instances it has measured, so which ones 3 calls reach is a matter of
        // latency: each call is answered by one of the fleet.
        const counts = await callMany(client, 3);
        expect([...counts.values()].reduce((a, b) => a + b, 0), name).toBe(3);
        for (const id of counts.keys()) expect(ids, name).toContain(id);
      } else {
        const counts = await callMany(client, 60);
        expect([...counts.keys()].sort(), name).toEqual(ids);
      }
    }
  });

  it('p2c-ewma sends almost nothing to a slow instance once it has seen it', async () => {
    // The client measures latency on a manual clock that only the servers move, by the time each takes: what
    // the rule sees is then the servers' own latency (2 ms, and 150 ms for the slow one), whatever stalls the
    // machine adds to the real round trips, and the picks are seeded. The slow server really waits 150 ms too.
    const clock = new ManualClock();
    let seed = 42;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
    const { client, servers } = await fleet(4, { balancer: 'round-robin', clock, random });
    for (const server of servers.slice(0, 3)) {
      server.handler = (req, res, entry) => {
        clock.advance(2);
        answerWithId(req, res, entry);
      };
    }
    const slow = servers[3]!;
    slow.handler = (req, res, server) =>
      setTimeout(() => {
        clock.advance(150);
        answerWithId(req, res, server);
      }, 150);
    await callMany(client, 4); // one call each, so every instance has a latency sample
    client.setRule('p2c-ewma');
    const counts = await callMany(client, 100);
    // After one 150 ms answer the slow instance loses every comparison until its idle estimate decays to the
    // fast ones' (5 s time constant: about 20 s), far longer than the 100 calls take on the clock (about 0.2 s).
    expect(counts.get(slow.id) ?? 0).toBeLessThanOrEqual(2);
    const estimates = client.stats().instances.map((i) => i.ewmaMs ?? 0);
    expect(estimates[3]).toBeGreaterThan(Math.max(...estimates.slice(0, 3)));
  });

  it('prefers its own zone and follows the registry as instances come and go', async () => {
    const { client, registry, servers } = await fleet(4, { balancer: 'round-robin', zone: 'east' }, ['east', 'east', 'west', 'west']);
    expect(new Set((await callMany(client, 20)).keys())).toEqual(new Set(['i0', 'i1']));
    // One of two local instances left: fewer than 2 available, so every zone is used.
    await registry.deregister('i0');
    expect(new Set((await callMany(client, 30)).keys())).toEqual(new Set(['i1', 'i2', 'i3']));
    const late = await startServer('i4');
    await registry.register(descriptor(late.id, late.port, 'east'), 'UP');
    expect(new Set((await callMany(client, 20)).keys())).toEqual(new Set(['i1', 'i4']));
    // Not UP in the registry: no traffic.
    await registry.setStatus('i4', 'OUT_OF_SERVICE');
    const hits = late.hits;
    await callMany(client, 10);
    expect(late.hits).toBe(hits);
    expect(client.stats().instances.find((i) => i.instanceId === 'i4')).toMatchObject({ status: 'OUT_OF_SERVICE', state: 'not-up' });
    expect(servers[0]!.hits).toBeGreaterThan(0);
  });

  it('fetch() answers a WHATWG Response, bodies and headers both ways', async () => {
    const { client } = await fleet(2);
    const response = await client.fetch('/echo?x=1', {
      method: 'POST',
      headers: { 'x-test': 'yes', 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toMatchObject({ method: 'POST', url: '/echo?x=1', body: 'hello', header: 'yes' });
    const form = await client.fetch('/form', { method: 'PUT', body: new URLSearchParams({ a: '1', b: '2' }) });
    expect(await form.json()).toMatchObject({ method: 'PUT', body: 'a=1&b=2' });
    const head = await client.fetch('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    await expect(client.fetch('/', { body: 42 as unknown as string, method: 'POST' })).rejects.toThrow(/option 'body' must be a string, Uint8Array/);
  });

  it('takes node-fetch (or any fetch-compatible function) as its transport', async () => {
    const { client, servers } = await fleet(3, { transport: nodeFetch, balancer: 'round-robin' });
    const counts = await callMany(client, 9);
    expect([...counts.values()]).toEqual([3, 3, 3]);
    const posted = await client.request({ method: 'POST', path: '/p', body: Buffer.from('bytes'), headers: { 'x-test': ['a', 'b'] } });
    expect(await posted.body.json()).toMatchObject({ method: 'POST', body: 'bytes', header: 'a, b' });
    const response = await client.fetch('/f');
    expect(await response.json()).toMatchObject({ url: '/f' });
    // A refused connection through node-fetch is recognized too: retried elsewhere and ejected.
    await servers[0]!.close();
    for (let i = 0; i < 6; i++) expect((await client.request({ method: 'POST', path: '/' })).statusCode).toBe(200);
    expect(client.stats().instances.find((i) => i.instanceId === 'i0')!.state).toBe('ejected');
  });

  it('takes the global fetch as its transport', async () => {
    const { client } = await fleet(2, { transport: fetch });
    const response = await client.fetch('/g', { method: 'POST', body: 'x' });
    expect(await response.json()).toMatchObject({ method: 'POST', url: '/g', body: 'x' });
    const stream = await client.request({ path: '/s' });
    const chunks: Uint8Array[] = [];
    for await (const chunk of stream.body) chunks.push(chunk);
    expect(JSON.parse(Buffer.concat(chunks).toString('utf8'))).toMatchObject({ url: '/s' });
  });

  it('close() closes its pools: servers see their connections end', async () => {
    const { client, servers } = await fleet(2, { balancer: 'round-robin' });
    await callMany(client, 4);
    const open = (): Promise<number> =>
      Promise.all(servers.map((s) => new Promise<number>((resolve) => s.server.getConnections((_e, n) => resolve(n))))).then((n) =>
        n.reduce((a, b) => a + b, 0),
      );
    expect(await open()).toBe(2);
    await client.close();
    await client[Symbol.asyncDispose]();
    const deadline = Date.now() + 10_000;
    while ((await open()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await open()).toBe(0);
    expect(client.closed).toBe(true);
  });

  it('GET /instances on the admin server shows every instance with its balancer state and counts', async () => {
    const { client, servers } = await fleet(3, { balancer: 'round-robin', zone: 'z1' });
    await callMany(client, 6);
    await servers[2]!.close();
    // Round robin comes to i2 within three calls: refused, retried elsewhere, ejected. The callers see 200s.
    for (let i = 0; i < 3; i++) expect((await client.request({ path: '/' })).statusCode).toBe(200);
    const view: AdminServiceView = {
      status: () => {
        throw new Error('not used');
      },
      health: () => Promise.reject(new Error('not used')),
      setOperatorStatus: () => Promise.resolve(),
    };
    const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1' }));
    registerInstancesRoute(admin, () => [client]);
    await admin.listen();
    cleanups.push(() => admin.close());
    const report = (await (await fetch(`${admin.url!}/instances`)).json()) as {
      vips: Record<string, { rule: string; zone: string; requests: number; instances: Record<string, unknown>[] }[]>;
    };
    const [stats] = report.vips.greeter!;
    expect(stats).toMatchObject({ rule: 'round-robin', zone: 'z1', requests: 9, retries: 1, errors: 0 });
    const byId = Object.fromEntries(stats!.instances.map((i) => [i.instanceId, i]));
    expect(byId.i0).toMatchObject({ status: 'UP', zone: 'z1', state: 'active', pending: 0, ejectedUntil: null, failures: 0 });
    expect(byId.i0!.requests).toBeGreaterThanOrEqual(2);
    expect(typeof byId.i0!.ewmaMs).toBe('number');
    expect(byId.i2).toMatchObject({ state: 'ejected', failures: 1, timesEjected: 1 });
    expect(byId.i2!.ejectedUntil).toBeGreaterThan(Date.now());
  });
});
