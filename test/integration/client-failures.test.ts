import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient, isKaryonError } from 'karyon-ts';
import type { KaryonError } from 'karyon-ts';
import type { InstanceDescriptor, ServiceClient, ServiceClientOptions } from 'karyon-ts';
import { InMemoryRegistry, ManualClock, testInstance } from 'karyon-ts/testing';
import { killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

type Handler = (req: IncomingMessage, res: ServerResponse, server: TestServer) => void;

interface TestServer {
  readonly id: string;
  readonly port: number;
  readonly server: Server;
  hits: number;
  /** Requests whose connection closed before an answer was sent. */
  aborted: number;
  handler: Handler;
  close(): Promise<void>;
}

const ok: Handler = (req, res, server) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: server.id }));
  });
};
const hang: Handler = (req) => req.resume();
const status =
  (code: number): Handler =>
  (req, res) => {
    req.resume();
    res.writeHead(code).end(`status ${code}`);
  };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startServer(id: string, handler: Handler = ok): Promise<TestServer> {
  const server = createServer((req, res) => {
    entry.hits++;
    res.on('close', () => {
      if (!res.writableEnded) entry.aborted++;
    });
    entry.handler(req, res, entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const entry: TestServer = {
    id,
    port: (server.address() as AddressInfo).port,
    server,
    hits: 0,
    aborted: 0,
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

function descriptor(id: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: 'GREETER', zone: 'z1', port });
}

async function fleet(
  count: number,
  options: ServiceClientOptions = {},
): Promise<{ servers: TestServer[]; client: ServiceClient; registry: InMemoryRegistry }> {
  const registry = new InMemoryRegistry();
  const servers: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    const server = await startServer(`i${i}`);
    servers.push(server);
    await registry.register(descriptor(server.id, server.port), 'UP');
  }
  const client = createServiceClient({ registry, vip: 'greeter', balancer: 'round-robin', ...options });
  cleanups.push(() => client.close());
  return { servers, client, registry };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function instance(client: ServiceClient, id: string): ReturnType<ServiceClient['stats']>['instances'][number] {
  return client.stats().instances.find((i) => i.instanceId === id)!;
}

describe('retries and ejection', () => {
  it('retries a refused connection on another instance whatever the method, and ejects the dead one at once', async () => {
    const { client, servers } = await fleet(3);
    await servers[0]!.close();
    for (let i = 0; i < 9; i++) {
      const response = await client.request({ method: 'POST', path: '/orders', body: `order ${i}` });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
    }
    expect(instance(client, 'i0')).toMatchObject({ state: 'ejected', failures: 1, requests: 1 });
    expect(client.stats()).toMatchObject({ requests: 9, retries: 1, errors: 0 });
  });

  it('retries a 503 elsewhere for a GET, but hands a POST its 503', async () => {
    const { client, servers } = await fleet(2);
    servers[0]!.handler = status(503);
    const get = await client.request({ path: '/' });
    expect(get).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
    await get.body.dump();
    const post = await client.request({ method: 'POST', path: '/', body: 'x' });
    expect(post).toMatchObject({ statusCode: 503, instanceId: 'i0', tries: 1 });
    expect(await post.body.text()).toBe('status 503');
    await (await client.request({ path: '/' })).body.dump(); // i1: round robin is back on i0 next
    // idempotent: true makes a POST retryable.
    const idempotentPost = await client.request({ method: 'POST', path: '/', body: 'x', idempotent: true });
    expect(idempotentPost).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
  });

  it('hands over a 500 as it is, and ejects after 5 failures in a row', async () => {
    const { client, servers } = await fleet(5);
    servers[0]!.handler = status(500);
    let fiveHundreds = 0;
    for (let i = 0; i < 50; i++) {
      const response = await client.request({ path: '/' });
      if (response.statusCode === 500) fiveHundreds++;
      await response.body.dump();
    }
    expect(fiveHundreds).toBe(5);
    expect(instance(client, 'i0')).toMatchObject({ state: 'ejected', failures: 5, consecutiveFailures: 5 });
  });

  it('readmits an ejected instance on one successful probe once its ejection runs out', async () => {
    const clock = new ManualClock();
    const { client, servers } = await fleet(5, { clock });
    servers[0]!.handler = status(500);
    for (let i = 0; i < 25; i++) await (await client.request({ path: '/' })).body.dump();
    expect(instance(client, 'i0')).toMatchObject({ state: 'ejected', ejectedUntil: clock.now() + 30_000, timesEjected: 1 });
    servers[0]!.handler = ok; // healed, but nobody sends there while it is ejected
    const hits = servers[0]!.hits;
    for (let i = 0; i < 20; i++) await (await client.request({ path: '/' })).body.dump();
    expect(servers[0]!.hits).toBe(hits);
    clock.advance(30_000);
    for (let i = 0; i < 20; i++) await (await client.request({ path: '/' })).body.dump();
    expect(servers[0]!.hits).toBeGreaterThanOrEqual(hits + 4);
    expect(instance(client, 'i0')).toMatchObject({ state: 'active', ejectedUntil: null, consecutiveFailures: 0 });
  });

  it('never sends a stream body twice', async () => {
    const { client, servers } = await fleet(2);
    await servers[0]!.close();
    const error = await client.request({ method: 'PUT', path: '/', body: Readable.from(['a', 'b']) }).catch((e: unknown) => e);
    expect(isKaryonError(error, 'ERR_UPSTREAM')).toBe(true);
    expect((error as Error).message).toMatch(/could not connect to instance 'i0' of 'greeter' after 1 try: .*ECONNREFUSED/);
    expect(servers[1]!.hits).toBe(0);
  });

  it('a dependency that fails every request cannot have its load multiplied: the budget stops the retries', async () => {
    const clock = new ManualClock(); // time stands still: the budget's window never slides
    const unbudgeted = await fleet(2, { clock, outlierDetection: false, retries: { budget: false } });
    const budgeted = await fleet(2, { clock, outlierDetection: false });
    for (const server of [...unbudgeted.servers, ...budgeted.servers]) server.handler = status(503);
    const requests = 500;
    for (const { client } of [unbudgeted, budgeted]) {
      for (let i = 0; i < requests; i++) {
        const response = await client.request({ path: '/' });
        expect(response.statusCode).toBe(503);
        await response.body.dump();
      }
    }
    const hits = (servers: TestServer[]): number => servers.reduce((sum, s) => sum + s.hits, 0);
    // Without a budget every request is tried three times.
    expect(hits(unbudgeted.servers)).toBe(3 * requests);
    // With one: 20% of the requests plus the reserve of 100.
    expect(hits(budgeted.servers)).toBeLessThanOrEqual(requests + 0.2 * requests + 100);
    expect(hits(budgeted.servers)).toBeGreaterThan(requests + 100);
    expect(budgeted.client.stats().budgetExhausted).toBeGreaterThan(0);
    expect(budgeted.client.stats().retryBudget).toBe(0);
  });

  it('a retry that the budget refuses after a refused connection fails with ERR_RETRY_BUDGET_EXHAUSTED', async () => {
    const clock = new ManualClock();
    const { client, servers } = await fleet(2, { clock, retries: { budget: { ratio: 0, minRetriesPerSecond: 0 } } });
    await servers[0]!.close();
    const error = await client.request({ path: '/' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_RETRY_BUDGET_EXHAUSTED', instanceId: 'i0', service: 'greeter' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
  });
});

/** A TCP server that runs `onSocket` on each connection, closed after the test; resolves with its port. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** Reads a request's body, then runs `then`: the request was processed when the body was read. */
function afterBody(then: (req: IncomingMessage, res: ServerResponse, server: TestServer) => void): Handler {
  return (req, res, server) => {
    req.resume();
    req.on('end', () => then(req, res, server));
  };
}

describe('a request that may have been processed is never sent again unless idempotent', () => {
  it('before connecting (refused): any method goes elsewhere', async () => {
    const { client, servers } = await fleet(2);
    await servers[0]!.close();
    const response = await client.request({ method: 'POST', path: '/', body: 'x', idempotent: false });
    expect(response).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
    await response.body.dump();
    expect(servers[1]!.hits).toBe(1);
  });

  it('connected, but cut before the first byte was written (TLS handshake): any method goes elsewhere', async () => {
    const { client, servers, registry } = await fleet(1);
    // An instance reached over HTTPS whose TCP connection is cut during the handshake: no request byte left.
    const port = await tcpServer((socket) => socket.destroy());
    await registry.register({ ...descriptor('tls', 1), port: 1, portEnabled: false, securePort: port, securePortEnabled: true }, 'UP');
    await registry.deregister('i0');
    await registry.register(descriptor('i0', servers[0]!.port), 'UP'); // now listed after 'tls'
    const response = await client.request({ method: 'POST', path: '/', body: 'x', idempotent: false });
    expect(response).toMatchObject({ statusCode: 200, instanceId: 'i0', tries: 2 });
    await response.body.dump();
    expect(servers[0]!.hits).toBe(1);
  });

  it('connected, then reset as the request was written: a POST fails, a GET goes elsewhere', async () => {
    const { client, servers, registry } = await fleet(0);
    const port = await tcpServer((socket) => socket.destroy());
    await registry.register(descriptor('reset', port), 'UP');
    const server = await startServer('ok');
    await registry.register(descriptor('ok', server.port), 'UP');
    const error = await client.request({ method: 'POST', path: '/', body: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_UPSTREAM', instanceId: 'reset' });
    expect((error as Error).message).toMatch(/after 1 try/);
    expect(server.hits).toBe(0);
    expect(servers).toEqual([]);
    await (await client.request({ path: '/' })).body.dump(); // round robin: 'ok', so 'reset' is next
    const get = await client.request({ path: '/' });
    expect(get).toMatchObject({ statusCode: 200, instanceId: 'ok', tries: 2 });
    await get.body.dump();
  });

  it('after the body was read (the server then destroys the socket): each order is processed exactly once', async () => {
    const { client, servers } = await fleet(2, { outlierDetection: false });
    const orders: string[] = [];
    const record: Handler = (req, res, server) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        orders.push(`${server.id}:${body}`);
        if (server.id === 'i0') req.socket.destroy();
        else res.end('ok');
      });
    };
    for (const server of servers) server.handler = record;
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const result = await client.request({ method: 'POST', path: '/orders', body: `order ${i}`, idempotent: false }).then(
        async (response) => {
          await response.body.dump();
          return `${response.instanceId} ${response.tries}`;
        },
        (error: unknown) => `${(error as KaryonError).code} ${(error as KaryonError).instanceId}`,
      );
      outcomes.push(result);
    }
    // Round robin alternates: the orders i0 read were lost with its connection, never sent to i1 as well.
    expect(outcomes).toEqual(['ERR_UPSTREAM i0', 'i1 1', 'ERR_UPSTREAM i0', 'i1 1', 'ERR_UPSTREAM i0', 'i1 1', 'ERR_UPSTREAM i0', 'i1 1']);
    expect(orders).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((i) => `i${i % 2}:order ${i}`));
    // Declared idempotent, the same request is retried.
    const retried = await client.request({ method: 'POST', path: '/orders', body: 'again', idempotent: true });
    expect(retried).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
    await retried.body.dump();
  });

  it('after the response headers: the response is handed over, the cut body fails to read, nothing is retried', async () => {
    const { client, servers } = await fleet(2);
    servers[0]!.handler = afterBody((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('half', () => req.socket.destroy());
    });
    const response = await client.request({ method: 'POST', path: '/', body: 'x', idempotent: false });
    expect(response).toMatchObject({ statusCode: 200, instanceId: 'i0', tries: 1 });
    await expect(response.body.text()).rejects.toThrow();
    expect(servers[0]!.hits).toBe(1);
    expect(servers[1]!.hits).toBe(0);
  });

  it('an instance killed with requests in flight: its POSTs fail once, its GETs are retried elsewhere', async () => {
    const { client, registry } = await fleet(0, { timeoutMs: 20_000 });
    const child = spawn(process.execPath, [new URL('../fixtures/holding-server.mjs', import.meta.url).pathname], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    cleanups.push(() => {
      killTree(child);
    });
    const received: string[] = [];
    child.on('message', (message: string) => received.push(message));
    const [port] = (await once(child, 'message')) as [string];
    received.length = 0;
    await registry.register(descriptor('doomed', Number(port)), 'UP');
    const calls: Promise<string>[] = [];
    for (let i = 0; i < 4; i++) {
      for (const method of ['POST', 'GET']) {
        const body = method === 'POST' ? `order ${i}` : undefined;
        calls.push(
          client.request({ method, path: `/${method}/${i}`, ...(body !== undefined && { body }) }).then(
            async (response) => `${method} ${response.statusCode} ${response.instanceId} ${await response.body.text()}`,
            (error: unknown) => `${method} ${(error as KaryonError).code}`,
          ),
        );
      }
    }
    await waitFor(() => received.length === 8, 'every request to reach the instance');
    const survivor = await startServer('survivor', afterBody((req, res) => res.end(`${req.method} ${req.url}`)));
    await registry.register(descriptor('survivor', survivor.port), 'UP');
    child.kill('SIGKILL');
    const outcomes = (await Promise.all(calls)).sort();
    expect(outcomes).toEqual([
      ...[0, 1, 2, 3].map((i) => `GET 200 survivor GET /GET/${i}`),
      ...[0, 1, 2, 3].map(() => 'POST ERR_UPSTREAM'),
    ]);
    expect(survivor.hits).toBe(4); // the GETs only
  });
});

describe('timeouts, deadlines and cancellation', () => {
  it('times out a try that gets no answer, retries a GET elsewhere, and fails a POST with ERR_REQUEST_TIMEOUT', async () => {
    const { client, servers } = await fleet(2, { timeoutMs: 200 });
    servers[0]!.handler = hang;
    const get = await client.request({ path: '/' });
    expect(get).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
    await get.body.dump();
    // Round robin is back on i0, which still hangs.
    const error = await client.request({ method: 'POST', path: '/', body: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REQUEST_TIMEOUT', instanceId: 'i0', retryable: true });
    expect((error as Error).message).toBe("no response from instance 'i0' of 'greeter' after 1 try: no response headers within 200 ms");
    await waitFor(() => servers[0]!.aborted === 2, 'both timed-out tries to be cut');
  });

  it('a whole-call deadline bounds every retry together', async () => {
    const { client, servers } = await fleet(3, { timeoutMs: 250, deadlineMs: 400 });
    for (const server of servers) server.handler = hang;
    const started = Date.now();
    const error = await client.request({ path: '/' }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toMatchObject({ code: 'ERR_DEADLINE_EXCEEDED' });
    expect((error as Error).message).toMatch(/deadline exceeded after 2 tries/);
    expect(elapsed).toBeGreaterThanOrEqual(350);
    expect(elapsed).toBeLessThan(5_000);
  });

  it('an AbortSignal cancels the call and the request in flight', async () => {
    const { client, servers } = await fleet(2);
    servers[0]!.handler = hang;
    const controller = new AbortController();
    const call = client.request({ path: '/', signal: controller.signal });
    await waitFor(() => servers[0]!.hits === 1, 'the request to arrive');
    controller.abort(new Error('caller gave up'));
    await expect(call).rejects.toThrow('caller gave up');
    await waitFor(() => servers[0]!.aborted === 1, 'the server to see the request cut');
    expect(servers[1]!.hits).toBe(0);
    expect(instance(client, 'i0')).toMatchObject({ pending: 0, failures: 0, state: 'active' });
    const already = AbortSignal.abort(new Error('before'));
    await expect(client.request({ path: '/', signal: already })).rejects.toThrow('before');
  });
});

describe('cancelling a body', () => {
  it("the caller's signal also aborts a response body still being read", async () => {
    const { client, servers } = await fleet(1);
    servers[0]!.handler = (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk'); // and never the rest
    };
    const controller = new AbortController();
    const response = await client.request({ path: '/', signal: controller.signal });
    expect(response.statusCode).toBe(200);
    const reading = response.body.text();
    controller.abort(new Error('caller gave up on the body'));
    await expect(reading).rejects.toThrow('caller gave up on the body');
    await waitFor(() => servers[0]!.aborted === 1, 'the server to see the connection cut');
  });
});

describe('hedging', () => {
  async function warmed(options: ServiceClientOptions = {}): Promise<{ client: ServiceClient; servers: TestServer[] }> {
    const { client, servers } = await fleet(2, { hedging: { minSamples: 10 }, ...options });
    for (let i = 0; i < 40; i++) await (await client.request({ path: '/', hedge: false })).body.dump();
    return { client, servers };
  }

  it("sends a second copy after the instance's p95, takes the first answer and aborts the other", async () => {
    const { client, servers } = await warmed();
    servers[0]!.handler = hang; // round robin is on i0 next
    const response = await client.request({ path: '/' });
    expect(response).toMatchObject({ statusCode: 200, instanceId: 'i1', tries: 2 });
    await response.body.dump();
    expect(client.stats().hedges).toBe(1);
    await waitFor(() => servers[0]!.aborted === 1, 'the losing copy to be aborted');
    // The hedged loser is not a failure, but its wait raised its latency estimate.
    expect(instance(client, 'i0')).toMatchObject({ failures: 0, pending: 0, state: 'active' });
  });

  it('never hedges a POST', async () => {
    const { client, servers } = await warmed({ timeoutMs: 300 });
    servers[0]!.handler = hang;
    const error = await client.request({ method: 'POST', path: '/', body: 'x' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REQUEST_TIMEOUT' });
    expect(client.stats().hedges).toBe(0);
  });

  it('draws hedges from the retry budget', async () => {
    const clock = new ManualClock();
    const { client, servers } = await warmed({ clock, timeoutMs: 300, retries: { budget: { ratio: 0, minRetriesPerSecond: 0 } } });
    servers[0]!.handler = hang;
    const pending = client.request({ path: '/' }).catch((e: unknown) => e);
    await waitFor(() => servers[0]!.hits === 21, 'the request to reach i0');
    await clock.advanceAsync(1_000); // the hedge is due, but the budget is empty
    const error = await pending;
    expect(client.stats().hedges).toBe(0);
    expect(error).toMatchObject({ code: 'ERR_RETRY_BUDGET_EXHAUSTED' });
  });
});

describe('instances that get little traffic say why', () => {
  it('an instance answering 503 to 20% of requests is ejected by its success rate, and stats show share, error rate and cost', async () => {
    const clock = new ManualClock();
    const gauges = new Map<string, number[]>();
    const metrics = {
      request: () => undefined,
      retry: () => undefined,
      retryBudgetExhausted: () => undefined,
      hedge: () => undefined,
      ejection: () => undefined,
      instance: (_target: string, id: string, share: number, errorRate: number, cost: number) => gauges.set(id, [share, errorRate, cost]),
    };
    const { client, servers } = await fleet(5, { clock, balancer: 'p2c-ewma', metrics } as ServiceClientOptions);
    let calls = 0;
    servers[0]!.handler = (req, res, server) => (++calls % 5 === 0 ? status(503)(req, res, server) : ok(req, res, server));
    // Round robin, so that i0 keeps its share whatever its cost: the detector judges error rates, not latency.
    client.setRule('round-robin');
    for (let i = 0; i < 400; i++) await (await client.request({ path: '/' })).body.dump();
    const before = instance(client, 'i0');
    expect(before.state).toBe('active');
    expect(before.errorRate).toBeCloseTo(0.2, 1);
    expect(before.share).toBeGreaterThan(0.15);
    clock.advance(10_000); // the interval ends: the next pick judges it
    await (await client.request({ path: '/' })).body.dump();
    const after = instance(client, 'i0');
    expect(after).toMatchObject({ state: 'ejected', ejectionReason: 'success-rate' });
    // The same figures went to the metrics when the interval ended.
    expect(gauges.get('i0')![1]).toBeCloseTo(0.2, 1);
    expect(gauges.get('i0')![0]).toBeGreaterThan(0.15);
    expect(instance(client, 'i1')).toMatchObject({ state: 'active', ejectionReason: null, errorRate: 0, cost: null }); // round robin has none
    client.setRule('p2c-ewma');
    expect(instance(client, 'i1').cost).toEqual(expect.any(Number));
  });

  it('instances failing alike are not ejected for their success rate', async () => {
    const clock = new ManualClock();
    const { client, servers } = await fleet(4, { clock });
    let calls = 0;
    for (const server of servers) server.handler = (req, res, s) => (++calls % 5 === 0 ? status(500)(req, res, s) : ok(req, res, s));
    for (let i = 0; i < 400; i++) await (await client.request({ path: '/' })).body.dump();
    clock.advance(10_000);
    await (await client.request({ path: '/' })).body.dump();
    for (const server of servers) expect(instance(client, server.id)).toMatchObject({ state: 'active', ejectionReason: null });
  });
});
