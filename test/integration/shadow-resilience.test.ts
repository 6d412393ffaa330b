import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { Pool, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminServiceView } from 'karyon-ts/extend';
import { createService, createShadowTraffic, isShadowRequest, shadowMiddleware } from 'karyon-ts';
import { shadowAdminRoutes } from 'karyon-ts/extend';
import type { InstanceDescriptor, Service, ShadowTraffic, ShadowTrafficOptions } from 'karyon-ts';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { cleanupAfterEach } from '../support/cleanups.js';
import { freePort } from '../support/ports.js';

const cleanups = cleanupAfterEach();
const listen = cleanups.listen;

function descriptor(id: string, vip: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: vip.toUpperCase(), zone: 'z1', port });
}

function shadowOf(registry: InMemoryRegistry, options: Partial<ShadowTrafficOptions> = {}): ShadowTraffic {
  const shadow = createShadowTraffic({ registry, vip: 'next', ...options });
  cleanups.push(() => shadow.close());
  return shadow;
}

/** The primary: a JSON answer naming the request, so each answer can be checked exactly. */
const primaryHandler: RequestListener = (req, res) => {
  req.resume();
  req.on('end', () => {
    const body = JSON.stringify({ url: req.url, from: 'primary' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
};

/** A pool to the primary with enough connections for the whole burst at once. */
function poolTo(port: number): Pool {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 128 });
  cleanups.push(() => pool.close());
  return pool;
}

/** Sends `count` requests at once and checks that every answer is the primary's, exactly. */
async function burst(pool: Pool, count: number, prefix: string): Promise<void> {
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const response = await pool.request({ method: 'GET', path: `/${prefix}/${i}` });
      return { status: response.statusCode, type: response.headers['content-type'], body: await response.body.json() };
    }),
  );
  answers.forEach((answer, i) => expect(answer).toEqual({ status: 200, type: 'application/json', body: { url: `/${prefix}/${i}`, from: 'primary' } }));
}

/** Shadow clients that wait for held copies longer than any test runs, so a slow machine changes no count. */
const patient = { timeoutMs: 120_000, deadlineMs: 120_000 };

/** A shadow server that holds every request until released: a hung (or very slow) new version. */
async function holdingShadow(registry: InMemoryRegistry): Promise<{ held: ServerResponse[]; closed: () => number; release: () => void }> {
  const held: ServerResponse[] = [];
  let closed = 0;
  const server = createServer((req, res) => {
    req.resume();
    held.push(res);
    res.on('close', () => {
      if (!res.writableFinished) closed++;
    });
  });
  await registry.register(descriptor('hung', 'next', await listen(server)), 'UP');
  return {
    held,
    closed: () => closed,
    release: () => {
      for (const res of held) if (!res.writableEnded) res.end('late');
    },
  };
}

