import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createService, defineConfig, karyonConfigSchema, karyonConfigValidators } from 'karyon-ts';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import { defaultIpAddress } from '../../src/internal/net.js';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service, ServiceOptions } from 'karyon-ts';
import type { AdminServiceView } from 'karyon-ts/extend';
import { ManualClock } from 'karyon-ts/testing';

// Each admin role over real HTTP against a real service: what `read` and `operate` tokens, no token and a wrong
// token may do on every route the service serves, and the rate limits.

const readToken = 'viewer-4d1f8a0c7e2b9365';
const operateToken = 'operator-b7e3c95f10a2d648';
const tokens = [
  { name: 'viewer', token: readToken, role: 'read' },
  { name: 'ops', token: operateToken, role: 'operate' },
] as const;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function started(options: Partial<ServiceOptions> = {}) {
  const config = defineConfig({ schema: karyonConfigSchema, validators: karyonConfigValidators, env: { KARYON_APP_NAME: 'roles' } });
  const service = createService({
    name: 'roles',
    port: 8080,
    hostName: 'localhost',
    registry: new InMemoryRegistry(),
    admin: { port: 0, host: '127.0.0.1', tokens, rateLimit: { failedAuthBurst: 1000 } },
    config,
    lifecycle: { deregistrationDelayMs: 0 },
    ...options,
  });
  cleanups.push(() => service.stop());
  service.command('double', (n: number) => n * 2);
  await service.start();
  return { service, config, url: service.adminUrl! };
}

async function call(url: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, {
    method: method as 'GET',
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}

const as = (token: string | undefined): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });

/** What the service is, as its own API tells it: changes only when a mutation went through. */
function stateOf(service: Service, config: ReturnType<typeof defineConfig>): string {
  const commands = service.commands.list().map((c) => ({ name: c.name, state: c.state, overrides: c.overrides }));
  return JSON.stringify({ status: service.status, overrides: config.overrides(), version: config.version, commands });
}

const reads = ['/status', '/breakers', '/breakers/double', '/config', '/config/history', '/config/balancer.rule', '/instances', '/audit'];
const probes = ['/healthcheck', '/livez', '/readyz'];

/** Every mutation route of the service, each with a body that changes something. */
const mutations: readonly (readonly [string, string, unknown])[] = [
  ['PUT', '/status', { status: 'OUT_OF_SERVICE' }],
  ['PUT', '/breakers/double', { action: 'forceOpen' }],
  ['PUT', '/breakers/double', { settings: { timeoutMs: 250 } }],
  ['PUT', '/config/balancer.rule', { value: 'round-robin' }],
  ['DELETE', '/config/balancer.rule', undefined],
  ['POST', '/config/reload', undefined],
];

