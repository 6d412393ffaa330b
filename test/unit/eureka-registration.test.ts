import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { EurekaRegistry } from 'karyon-ts';
import type { InstanceDescriptor, EurekaRegistryOptions, HeartbeatEvent, RegistrationEvent } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { FakeEureka, refusedUrl, until } from '../fixtures/eureka/fakeEureka.js';
import type { Json } from '../fixtures/eureka/fakeEureka.js';
import { memoryLogger } from '../support/logger.js';

const ID = 'h1:greeter:8080';
const PATH = `/apps/GREETER/${ID}`;

function descriptor(overrides: Partial<InstanceDescriptor> = {}): InstanceDescriptor {
  return {
    instanceId: ID,
    app: 'GREETER',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter',
    hostName: 'h1',
    ipAddr: '10.0.0.1',
    port: 8080,
    portEnabled: true,
    securePort: 443,
    securePortEnabled: false,
    zone: 'z1',
    metadata: { version: '1.2.3' },
    homePageUrl: 'http://h1:8080/',
    statusPageUrl: 'http://h1:8077/status',
    healthCheckUrl: 'http://h1:8077/healthcheck',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
    ...overrides,
  };
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function fake(basePath?: string): Promise<FakeEureka> {
  const server = await FakeEureka.start(basePath);
  open.push(server);
  return server;
}

function registryFor(urls: string[], clock: ManualClock, options: Partial<EurekaRegistryOptions> = {}): EurekaRegistry {
  const registry = new EurekaRegistry({ serviceUrls: urls, clock, fetchRegistry: false, jitterRatio: 0, ...options });
  open.push(registry);
  return registry;
}

function recorded(registry: EurekaRegistry): { registrations: RegistrationEvent[]; heartbeats: HeartbeatEvent[] } {
  const registrations: RegistrationEvent[] = [];
  const heartbeats: HeartbeatEvent[] = [];
  registry.on('registration', (event) => registrations.push(event));
  registry.on('heartbeat', (event) => heartbeats.push(event));
  return { registrations, heartbeats };
}

/**
 * Sends a request of the test's own to `server` and waits for its answer: a request the registry sent before
 * has then reached the server. The marker leaves `server.requests` as it was.
 */
async function caughtUp(server: FakeEureka): Promise<void> {
  const count = server.requests.length;
  const response = await request(`${server.url}/test-marker`);
  await response.body.dump();
  const index = server.requests.findIndex((recorded, i) => i >= count && recorded.path === '/test-marker');
  if (index >= 0) server.requests.splice(index, 1);
}

function lastBody(server: FakeEureka): Json {
  const posts = server.requests.filter((request) => request.method === 'POST');
  return posts[posts.length - 1]!.json.instance;
}

describe('EurekaRegistry registration: what each lifecycle step sends', () => {
  it('registers STARTING with a complete record, then UP, OUT_OF_SERVICE and back through the override, DOWN, cancel', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);

    await registry.register(descriptor(), 'STARTING');
    expect(server.writes).toEqual(['POST /apps/GREETER']);
    const starting = lastBody(server);
    expect(starting).toEqual({
      instanceId: ID,
      hostName: 'h1',
      app: 'GREETER',
      ipAddr: '10.0.0.1',
      status: 'STARTING',
      overriddenStatus: 'UNKNOWN',
      overriddenstatus: 'UNKNOWN',
      port: { $: 8080, '@enabled': 'true' },
      securePort: { $: 443, '@enabled': 'false' },
      countryId: 1,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: {
        renewalIntervalInSecs: 30,
        durationInSecs: 90,
        registrationTimestamp: 0,
        lastRenewalTimestamp: 0,
        evictionTimestamp: 0,
        serviceUpTimestamp: 0,
      },
      metadata: { version: '1.2.3', zone: 'z1' },
      homePageUrl: 'http://h1:8080/',
      statusPageUrl: 'http://h1:8077/status',
      healthCheckUrl: 'http://h1:8077/healthcheck',
      vipAddress: 'greeter',
      secureVipAddress: 'greeter',
      isCoordinatingDiscoveryServer: 'false',
      lastUpdatedTimestamp: String(clock.now()),
      lastDirtyTimestamp: String(clock.now()),
    });
    expect(server.requests[0]!.headers['content-type']).toBe('application/json');
    expect(server.requests[0]!.headers.accept).toBe('application/json');

    clock.advance(1000);
    await registry.setStatus(ID, 'UP');
    const up = lastBody(server);
    expect(up.status).toBe('UP');
    expect(Number(up.lastDirtyTimestamp)).toBe(clock.now());

    await registry.setStatus(ID, 'OUT_OF_SERVICE');
    await registry.setStatus(ID, 'UP');
    await registry.setStatus(ID, 'DOWN');
    const down = lastBody(server);
    expect(down.status).toBe('DOWN');
    expect(Number(down.lastDirtyTimestamp)).toBeGreaterThan(Number(up.lastDirtyTimestamp));
    await registry.deregister(ID);

    const T = up.lastDirtyTimestamp as string;
    expect(server.writes).toEqual([
      'POST /apps/GREETER',
      'POST /apps/GREETER',
      `PUT ${PATH}/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=${T}`,
      `DELETE ${PATH}/status?value=UP&lastDirtyTimestamp=${T}`,
      'POST /apps/GREETER',
      `DELETE ${PATH}`,
    ]);
    expect(registry.registeredInstanceIds).toEqual([]);
  });

  it('shows DOWN while an override is set (DOWN wins), and OUT_OF_SERVICE again without a flash of UP', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    await registry.register(descriptor(), 'STARTING');
    await registry.setStatus(ID, 'UP');
    await registry.setStatus(ID, 'OUT_OF_SERVICE');
    server.requests.length = 0;

    await registry.setStatus(ID, 'DOWN');
    expect(server.writes).toEqual(['POST /apps/GREETER']);
    expect(lastBody(server).status).toBe('DOWN');

    // Readiness back while the operator still wants it out: the override is still set, the record says so.
    await registry.setStatus(ID, 'OUT_OF_SERVICE');
    expect(server.writes).toEqual(['POST /apps/GREETER', 'POST /apps/GREETER']);
    // The body says the instance's own status (never OUT_OF_SERVICE); the override stored makes it OUT_OF_SERVICE.
    expect(lastBody(server)).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN', overriddenstatus: 'UNKNOWN' });

    await registry.setStatus(ID, 'DOWN');
    await registry.setStatus(ID, 'UP');
    expect(server.writes.slice(2)).toEqual([
      'POST /apps/GREETER',
      expect.stringMatching(new RegExp(`^DELETE ${PATH}/status\\?value=UP&lastDirtyTimestamp=\\d+$`)),
      'POST /apps/GREETER',
    ]);
    expect(lastBody(server).status).toBe('UP');
  });

  it('sets the override before re-registering when it goes from DOWN to OUT_OF_SERVICE', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    await registry.register(descriptor(), 'STARTING');
    await registry.setStatus(ID, 'DOWN');
    server.requests.length = 0;
    await registry.setStatus(ID, 'OUT_OF_SERVICE');
    expect(server.writes.map((line) => line.split('?')[0])).toEqual([`PUT ${PATH}/status`, 'POST /apps/GREETER']);
    expect(lastBody(server).status).toBe('UP');
  });

  it('keeps lastDirtyTimestamp strictly increasing even within one millisecond', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    await registry.register(descriptor(), 'STARTING');
    await registry.setStatus(ID, 'UP');
    await registry.setStatus(ID, 'DOWN');
    const stamps = server.requests.filter((r) => r.method === 'POST').map((r) => Number(r.json.instance.lastDirtyTimestamp));
    expect(stamps).toEqual([clock.now(), clock.now() + 1, clock.now() + 2]);
  });

  it('works with both shapes of service URL, trailing slashes or not', async () => {
    for (const [basePath, suffix] of [
      ['/eureka', '/'],
      ['/eureka/v2', ''],
      ['/eureka/v2', '//'],
    ] as const) {
      const clock = new ManualClock();
      const server = await fake(basePath);
      const registry = registryFor([`${server.url}${suffix}`], clock);
      const events = recorded(registry);
      await registry.register(descriptor(), 'STARTING');
      expect(server.lines).toEqual(['POST /apps/GREETER']);
      expect(events.registrations[0]).toMatchObject({ ok: true, statusCode: 204, serviceUrl: server.url });
    }
  });

  it('sends the extra headers on every request and URL credentials as basic authentication, never in events', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const withCredentials = server.url.replace('http://', 'http://svc:p%40ss@');
    const registry = registryFor([withCredentials], clock, { headers: { 'X-Gateway-Token': 'secret' } });
    const events = recorded(registry);
    await registry.register(descriptor(), 'STARTING');
    const { headers } = server.requests[0]!;
    expect(headers['x-gateway-token']).toBe('secret');
    expect(headers.authorization).toBe(`Basic ${Buffer.from('svc:p@ss').toString('base64')}`);
    expect(events.registrations[0]!.serviceUrl).toBe(server.url);
    expect(registry.serviceUrls).toEqual([server.url]);
  });
});

