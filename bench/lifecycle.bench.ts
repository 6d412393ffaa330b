// Lifecycle costs against plain node:http doing the same, measured in the same run:
//  1. start(): from the call until UP (empty hooks, admin server and app server listening, registered in an
//     in-memory registry), against createServer().listen(0) until listening.
//  2. stop() with 1000 idle keep-alive connections: from the call until every connection is closed, against
//     a plain server's close() + closeIdleConnections() until its 'close' event.
// Run: npx tsx bench/lifecycle.bench.ts
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Agent, request } from 'undici';
import { createService } from '../src/index.js';
import { InMemoryRegistry } from '../src/testing/index.js';
import { fmt, median, since, table } from './support.js';

const ROUNDS = 30;
const CONNECTIONS = 1000;

function handler(_req: unknown, res: { end(body: string): void }): void {
  res.end('ok');
}

async function plainStart(): Promise<{ ms: number; server: Server }> {
  const started = performance.now();
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { ms: since(started), server };
}

/** The same sockets the service binds: an app server and an admin server. */
async function plainTwoStart(): Promise<{ ms: number; servers: Server[] }> {
  const started = performance.now();
  const servers = [createServer(handler), createServer(handler)];
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  return { ms: since(started), servers };
}

async function serviceStart(registry: InMemoryRegistry) {
  const started = performance.now();
  const service = createService({
    name: 'bench',
    server: createServer(handler),
    port: 0,
    host: '127.0.0.1',
    registry,
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: 0 },
  });
  service.onInitialize(() => undefined);
  await service.start();
  return { ms: since(started), service };
}

async function openIdleConnections(port: number): Promise<Agent> {
  const agent = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 120_000, pipelining: 1 });
  await Promise.all(
    Array.from({ length: CONNECTIONS }, () =>
      request(`http://127.0.0.1:${port}/`, { dispatcher: agent }).then((r) => r.body.text()),
    ),
  );
  return agent;
}

function countConnections(server: Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((_error, count) => resolve(count)));
}

async function main(): Promise<void> {
  const registry = new InMemoryRegistry();
  // Warm up both paths.
  for (let i = 0; i < 5; i++) {
    const p = await plainStart();
    p.server.close();
    const s = await serviceStart(registry);
    await s.service.stop();
  }

  const plainStarts: number[] = [];
  const plainTwoStarts: number[] = [];
  const serviceStarts: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const p = await plainStart();
    plainStarts.push(p.ms);
    p.server.close();
    const two = await plainTwoStart();
    plainTwoStarts.push(two.ms);
    for (const server of two.servers) server.close();
    const s = await serviceStart(registry);
    serviceStarts.push(s.ms);
    await s.service.stop();
  }

  const plainStops: number[] = [];
  const serviceStops: number[] = [];
  for (let i = 0; i < 5; i++) {
    {
      const { server } = await plainStart();
      const agent = await openIdleConnections((server.address() as { port: number }).port);
      const open = await countConnections(server);
      const started = performance.now();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      plainStops.push(since(started));
      if (open < CONNECTIONS) throw new Error(`only ${open} connections were open`);
      await agent.close();
    }
    {
      const { service } = await serviceStart(registry);
      const agent = await openIdleConnections(service.instance!.port);
      const started = performance.now();
      await service.stop();
      serviceStops.push(since(started));
      await agent.close();
    }
  }

  const startRatio = median(serviceStarts) / median(plainStarts);
  const stopRatio = median(serviceStops) / median(plainStops);
  table('Lifecycle against plain node:http (median ms; ratio = service / plain)', [
    {
      measure: 'start() to UP, empty hooks',
      'plain node:http': fmt(median(plainStarts), 3),
      'karyon-ts service': fmt(median(serviceStarts), 3),
      ratio: fmt(startRatio),
    },
    {
      measure: 'start() to UP vs two plain servers (app + admin)',
      'plain node:http': fmt(median(plainTwoStarts), 3),
      'karyon-ts service': fmt(median(serviceStarts), 3),
      ratio: fmt(median(serviceStarts) / median(plainTwoStarts)),
    },
    {
      measure: `stop() with ${CONNECTIONS} idle keep-alive connections`,
      'plain node:http': fmt(median(plainStops), 3),
      'karyon-ts service': fmt(median(serviceStops), 3),
      ratio: fmt(stopRatio),
    },
  ]);
  console.log(
    'The service start also binds the admin server and registers the instance; its stop also runs the\n' +
      'lifecycle (registry DOWN, hooks, deregister) and closes the admin server.',
  );
}

await main();