describe('admin roles over real HTTP', () => {
  it('without a token reads are refused (401) and probes stay open; a wrong token gets 401 too', async () => {
    const { service, config, url } = await started();
    const before = stateOf(service, config);
    for (const path of reads) {
      const bare = await call(`${url}${path}`);
      expect({ path, status: bare.status }).toEqual({ path, status: 401 });
      expect(bare.headers['www-authenticate']).toMatch(/^Bearer realm="karyon-admin"/);
      expect(bare.json?.error).toMatch(/missing bearer token: this needs a token with the read role/);
      expect({ path, status: (await call(`${url}${path}`, 'GET', undefined, as(`${readToken}x`))).status }).toEqual({ path, status: 401 });
    }
    for (const path of probes) expect({ path, status: (await call(`${url}${path}`)).status }).toEqual({ path, status: 200 });
    for (const [method, path, body] of mutations) {
      expect({ method, path, status: (await call(`${url}${path}`, method, body)).status }).toEqual({ method, path, status: 401 });
      expect({ method, path, status: (await call(`${url}${path}`, method, body, as(operateToken.slice(0, 12)))).status }).toEqual({ method, path, status: 401 });
    }
    const stream = await request(`${url}/hystrix.stream`);
    expect(stream.statusCode).toBe(401);
    await stream.body.dump();
    expect(stateOf(service, config)).toBe(before);
  });

  it('a read token sees every read route and no mutation (403, naming the role), and nothing changes', async () => {
    const { service, config, url } = await started();
    const before = stateOf(service, config);
    for (const path of [...reads, ...probes]) expect({ path, status: (await call(`${url}${path}`, 'GET', undefined, as(readToken))).status }).toEqual({ path, status: 200 });
    for (const [method, path, body] of mutations) {
      const res = await call(`${url}${path}`, method, body, as(readToken));
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
      expect(res.json?.error).toBe("token 'viewer' has the read role; this needs operate");
    }
    expect(stateOf(service, config)).toBe(before);
    // The hystrix stream is a read: it opens for the read token.
    const controller = new AbortController();
    const stream = await request(`${url}/hystrix.stream`, { headers: as(readToken), signal: controller.signal });
    expect(stream.statusCode).toBe(200);
    controller.abort();
    await stream.body.dump().catch(() => undefined);
  });

  it('an operate token reads and makes every mutation of the service', async () => {
    const { service, config, url } = await started();
    for (const path of reads) expect({ path, status: (await call(`${url}${path}`, 'GET', undefined, as(operateToken))).status }).toEqual({ path, status: 200 });
    let previous = stateOf(service, config);
    for (const [method, path, body] of mutations) {
      const res = await call(`${url}${path}`, method, body, as(operateToken));
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 200 });
      const now = stateOf(service, config);
      if (path !== '/config/reload') expect({ method, path, changed: now !== previous }).toEqual({ method, path, changed: true });
      previous = now;
    }
    expect(service.status).toBe('OUT_OF_SERVICE');
    expect(service.commands.get('double')).toMatchObject({ state: 'FORCED_OPEN', overrides: { forceOpen: true, timeoutMs: 250 } });
    expect(config.hasOverride('balancer.rule')).toBe(false);
    const audit = await call(`${url}/audit`, 'GET', undefined, as(readToken));
    expect((audit.json?.entries as { actor: string; action: string; outcome: string }[]).map((e) => `${e.actor} ${e.action} ${e.outcome}`)).toEqual([
      'ops status.set ok',
      'ops breaker.forceOpen ok',
      'ops breaker.settings ok',
      'ops config.set ok',
      'ops config.clear ok',
      'ops config.reload ok',
    ]);
  });

  it("the single 'token' option keeps its meaning: an operate token, reads open", async () => {
    const { service, url } = await started({ admin: { port: 0, host: '127.0.0.1', token: operateToken } });
    expect((await call(`${url}/status`)).status).toBe(200);
    expect((await call(`${url}/status`, 'PUT', { status: 'OUT_OF_SERVICE' })).status).toBe(401);
    expect((await call(`${url}/status`, 'PUT', { status: 'OUT_OF_SERVICE' }, as(operateToken))).status).toBe(200);
    expect(service.status).toBe('OUT_OF_SERVICE');
    const audit = await call(`${url}/audit`);
    expect((audit.json?.entries as { actor: string }[]).map((e) => e.actor)).toEqual(['anonymous', 'admin']);
  });

  it('with no token, protected reads and mutations are for loopback only', async () => {
    const address = defaultIpAddress();
    expect(address).not.toBe('127.0.0.1'); // this test needs a non-loopback interface
    const { service, url } = await started({ admin: { port: 0, host: '0.0.0.0', protectReads: true } });
    const port = new URL(url).port;
    const remote = `http://${address}:${port}`;
    const refused = await call(`${remote}/status`);
    expect(refused.status).toBe(403);
    expect(refused.json?.error).toMatch(/reads are protected, and accepted from loopback only when no admin token is configured/);
    expect((await call(`${remote}/healthcheck`)).status).toBe(200);
    expect((await call(`${remote}/status`, 'PUT', { status: 'OUT_OF_SERVICE' })).status).toBe(403);
    expect((await call(`http://127.0.0.1:${port}/status`)).status).toBe(200);
    expect((await call(`http://127.0.0.1:${port}/status`, 'PUT', { status: 'OUT_OF_SERVICE' })).status).toBe(200);
    expect(service.status).toBe('OUT_OF_SERVICE');
    const entries = (await call(`http://127.0.0.1:${port}/audit`)).json?.entries as { actor: string; remote: string; outcome: string; status: number }[];
    expect(entries.map((e) => [e.actor, e.remote, e.outcome, e.status])).toEqual([
      ['anonymous', address, 'denied', 403],
      ['loopback', '127.0.0.1', 'ok', 200],
    ]);
  });
});