describe('EurekaRegistry registration: heartbeats', () => {
  it('renews every heartbeatIntervalMs with the status and the lastDirtyTimestamp the server holds', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { heartbeatIntervalMs: 10_000 });
    const events = recorded(registry);
    await registry.register(descriptor(), 'UP');
    const T = lastBody(server).lastDirtyTimestamp as string;
    await clock.advanceAsync(9_999);
    expect(server.lines).toHaveLength(1);
    await clock.advanceAsync(1);
    await until(clock, () => events.heartbeats.length === 1, 'the first heartbeat');
    await clock.advanceAsync(10_000);
    await until(clock, () => events.heartbeats.length === 2, 'the second heartbeat');
    expect(server.lines.slice(1)).toEqual([`PUT ${PATH}?status=UP&lastDirtyTimestamp=${T}`, `PUT ${PATH}?status=UP&lastDirtyTimestamp=${T}`]);
    expect(events.heartbeats[0]).toMatchObject({ ok: true, statusCode: 200, reregister: false, serviceUrl: server.url, instanceId: ID });
  });

  it('spreads heartbeats by the jitter ratio', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { heartbeatIntervalMs: 10_000, jitterRatio: 0.5 });
    const events = recorded(registry);
    await registry.register(descriptor(), 'UP');
    // With a ratio of 0.5 the first heartbeat comes between 5 and 15 s after the registration.
    await clock.advanceAsync(4_999);
    await caughtUp(server);
    expect(server.requests.filter((request) => request.method === 'PUT')).toEqual([]);
    expect(events.heartbeats).toHaveLength(0);
    await clock.advanceAsync(10_001);
    await until(clock, () => events.heartbeats.length > 0, 'a jittered heartbeat by 15 s');
  });

  it('registers again at once on a heartbeat 404, and sets the override again when one is wanted', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { heartbeatIntervalMs: 10_000 });
    const events = recorded(registry);
    await registry.register(descriptor(), 'UP');
    await registry.setStatus(ID, 'OUT_OF_SERVICE');
    let lost = true;
    server.on((request) => (lost && request.method === 'PUT' && request.path === PATH ? ((lost = false), { status: 404 }) : undefined));
    server.requests.length = 0;
    await clock.advanceAsync(10_000);
    await until(clock, () => server.requests.length === 4, 'the re-registration after the 404');
    // Registered as STARTING (never OUT_OF_SERVICE in the body, never UP before the override is back), the
    // override set again, then the instance's own status, which the override covers.
    expect(server.lines.map((line) => line.split('?')[0])).toEqual([`PUT ${PATH}`, 'POST /apps/GREETER', `PUT ${PATH}/status`, 'POST /apps/GREETER']);
    const bodies = server.requests.filter((request) => request.method === 'POST').map((request) => request.json.instance);
    expect(bodies.map((body) => [body.status, body.overriddenStatus, body.overriddenstatus])).toEqual([
      ['STARTING', 'UNKNOWN', 'UNKNOWN'],
      ['UP', 'UNKNOWN', 'UNKNOWN'],
    ]);
    expect(Number(bodies[1].lastDirtyTimestamp)).toBeGreaterThan(Number(bodies[0].lastDirtyTimestamp));
    expect(server.requests.filter((request) => 'x-netflix-discovery-replication' in request.headers)).toEqual([]);
    expect(events.heartbeats[0]).toMatchObject({ ok: false, statusCode: 404, reregister: true });
    // Lease renewed by the registration: the next heartbeat is a full interval later.
    await clock.advanceAsync(9_999);
    expect(server.requests).toHaveLength(4);
  });

  it('backs off failed heartbeats exponentially, then returns to the interval', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { heartbeatIntervalMs: 30_000 });
    const events = recorded(registry);
    await registry.register(descriptor(), 'UP');
    let failing = 3;
    const times: number[] = [];
    server.on((request) => {
      if (request.method !== 'PUT') return undefined;
      times.push(clock.now());
      return failing-- > 0 ? { status: 503, body: 'busy' } : undefined;
    });
    const start = clock.now();
    await clock.advanceAsync(30_000);
    await until(clock, () => events.heartbeats.length === 1, 'the failing heartbeat');
    for (const delay of [1000, 2000, 4000]) {
      const count = events.heartbeats.length;
      await clock.advanceAsync(delay);
      await until(clock, () => events.heartbeats.length === count + 1, `the heartbeat retried after ${delay} ms`);
    }
    expect(times.map((t) => t - start)).toEqual([30_000, 31_000, 33_000, 37_000]);
    expect(events.heartbeats.map((e) => [e.ok, e.statusCode, e.nextRetryMs])).toEqual([
      [false, 503, 1000],
      [false, 503, 2000],
      [false, 503, 4000],
      [true, 200, undefined],
    ]);
    expect(events.heartbeats[0]!.error).toContain('busy');
    await clock.advanceAsync(29_999);
    expect(times).toHaveLength(4);
  });
});

