import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { RETRIES_ELSEWHERE_HEADER, SHADOW_HEADER, createMetrics, createServiceClient, createShadowTraffic, isShadowRequest } from 'karyon-ts';
import { shadowMetrics } from 'karyon-ts/extend';
import type { FetchFunction, FetchInit, InstanceDescriptor, ServiceClient, ShadowTraffic, ShadowTrafficOptions } from 'karyon-ts';
import { InMemoryRegistry, ManualClock, testInstance } from 'karyon-ts/testing';

/** One request a scripted peer received. */
interface Call {
  readonly port: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly signal: AbortSignal;
}

type Answer = Response | Promise<Response>;

/**
 * Peers scripted by port behind a fetch function: what the clients under test send, and what they get
 * back. An answer held by the test is rejected when the request's signal aborts, as a real fetch does.
 */
class ScriptedPeers {
  readonly calls: Call[] = [];
  readonly #handlers = new Map<number, (call: Call) => Answer>();

  on(port: number, handler: (call: Call) => Answer): void {
    this.#handlers.set(port, handler);
  }

  callsTo(port: number): Call[] {
    return this.calls.filter((call) => call.port === port);
  }

  readonly fetch: FetchFunction = async (url: string, init: FetchInit) => {
    const parsed = new URL(url);
    const port = Number(parsed.port);
    const body = init.body === undefined ? undefined : Buffer.isBuffer(init.body) ? init.body.toString('utf8') : init.body;
    const call: Call = { port, method: init.method, path: parsed.pathname + parsed.search, headers: init.headers, body, signal: init.signal };
    this.calls.push(call);
    const handler = this.#handlers.get(port);
    if (handler === undefined) throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED' });
    const answer = Promise.resolve(handler(call));
    return new Promise<Response>((resolve, reject) => {
      const onAbort = (): void => reject(Object.assign(new Error('This operation was aborted'), { name: 'AbortError' }));
      if (init.signal.aborted) onAbort();
      init.signal.addEventListener('abort', onAbort, { once: true });
      answer.then(resolve, reject);
    });
  };
}

/** A promise the test resolves. */
function held<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

function descriptor(id: string, vip: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: vip.toUpperCase(), zone: 'z1', port });
}

const PRIMARY = 1001;
const SHADOW = 2001;
const OTHER_SHADOW = 2002;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface Setup {
  readonly clock: ManualClock;
  readonly peers: ScriptedPeers;
  readonly registry: InMemoryRegistry;
  readonly shadow: ShadowTraffic;
  readonly client: ServiceClient;
}

async function setup(options: Partial<ShadowTrafficOptions> = {}): Promise<Setup> {
  const clock = new ManualClock();
  const peers = new ScriptedPeers();
  const registry = new InMemoryRegistry();
  await registry.register(descriptor('p1', 'greeter', PRIMARY), 'UP');
  await registry.register(descriptor('s1', 'next', SHADOW), 'UP');
  await registry.register(descriptor('s2', 'other', OTHER_SHADOW), 'UP');
  peers.on(PRIMARY, () => jsonResponse({ from: 'primary' }));
  peers.on(SHADOW, () => jsonResponse({ from: 'shadow' }));
  peers.on(OTHER_SHADOW, () => jsonResponse({ from: 'other' }));
  const shadow = createShadowTraffic({ registry, vip: 'next', clock, client: { transport: peers.fetch }, ...options });
  const client = createServiceClient({ registry, vip: 'greeter', clock, transport: peers.fetch, retries: false, shadow });
  closers.push(() => shadow.close(), () => client.close());
  return { clock, peers, registry, shadow, client };
}

/** Lets copies queued with setImmediate start, and their promises settle. */
async function settle(clock: ManualClock): Promise<void> {
  await clock.advanceAsync(0);
}

async function get(client: ServiceClient, path = '/', headers: Record<string, string> = {}): Promise<unknown> {
  const response = await client.request({ path, headers });
  return response.body.json();
}