describe('admin rate limits over real HTTP', () => {
  async function admin(options: Parameters<typeof resolveAdminOptions>[0]) {
    const clock = new ManualClock();
    let status: 'UP' | 'OUT_OF_SERVICE' = 'UP';
    const view: AdminServiceView = {
      status: () => ({ app: 'limits', instanceId: 'i-1', vipAddress: 'limits', zone: 'z', version: undefined, status, registryStatus: status, outOfServiceByOperator: status !== 'UP', since: 0, startedAt: 0, uptimeMs: 0, port: 8080, transitions: [] }),
      health: () => Promise.resolve({ ready: true, live: true, checks: {} }),
      setOperatorStatus: (next) => {
        status = next;
        return Promise.resolve();
      },
    };
    const server = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1', tokens, ...options }), { clock });
    cleanups.push(() => server.close());
    await server.listen();
    return { clock, url: server.url!, server, current: () => status };
  }

  it("limits each actor's changes: a burst, then 429 with Retry-After until the bucket refills; bad requests spend nothing", async () => {
    const { clock, url, server } = await admin({ rateLimit: { mutationBurst: 2, mutationsPerMinute: 6 } });
    const put = (status: string, token = operateToken) => call(`${url}/status`, 'PUT', { status }, as(token));
    expect((await put('OUT_OF_SERVICE')).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await put('SIDEWAYS')).status).toBe(400); // refused by the route: no change, nothing spent
    expect((await put('UP')).status).toBe(200);
    const limited = await put('OUT_OF_SERVICE');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('10');
    expect(limited.json?.error).toBe("too many changes by 'ops': retry in 10 s");
    expect((await call(`${url}/status`, 'GET', undefined, as(operateToken))).status).toBe(200); // reads are not limited
    clock.advance(9_000);
    expect((await put('OUT_OF_SERVICE')).status).toBe(429);
    clock.advance(1_000);
    expect((await put('OUT_OF_SERVICE')).status).toBe(200);
    const outcomes = server.audit.entries().map((e) => `${e.outcome} ${e.status}`);
    expect(outcomes).toEqual(['ok 200', ...Array<string>(5).fill('failed 400'), 'ok 200', 'denied 429', 'denied 429', 'ok 200']);
  });

  it('slows token guessing: past the burst of wrong tokens an address gets 429 without its token being looked at', async () => {
    const { clock, url, current } = await admin({ rateLimit: { failedAuthBurst: 3, failedAuthPerMinute: 2 } });
    const put = (token: string) => call(`${url}/status`, 'PUT', { status: 'OUT_OF_SERVICE' }, as(token));
    for (let i = 0; i < 3; i++) expect((await put(`guess-${i}`)).status).toBe(401);
    const blocked = await put(operateToken);
    expect(blocked.status).toBe(429);
    expect(blocked.headers['retry-after']).toBe('30');
    expect(blocked.json?.error).toBe('too many wrong tokens from 127.0.0.1: retry in 30 s');
    expect(current()).toBe('UP');
    // A request with no token is not a guess: it still learns it needs one.
    expect((await call(`${url}/status`, 'PUT', { status: 'OUT_OF_SERVICE' })).status).toBe(401);
    clock.advance(30_000);
    expect((await put(operateToken)).status).toBe(200);
    expect(current()).toBe('OUT_OF_SERVICE');
  });
});