describe('EurekaRegistry registration: failures and retries', () => {
  it('retries a failed first registration with growing backoff until it succeeds, without holding up the caller', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const logger = memoryLogger();
    const registry = registryFor([server.url], clock, { logger });
    const events = recorded(registry);
    let failing = 3;
    const times: number[] = [];
    server.on(() => {
      times.push(clock.now());
      return failing-- > 0 ? { status: 500, body: 'java.lang.NullPointerException' } : undefined;
    });
    const start = clock.now();
    await registry.register(descriptor(), 'STARTING'); // settles after the first attempt, which failed
    expect(events.registrations).toHaveLength(1);
    for (const delay of [1000, 2000, 4000]) {
      const count = events.registrations.length;
      await clock.advanceAsync(delay);
      await until(clock, () => events.registrations.length === count + 1, `the retry after ${delay} ms`);
    }
    expect(times.map((t) => t - start)).toEqual([0, 1000, 3000, 7000]);
    expect(events.registrations.map((e) => [e.operation, e.ok, e.statusCode, e.failures, e.nextRetryMs])).toEqual([
      ['register', false, 500, 1, 1000],
      ['register', false, 500, 2, 2000],
      ['register', false, 500, 3, 4000],
      ['register', true, 204, 0, undefined],
    ]);
    expect(logger.lines.some((line) => line.startsWith('warn') && line.includes('NullPointerException'))).toBe(true);
    // Registered at last: heartbeats follow.
    await clock.advanceAsync(30_000);
    await until(clock, () => server.lines.some((line) => line.startsWith(`PUT ${PATH}?`)), 'a heartbeat');
  });

  it('caps the backoff at retryMaxDelayMs', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { retryInitialDelayMs: 100, retryMaxDelayMs: 250, retryMultiplier: 3 });
    const events = recorded(registry);
    server.on(() => ({ status: 500 }));
    await registry.register(descriptor(), 'STARTING');
    for (const delay of [100, 250, 250]) {
      const count = events.registrations.length;
      await clock.advanceAsync(delay);
      await until(clock, () => events.registrations.length === count + 1, `the retry after ${delay} ms`);
    }
    expect(events.registrations.map((e) => e.nextRetryMs)).toEqual([100, 250, 250, 250]);
  });

  it('survives a server that is down (connections refused or dropped) and registers once it answers', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    const events = recorded(registry);
    let drops = 2;
    server.on(() => (drops-- > 0 ? 'reset' : undefined));
    await registry.register(descriptor(), 'STARTING');
    expect(events.registrations[0]).toMatchObject({ ok: false, statusCode: undefined, nextRetryMs: 1000 });
    await clock.advanceAsync(1000);
    await until(clock, () => events.registrations.length === 2, 'the second attempt');
    await clock.advanceAsync(2000);
    await until(clock, () => events.registrations.length === 3, 'the third attempt');
    expect(events.registrations[2]).toMatchObject({ ok: true, statusCode: 204 });

    const refused = registryFor([await refusedUrl()], clock);
    const refusedEvents = recorded(refused);
    await refused.register(descriptor(), 'STARTING');
    expect(refusedEvents.registrations[0]).toMatchObject({ ok: false, statusCode: undefined, nextRetryMs: 1000 });
    expect(refusedEvents.registrations[0]!.error).toMatch(/ECONNREFUSED|connect/i);
  });

  it('passes a request to the next service URL when one is down, and stays with the one that answers', async () => {
    const clock = new ManualClock();
    const second = await fake();
    const registry = registryFor([await refusedUrl(), second.url], clock, { shuffleServiceUrls: false });
    const events = recorded(registry);
    await registry.register(descriptor(), 'STARTING');
    expect(second.lines).toEqual(['POST /apps/GREETER']);
    expect(events.registrations[0]).toMatchObject({ ok: true, serviceUrl: second.url });
    await registry.setStatus(ID, 'UP');
    expect(events.registrations[1]).toMatchObject({ ok: true, serviceUrl: second.url });
  });

  it('moves on from a server answering 5xx to the next, then keeps to the next', async () => {
    const clock = new ManualClock();
    const broken = await fake();
    const healthy = await fake();
    broken.on(() => ({ status: 502 }));
    const registry = registryFor([broken.url, healthy.url], clock, { shuffleServiceUrls: false });
    await registry.register(descriptor(), 'STARTING');
    await registry.setStatus(ID, 'UP');
    expect(broken.lines).toEqual(['POST /apps/GREETER']);
    expect(healthy.lines).toEqual(['POST /apps/GREETER', 'POST /apps/GREETER']);
  });

  it('times out a server that does not answer and asks the next one', async () => {
    const clock = new ManualClock();
    const silent = await fake();
    const healthy = await fake();
    silent.on(() => 'hang');
    const registry = registryFor([silent.url, healthy.url], clock, { requestTimeoutMs: 2000, shuffleServiceUrls: false });
    const registering = registry.register(descriptor(), 'STARTING');
    await until(clock, () => silent.requests.length === 1, 'the request to the silent server');
    await clock.advanceAsync(2000);
    await registering;
    expect(healthy.lines).toEqual(['POST /apps/GREETER']);
  });

  it('treats a 400 as a rejection: logged as an error and retried at the backoff', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const logger = memoryLogger();
    const registry = registryFor([server.url], clock, { logger });
    const events = recorded(registry);
    server.on(() => ({ status: 400, body: 'Missing dataCenterInfo Name' }));
    await registry.register(descriptor(), 'STARTING');
    expect(events.registrations[0]).toMatchObject({ ok: false, statusCode: 400, error: 'HTTP 400: Missing dataCenterInfo Name' });
    expect(logger.lines.some((line) => line.startsWith('error') && line.includes('Missing dataCenterInfo Name'))).toBe(true);
  });

  it('retries a failed cancel until it succeeds; a cancel answered 404 is done', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    const events = recorded(registry);
    await registry.register(descriptor(), 'UP');
    let failing = 1;
    server.on((request) => (request.method === 'DELETE' ? (failing-- > 0 ? { status: 500 } : { status: 404 }) : undefined));
    await registry.deregister(ID);
    expect(registry.registeredInstanceIds).toEqual([ID]);
    await clock.advanceAsync(1000);
    await until(clock, () => registry.registeredInstanceIds.length === 0, 'the cancel to be retried');
    expect(events.registrations.filter((e) => e.operation === 'cancel').map((e) => [e.ok, e.statusCode])).toEqual([
      [false, 500],
      [true, 404],
    ]);
    await clock.advanceAsync(120_000);
    expect(server.writes.filter((line) => line.startsWith('PUT'))).toEqual([]);
    await expect(registry.setStatus(ID, 'UP')).rejects.toMatchObject({ code: 'ERR_NOT_REGISTERED' });
  });

  it('cancels an instance whose first registration never succeeded', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    let down = true;
    server.on((request) => (down && request.method === 'POST' ? { status: 503 } : undefined));
    await registry.register(descriptor(), 'STARTING');
    down = false;
    await registry.deregister(ID);
    expect(server.lines).toEqual(['POST /apps/GREETER', `DELETE ${PATH}`]);
    await clock.advanceAsync(120_000);
    expect(server.lines).toHaveLength(2);
  });
});