describe('shadow traffic: copies', () => {
  it('copies a client call with the marker, its method, path, headers and body, and hands the caller the primary answer', async () => {
    const { clock, peers, client } = await setup();
    const response = await client.request({
      method: 'PUT',
      path: '/items/1?full=1',
      headers: { 'Content-Type': 'application/json', Connection: 'keep-alive', Host: 'greeter.internal', 'X-Trace': 't-1', 'content-length': '7' },
      body: '{"a":1}',
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ from: 'primary' });
    await settle(clock);
    const [copy] = peers.callsTo(SHADOW);
    expect(copy).toMatchObject({ method: 'PUT', path: '/items/1?full=1', body: '{"a":1}' });
    // The shadow's own client does not retry (retries: false), so it does not ask a leaving instance to refuse it.
    expect(copy!.headers).toEqual({ 'content-type': 'application/json', 'x-trace': 't-1', [SHADOW_HEADER]: '1' });
    expect(copy!.headers).not.toHaveProperty(RETRIES_ELSEWHERE_HEADER);
    expect(isShadowRequest(copy!.headers)).toBe(true);
    expect(isShadowRequest(peers.callsTo(PRIMARY)[0]!.headers)).toBe(false);
  });

  it('copies requests whose primary call failed, and copies to every shadow VIP', async () => {
    const { clock, peers, client, registry } = await setup({ vip: ['next', 'other'] });
    await registry.deregister('p1');
    await expect(client.request({ path: '/gone' })).rejects.toMatchObject({ code: 'ERR_NO_INSTANCES' });
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/gone']);
    expect(peers.callsTo(OTHER_SHADOW).map((c) => c.path)).toEqual(['/gone']);
    // A call the client refuses itself (closed, or a bad request) was never made: it is not copied.
    await expect(client.request({ path: '/x', method: 'BAD METHOD' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    await client.close();
    await expect(client.request({ path: '/closed' })).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/gone']);
  });

  it('copies the bytes of a Uint8Array body as they were when the call started', async () => {
    const { clock, peers, client } = await setup();
    const bytes = Buffer.from('original');
    const pending = client.request({ method: 'PUT', path: '/b', body: bytes });
    bytes.write('changed!');
    await (await pending).body.dump();
    await settle(clock);
    expect(peers.callsTo(SHADOW)[0]!.body).toBe('original');
  });
});

describe('shadow traffic: what is copied', () => {
  it('samples by rate with the injected random source', async () => {
    const draws = [0.05, 0.5, 0.09, 0.95];
    const { clock, peers, client, shadow } = await setup({ rate: 0.1, random: () => draws.shift() ?? 0.99 });
    for (let i = 0; i < 4; i++) await get(client, `/r${i}`);
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/r0', '/r2']);
    expect(shadow.report()).toMatchObject({ rate: 0.1, sampled: 2 });
  });

  it('copies idempotent methods only, unless allowed or the call says it is idempotent', async () => {
    const { clock, peers, client, shadow } = await setup();
    for (const method of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'POST', 'PATCH']) await (await client.request({ method, path: `/${method}` })).body.dump();
    await (await client.request({ method: 'POST', path: '/search', idempotent: true })).body.dump();
    await (await client.request({ method: 'GET', path: '/not', idempotent: false })).body.dump();
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/GET', '/HEAD', '/OPTIONS', '/PUT', '/DELETE', '/search']);
    shadow.setOptions({ allowNonIdempotent: true });
    await (await client.request({ method: 'post', path: '/order', body: 'x' })).body.dump();
    await settle(clock);
    expect(peers.callsTo(SHADOW).at(-1)).toMatchObject({ method: 'POST', path: '/order', body: 'x' });
  });

  it('filters by route (method, prefix, pattern on the path without the query) and by headers', async () => {
    const { clock, peers, client } = await setup({
      routes: [{ prefix: '/api/', methods: ['get'] }, { pattern: '^/v\\d+/items$' }],
      headers: { 'x-canary': false, 'user-agent': /mobile/i, 'x-tenant': 'acme' },
    });
    const ok = { 'User-Agent': 'Mobile Safari', 'x-tenant': 'acme' };
    await get(client, '/api/a?x=1', ok);
    await get(client, '/v2/items?page=3', ok);
    await get(client, '/v2/items/7', ok);
    await get(client, '/other', ok);
    await get(client, '/api/b', { ...ok, 'X-Canary': '1' });
    await get(client, '/api/c', { 'user-agent': 'curl', 'x-tenant': 'acme' });
    await get(client, '/api/d', { 'user-agent': 'mobile', 'x-tenant': 'other' });
    await (await client.request({ method: 'DELETE', path: '/api/e', headers: ok })).body.dump();
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/api/a?x=1', '/v2/items?page=3']);
  });

  it('never copies a request that already carries the marker, so copies are not copied again', async () => {
    const { clock, peers, client, shadow } = await setup();
    await get(client, '/copy', { 'X-Karyon-Shadow': '1' });
    await settle(clock);
    expect(peers.callsTo(SHADOW)).toEqual([]);
    expect(shadow.report().sampled).toBe(0);
  });

  it('does not copy bodies over the limit nor streamed bodies, and counts them', async () => {
    const { clock, peers, client, shadow } = await setup({ maxBodyBytes: 4 });
    await (await client.request({ method: 'PUT', path: '/small', body: 'abcd' })).body.dump();
    await (await client.request({ method: 'PUT', path: '/large', body: 'abcde' })).body.dump();
    await (await client.request({ method: 'PUT', path: '/large-bytes', body: Buffer.from('abcdef') })).body.dump();
    await (await client.request({ method: 'PUT', path: '/stream', body: Readable.from(['ab']) })).body.dump();
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/small']);
    expect(peers.callsTo(PRIMARY)).toHaveLength(4);
    expect(shadow.report()).toMatchObject({ sampled: 4, skipped: { body_too_large: 2, body_unavailable: 1 } });
  });
});

describe('shadow traffic: bounds and the kill switch', () => {
  it('holds at most maxConcurrent copies in flight and maxQueue waiting; the rest are dropped and counted, never waited for', async () => {
    const { clock, peers, client, shadow } = await setup({ maxConcurrent: 2, maxQueue: 3 });
    const answers: ((response: Response) => void)[] = [];
    peers.on(SHADOW, () => {
      const answer = held<Response>();
      answers.push(answer.resolve);
      return answer.promise;
    });
    for (let i = 0; i < 10; i++) expect(await get(client, `/${i}`)).toEqual({ from: 'primary' });
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/0', '/1']);
    expect(shadow.report().targets).toEqual([
      { vip: 'next', sent: 2, dropped: 5, failed: 0, aborted: 0, compared: 0, matches: 0, mismatches: 0, inFlight: 2, queued: 3, breaker: 'CLOSED' },
    ]);
    answers[0]!(jsonResponse({}));
    await settle(clock);
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/0', '/1', '/2']);
    // A slot is free again only when a copy ends: one more call fits, the next does not.
    await get(client, '/10');
    await get(client, '/11');
    for (let i = 1; i < 10; i++) {
      answers[i]?.(jsonResponse({}));
      await settle(clock);
    }
    expect(peers.callsTo(SHADOW).map((c) => c.path)).toEqual(['/0', '/1', '/2', '/3', '/4', '/10']);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 6, dropped: 6, inFlight: 0, queued: 0 });
  });

  it('the kill switch stops teeing at once: queued copies are dropped, copies in flight aborted, new calls not copied', async () => {
    const { clock, peers, client, shadow } = await setup({ maxConcurrent: 2, maxQueue: 3 });
    peers.on(SHADOW, () => held<Response>().promise);
    for (let i = 0; i < 5; i++) await get(client, `/${i}`);
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 2, inFlight: 2, queued: 3 });
    shadow.setOptions({ enabled: false });
    expect(peers.callsTo(SHADOW).every((call) => call.signal.aborted)).toBe(true);
    await settle(clock);
    expect(shadow.enabled).toBe(false);
    expect(shadow.report()).toMatchObject({ enabled: false, targets: [{ sent: 2, dropped: 3, aborted: 2, failed: 0, inFlight: 0, queued: 0 }] });
    expect(await get(client, '/after')).toEqual({ from: 'primary' });
    await settle(clock);
    expect(peers.callsTo(SHADOW)).toHaveLength(2);
    expect(shadow.report().sampled).toBe(5);

    peers.on(SHADOW, () => jsonResponse({}));
    shadow.setOptions({ enabled: true });
    await get(client, '/again');
    await settle(clock);
    expect(peers.callsTo(SHADOW).at(-1)!.path).toBe('/again');
  });

  it('the kill switch also holds for a call answered after it was thrown', async () => {
    const { clock, peers, client, shadow } = await setup();
    const primary = held<Response>();
    peers.on(PRIMARY, () => primary.promise);
    const pending = client.request({ path: '/slow' });
    await settle(clock);
    shadow.setOptions({ enabled: false });
    primary.resolve(jsonResponse({ from: 'primary' }));
    expect(await (await pending).body.json()).toEqual({ from: 'primary' });
    await settle(clock);
    expect(peers.callsTo(SHADOW)).toEqual([]);
  });

  it('applies lower limits and changed VIPs live', async () => {
    const { clock, peers, client, shadow } = await setup({ maxConcurrent: 1, maxQueue: 5 });
    peers.on(SHADOW, () => held<Response>().promise);
    for (let i = 0; i < 6; i++) await get(client, `/${i}`);
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ inFlight: 1, queued: 5, dropped: 0 });
    shadow.setOptions({ maxQueue: 2 });
    expect(shadow.report().targets[0]).toMatchObject({ inFlight: 1, queued: 2, dropped: 3 });

    shadow.setOptions({ vip: 'other' });
    expect(peers.callsTo(SHADOW)[0]!.signal.aborted).toBe(true);
    await get(client, '/moved');
    await settle(clock);
    expect(peers.callsTo(OTHER_SHADOW).map((c) => c.path)).toEqual(['/moved']);
    expect(shadow.report().targets.map((t) => t.vip)).toEqual(['other']);
  });

  it("a dead shadow opens its client's breaker: copies then fail at once, without a connection attempt, until a probe", async () => {
    const { clock, peers, client, shadow, registry } = await setup({ vip: 'gone' });
    await registry.register(descriptor('g1', 'gone', 4001), 'UP'); // nothing answers on 4001: refused
    for (let i = 0; i < 30; i++) {
      await get(client, `/${i}`);
      await settle(clock);
    }
    // Hystrix's defaults: 20 calls in the window, half of them failing, open the circuit.
    expect(peers.callsTo(4001)).toHaveLength(20);
    expect(shadow.report().targets[0]).toMatchObject({ vip: 'gone', sent: 30, failed: 30, breaker: 'OPEN' });
    await clock.advanceAsync(5000); // the sleep window: the next copy is the probe
    await get(client, '/probe');
    await settle(clock);
    expect(peers.callsTo(4001)).toHaveLength(21);
    expect(shadow.report().targets[0]).toMatchObject({ failed: 31, breaker: 'OPEN' });

    const unguarded = createShadowTraffic({ registry, vip: 'gone', clock, client: { transport: peers.fetch, breaker: false } });
    closers.push(() => unguarded.close());
    const guardedCalls = peers.callsTo(4001).length;
    for (let i = 0; i < 30; i++) {
      await unguarded.teeCall({ path: '/u' }, () => client.request({ path: '/u' }));
      await settle(clock);
    }
    expect(peers.callsTo(4001).length - guardedCalls).toBe(30);
    expect(unguarded.report().targets[0]).toMatchObject({ failed: 30, breaker: null });
  });

  it('rejects bad settings, naming them, and keeps the settings in force', async () => {
    const { shadow } = await setup();
    expect(() => shadow.setOptions({ rate: 2 })).toThrow(/option 'shadow.rate' must be a number from 0 to 1 \(got 2\)/);
    expect(() => shadow.setOptions({ maxConcurrent: 0 })).toThrow(/option 'shadow.maxConcurrent' must be a positive integer/);
    expect(() => shadow.setOptions({ maxQueue: -1 })).toThrow(/option 'shadow.maxQueue' must be a non-negative integer/);
    expect(() => shadow.setOptions({ vip: [] })).toThrow(/option 'shadow.vip' must be a VIP address or a non-empty array/);
    expect(() => shadow.setOptions({ routes: [{ prefix: 'api' }] })).toThrow(/option 'shadow.routes\[0\].prefix' must be a path prefix starting with '\/'/);
    expect(() => shadow.setOptions({ routes: [{ pattern: '(' }] })).toThrow(/option 'shadow.routes\[0\].pattern' must be a valid regular expression/);
    expect(() => shadow.setOptions({ headers: { 'x-a': 3 as unknown as string } })).toThrow(/option 'shadow.headers.x-a' must be a string, a RegExp or a boolean/);
    expect(() => shadow.setOptions({ compare: { noise: { vip: '' } } })).toThrow(/option 'shadow.compare.noise.vip' must be a non-empty VIP address/);
    expect(() => shadow.setOptions({ enabled: 'no' as unknown as boolean })).toThrow(/option 'shadow.enabled' must be a boolean/);
    expect(shadow.settings).toMatchObject({ rate: 1, maxConcurrent: 16, maxQueue: 64, maxBodyBytes: 65_536, enabled: true, vips: ['next'], compare: undefined });
    expect(() => createShadowTraffic({ vip: 'next' } as ShadowTrafficOptions)).toThrow(/option 'shadow.registry' must be a ServiceRegistry/);
    expect(() => createServiceClient({ registry: new InMemoryRegistry(), vip: 'x', shadow: {} as ShadowTraffic })).toThrow(/option 'shadow' must be a ShadowTraffic/);
  });

  it('close() is idempotent, aborts copies in flight, and calls after it are not copied', async () => {
    const { clock, peers, client, shadow } = await setup();
    peers.on(SHADOW, () => held<Response>().promise);
    await get(client, '/1');
    await settle(clock);
    const closing = shadow.close();
    expect(shadow.close()).toBe(closing);
    await closing;
    expect(peers.callsTo(SHADOW)[0]!.signal.aborted).toBe(true);
    expect(await get(client, '/2')).toEqual({ from: 'primary' });
    await settle(clock);
    expect(peers.callsTo(SHADOW)).toHaveLength(1);
    expect(shadow.report()).toMatchObject({ enabled: false, targets: [{ aborted: 1 }] });
  });
});