describe('a failing shadow never changes the primary', () => {
  it('a dead shadow (nothing listening): every primary answer is exact, the copies fail and are counted', async () => {
    const registry = new InMemoryRegistry();
    const deadPort = await freePort();
    await registry.register(descriptor('dead', 'next', deadPort), 'UP');
    const shadow = shadowOf(registry, { maxConcurrent: 4, maxQueue: 16 });
    const pool = poolTo(await listen(createServer(shadowMiddleware(shadow)(primaryHandler))));
    for (let round = 0; round < 5; round++) await burst(pool, 20, `dead${round}`);
    await waitFor(() => shadow.report().targets[0]!.inFlight + shadow.report().targets[0]!.queued === 0, 10_000, 'copies to settle');
    const target = shadow.report().targets[0]!;
    expect(target.sent + target.dropped).toBe(100);
    expect(target.failed).toBe(target.sent);
    expect(target.sent).toBeGreaterThan(0);
  });

  it('an erroring shadow (500s and connections reset before answering): every primary answer is exact', async () => {
    const registry = new InMemoryRegistry();
    let count = 0;
    const server = createServer((req, res) => {
      req.resume();
      if (count++ % 2 === 0) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"boom"}');
      } else {
        req.socket.destroy();
      }
    });
    await registry.register(descriptor('bad', 'next', await listen(server)), 'UP');
    const shadow = shadowOf(registry, { maxConcurrent: 8, maxQueue: 100, compare: true });
    const pool = poolTo(await listen(createServer(shadowMiddleware(shadow)(primaryHandler))));
    await burst(pool, 40, 'erroring');
    await waitFor(() => shadow.report().targets[0]!.sent === 40 && shadow.report().targets[0]!.inFlight === 0, 10_000, 'every copy');
    const target = shadow.report().targets[0]!;
    expect(target.compared + target.failed).toBe(40);
    expect(target.failed).toBeGreaterThan(0);
    expect(target.compared).toBeGreaterThan(0);
    expect(target.mismatches).toBe(target.compared);
    expect(shadow.report().differences.at(-1)!.fields).toEqual(['status', 'body.url', 'body.from', 'body.error']);
  });

  it('a shadow that hangs: every primary answer arrives while no copy is answered, and the bound holds under a burst', async () => {
    const registry = new InMemoryRegistry();
    const hung = await holdingShadow(registry);
    const shadow = shadowOf(registry, { maxConcurrent: 4, maxQueue: 8, client: patient });
    const pool = poolTo(await listen(createServer(shadowMiddleware(shadow)(primaryHandler))));
    // 100 requests at once: all answered by the primary while the shadow holds every copy it got.
    await burst(pool, 100, 'hung');
    await waitFor(() => hung.held.length === 4, 10_000, 'four copies at the shadow');
    expect(shadow.report().targets[0]).toMatchObject({ sent: 4, inFlight: 4, queued: 8, dropped: 88, failed: 0 });
    // Another burst while it is full: answered all the same, every copy dropped.
    await burst(pool, 50, 'full');
    expect(shadow.report().targets[0]).toMatchObject({ sent: 4, inFlight: 4, queued: 8, dropped: 138 });
    expect(hung.held).toHaveLength(4);
    // The shadow recovers: the queued copies go, four at a time.
    const release = setInterval(hung.release, 5);
    cleanups.push(() => clearInterval(release));
    await waitFor(() => shadow.report().targets[0]!.sent === 12 && shadow.report().targets[0]!.inFlight === 0, 10_000, 'the queue to drain');
    expect(hung.held).toHaveLength(12);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 12, dropped: 138, queued: 0, failed: 0 });
  });

  it('the kill switch through the admin API: queued copies dropped, copies in flight cut at the shadow, nothing copied after', async () => {
    const registry = new InMemoryRegistry();
    const hung = await holdingShadow(registry);
    const shadow = shadowOf(registry, { maxConcurrent: 4, maxQueue: 8, client: patient });
    const admin = new AdminServer({} as AdminServiceView, resolveAdminOptions({ port: 0, host: '127.0.0.1' }));
    shadowAdminRoutes(admin, shadow);
    await admin.listen();
    cleanups.push(() => admin.close());
    const pool = poolTo(await listen(createServer(shadowMiddleware(shadow)(primaryHandler))));
    await burst(pool, 30, 'before');
    await waitFor(() => hung.held.length === 4, 10_000, 'four copies at the shadow');

    const killed = await request(`${admin.url!}/shadow`, { method: 'PUT', body: '{"enabled":false}', headers: { 'content-type': 'application/json' } });
    expect(killed.statusCode).toBe(200);
    expect(await killed.body.json()).toMatchObject({ enabled: false, targets: [{ queued: 0 }] });
    await waitFor(() => hung.closed() === 4, 10_000, 'the shadow to see its four requests cut');
    expect(shadow.report().targets[0]).toMatchObject({ sent: 4, aborted: 4, dropped: 26, inFlight: 0, queued: 0 });
    await burst(pool, 30, 'after');
    expect(shadow.report().sampled).toBe(30);
    expect(hung.held).toHaveLength(4);
  });
});