describe('EurekaRegistry registration: input and shutdown', () => {
  it('rejects bad input with errors that name it, and sends nothing', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock);
    await expect(registry.register(descriptor(), 'UNKNOWN')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('UNKNOWN') });
    await expect(registry.register(descriptor({ hostName: '' }), 'UP')).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION',
      message: expect.stringContaining('instance.hostName'),
    });
    await expect(registry.register(descriptor({ port: 70_000 }), 'UP')).rejects.toMatchObject({ message: expect.stringContaining('instance.port') });
    // An overridden status in a registration would become a sticky override on the server: refused.
    const withOverride = { ...descriptor(), overriddenStatus: 'OUT_OF_SERVICE' } as InstanceDescriptor;
    await expect(registry.register(withOverride, 'UP')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining("'instance.overriddenStatus' must be absent") });
    await expect(registry.register(descriptor({ metadata: { overriddenstatus: 'DOWN' } }), 'UP')).rejects.toMatchObject({
      message: expect.stringContaining("'instance.metadata.overriddenstatus' must be absent"),
    });
    await expect(registry.setStatus('nope', 'UP')).rejects.toMatchObject({ code: 'ERR_NOT_REGISTERED', instanceId: 'nope' });
    await expect(registry.heartbeat('nope')).rejects.toMatchObject({ code: 'ERR_NOT_REGISTERED' });
    await registry.deregister('nope');
    expect(server.requests).toEqual([]);
    await registry.register(descriptor(), 'UP');
    await expect(registry.setStatus(ID, 'UNKNOWN')).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('stops everything on close(): no timer left, no request after it, and later calls refused', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const registry = registryFor([server.url], clock, { fetchRegistry: true });
    await until(clock, () => server.lines.includes('GET /apps'), 'the first fetch');
    await registry.register(descriptor(), 'UP');
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await registry.close();
    await registry.close();
    expect(clock.pendingTimers).toBe(0);
    const before = server.requests.length;
    await clock.advanceAsync(10 * 60_000);
    await caughtUp(server);
    expect(server.requests).toHaveLength(before);
    await expect(registry.register(descriptor(), 'UP')).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await expect(registry.refresh()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    // The instance registered before close() cannot be steered after it either, and nothing is sent.
    await expect(registry.setStatus(descriptor().instanceId, 'OUT_OF_SERVICE')).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    await expect(registry.heartbeat(descriptor().instanceId)).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(server.requests).toHaveLength(before);
  });

  it('close() ends a request in flight at once and settles the call waiting on it', async () => {
    const clock = new ManualClock();
    const server = await fake();
    server.on(() => 'hang');
    const registry = registryFor([server.url], clock);
    const registering = registry.register(descriptor(), 'STARTING');
    await until(clock, () => server.requests.length === 1, 'the hanging request');
    const started = Date.now();
    await registry.close();
    await registering;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('gives up waiting when the caller aborts, and still converges', async () => {
    const clock = new ManualClock();
    const server = await fake();
    let hold = true;
    server.on(() => (hold ? 'hang' : undefined));
    const registry = registryFor([server.url], clock, { requestTimeoutMs: 1000 });
    const controller = new AbortController();
    const registering = registry.register(descriptor(), 'STARTING', controller.signal);
    await until(clock, () => server.requests.length === 1, 'the hanging request');
    controller.abort(new Error('start() gave up'));
    await expect(registering).rejects.toThrow('start() gave up');
    hold = false;
    await clock.advanceAsync(1000); // the hanging request times out
    await clock.advanceAsync(1000); // and is retried
    await until(clock, () => server.requests.length === 2, 'the retry');
    await expect(registry.setStatus(ID, 'UP', AbortSignal.abort())).rejects.toThrow();
    await until(clock, () => lastBody(server).status === 'UP', 'UP sent despite the aborted wait');
  });
});