describe('shadow traffic: comparison of client calls', () => {
  it('finds a planted difference, leaves out ignored fields and noise learned from a second primary request', async () => {
    let request = 0;
    const { clock, peers, client, shadow } = await setup({ compare: { ignore: ['body.servedBy'], noise: { vip: 'greeter', rate: 1 } } });
    peers.on(PRIMARY, () => jsonResponse({ price: 10, requestId: `r${++request}`, servedBy: 'p1' }));
    peers.on(SHADOW, () => jsonResponse({ price: 12, requestId: 'shadow', servedBy: 's1' }));
    const response = await client.request({ path: '/price/7' });
    expect(await response.body.json()).toEqual({ price: 10, requestId: 'r1', servedBy: 'p1' });
    expect(response.instanceId).toBe('p1');
    await settle(clock);
    // The second primary request is itself a marked copy.
    expect(peers.callsTo(PRIMARY).map((c) => c.headers[SHADOW_HEADER])).toEqual([undefined, '1']);
    const report = shadow.report();
    expect(report.targets[0]).toMatchObject({ sent: 1, compared: 1, matches: 0, mismatches: 1 });
    expect(report.noise).toMatchObject({ vip: 'greeter', rate: 1, sent: 1, failed: 0, fields: { 'body.requestId': 1 } });
    expect(report.differences).toEqual([
      {
        at: clock.now(),
        vip: 'next',
        method: 'GET',
        path: '/price/7',
        primary: { status: 200, headers: { 'content-type': 'application/json' }, body: { price: 10, requestId: 'r1', servedBy: 'p1' } },
        shadow: { status: 200, headers: { 'content-type': 'application/json' }, body: { price: 12, requestId: 'shadow', servedBy: 's1' } },
        fields: ['body.price'],
      },
    ]);

    peers.on(SHADOW, () => jsonResponse({ price: 10, requestId: 'shadow', servedBy: 's1' }));
    await get(client, '/price/7');
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 2, matches: 1, mismatches: 1 });
  });

  it('compares what the caller read, however it read it (text, bytes, iteration, fetch)', async () => {
    const { clock, peers, client, shadow } = await setup({ compare: true });
    peers.on(SHADOW, () => jsonResponse({ from: 'primary' }));
    await (await client.request({ path: '/text' })).body.text();
    Buffer.from(await (await client.request({ path: '/bytes' })).body.arrayBuffer());
    for await (const _chunk of (await client.request({ path: '/iterated' })).body) {
      // read to the end
    }
    expect(await (await client.fetch('/fetched')).json()).toEqual({ from: 'primary' });
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 4, matches: 4, mismatches: 0 });
  });

  it('a body the caller dumps, or does not read within primaryWaitMs, is left out: status and headers are still compared', async () => {
    const { clock, peers, client, shadow } = await setup({ compare: { primaryWaitMs: 1000 } });
    peers.on(SHADOW, () => jsonResponse({ other: 'body' }, 404));
    await (await client.request({ path: '/dumped' })).body.dump();
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 1, mismatches: 1 });
    expect(shadow.report().differences[0]).toMatchObject({ path: '/dumped', fields: ['status'], primary: { body: null } });

    const unread = await client.request({ path: '/unread' });
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 1, inFlight: 1 });
    await clock.advanceAsync(999);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 1, inFlight: 1 });
    await clock.advanceAsync(1);
    expect(shadow.report().targets[0]).toMatchObject({ compared: 2, inFlight: 0 });
    expect(shadow.report().differences[1]).toMatchObject({ path: '/unread', fields: ['status'] });
    // Reading later still works for the caller.
    expect(await unread.body.json()).toEqual({ from: 'primary' });
  });

  it('counts a shadow that does not answer as failed, and a shadow error status as an answer', async () => {
    const { clock, peers, client, shadow, registry } = await setup({ compare: true });
    peers.on(SHADOW, () => jsonResponse({ error: 'boom' }, 500));
    await get(client, '/500');
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 1, failed: 0, compared: 1, mismatches: 1 });
    await registry.deregister('s1');
    await get(client, '/none');
    await settle(clock);
    expect(shadow.report().targets[0]).toMatchObject({ sent: 2, failed: 1, compared: 1 });
  });
});