describe('comparison against real servers', () => {
  /** An instance of the current version: answers vary by instance and by request, as real ones do. */
  function currentVersion(instanceId: string): RequestListener {
    return (req, res) => {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-served-by', instanceId);
      res.end(JSON.stringify({ item: req.url, price: 10, currency: 'EUR', servedBy: instanceId, requestId: randomUUID(), generatedAt: Date.now() }));
    };
  }

  it('finds a planted difference and leaves out configured and learned noise (second primary requests)', async () => {
    const registry = new InMemoryRegistry();
    let secondRequests = 0;
    const counted = (inner: RequestListener): RequestListener => (req, res) => {
      if (isShadowRequest(req)) secondRequests++;
      inner(req, res);
    };
    // The primary cluster: two instances of the current version; the teeing one is p1.
    const shadow = shadowOf(registry, {
      compare: { headers: ['content-type', 'x-served-by'], ignore: ['body.generatedAt'], noise: { vip: 'shop', rate: 1 } },
      client: { balancer: 'round-robin' },
    });
    const p1 = await listen(createServer(shadowMiddleware(shadow)(counted(currentVersion('p1')))));
    await registry.register(descriptor('p1', 'shop', p1), 'UP');
    await registry.register(descriptor('p2', 'shop', await listen(createServer(counted(currentVersion('p2'))))), 'UP');
    // The new version: same answers, but a price bug on item 2.
    const next = await listen(
      createServer((req, res) => {
        req.resume();
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-served-by', 'n1');
        const price = req.url === '/items/2' ? 12 : 10;
        res.end(JSON.stringify({ item: req.url, price, currency: 'EUR', servedBy: 'n1', requestId: randomUUID(), generatedAt: Date.now() + 5 }));
      }),
    );
    await registry.register(descriptor('n1', 'next', next), 'UP');

    const call = async (path: string): Promise<void> => {
      const response = await request(`http://127.0.0.1:${p1}${path}`);
      expect(await response.body.json()).toMatchObject({ item: path, price: 10, servedBy: 'p1' });
    };
    // Learning: second answers of the current version come from p1 and p2 in turn; what differs is noise.
    for (let i = 0; i < 4; i++) await call('/items/1');
    await waitFor(() => shadow.report().targets[0]!.compared === 4, 10_000, 'four comparisons');
    expect(secondRequests).toBe(4);
    const noise = shadow.report().noise!;
    expect(noise).toMatchObject({ vip: 'shop', rate: 1, sent: 4, failed: 0 });
    expect(Object.keys(noise.fields)).toEqual(expect.arrayContaining(['body.requestId', 'body.servedBy', 'headers.x-served-by']));
    expect(Object.keys(noise.fields)).not.toContain('body.price');

    await call('/items/1');
    await call('/items/2');
    await waitFor(() => shadow.report().targets[0]!.compared === 6, 10_000, 'six comparisons');
    const report = shadow.report();
    expect(report.targets[0]!.matches).toBeGreaterThanOrEqual(1);
    const planted = report.differences.at(-1)!;
    expect(planted).toMatchObject({ vip: 'next', method: 'GET', path: '/items/2', fields: ['body.price'] });
    expect(planted.primary.body).toMatchObject({ price: 10 });
    expect(planted.shadow.body).toMatchObject({ price: 12 });
    expect(report.ignored).toEqual(['body.generatedAt']);
  });

  it("tees a service client's calls (the client option): copies carry the marker, and what the caller read is compared", async () => {
    const registry = new InMemoryRegistry();
    const seen: { url: string; marked: boolean }[] = [];
    const recorded = (inner: RequestListener): RequestListener => (req, res) => {
      seen.push({ url: req.url!, marked: isShadowRequest(req) });
      inner(req, res);
    };
    await registry.register(descriptor('p1', 'shop', await listen(createServer(recorded(currentVersion('p1'))))), 'UP');
    await registry.register(
      descriptor(
        'n1',
        'next',
        await listen(
          createServer(
            recorded((req: IncomingMessage, res: ServerResponse) => {
              req.resume();
              res.setHeader('content-type', 'application/json');
              res.end(JSON.stringify({ item: req.url, price: 11, currency: 'EUR' }));
            }),
          ),
        ),
      ),
      'UP',
    );
    const caller: Service = createService({ name: 'caller', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    cleanups.push(() => caller.stop());
    await caller.start();
    const shadow = shadowOf(registry, { compare: { ignore: ['body.servedBy', 'body.requestId', 'body.generatedAt'] } });
    const shop = caller.client('shop', { shadow });
    const response = await shop.request({ path: '/items/3' });
    expect(response.instanceId).toBe('p1');
    expect(await response.body.json()).toMatchObject({ item: '/items/3', price: 10, servedBy: 'p1' });
    await waitFor(() => shadow.report().targets[0]!.compared === 1, 10_000, 'the comparison');
    expect(seen).toEqual([
      { url: '/items/3', marked: false },
      { url: '/items/3', marked: true },
    ]);
    expect(shadow.report().differences[0]).toMatchObject({ path: '/items/3', fields: ['body.price'] });
  });
});