describe('shadow traffic: metrics', () => {
  it('reports copies, skips, comparisons and latency through the metrics seam', async () => {
    const metrics = createMetrics({ prometheus: true });
    closers.push(() => metrics.close());
    const { clock, peers, client } = await setup({ compare: true, maxConcurrent: 1, maxQueue: 0, maxBodyBytes: 2, metrics: shadowMetrics(metrics) });
    const answer = held<Response>();
    peers.on(SHADOW, () => answer.promise);
    await get(client, '/a');
    await get(client, '/b'); // no slot, no queue: dropped
    await (await client.request({ method: 'PUT', path: '/c', body: 'large' })).body.dump();
    await settle(clock);
    await clock.advanceAsync(25);
    answer.resolve(jsonResponse({ from: 'shadow' }));
    await settle(clock);
    const text = metrics.prometheus!.render();
    expect(text).toContain('karyon_shadow_copies_total{outcome="sent",target="next"} 1\n');
    expect(text).toContain('karyon_shadow_copies_total{outcome="dropped",target="next"} 1\n');
    expect(text).toContain('karyon_shadow_skipped_total{reason="body_too_large"} 1\n');
    expect(text).toContain('karyon_shadow_comparisons_total{result="mismatch",target="next"} 1\n');
    expect(text).toContain('karyon_shadow_latency_seconds_sum{target="next"} 0.025\n');
  });
});
