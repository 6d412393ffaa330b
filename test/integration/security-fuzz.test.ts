import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createService, defineConfig, karyonConfigSchema, karyonConfigValidators } from 'karyon-ts';
import { InMemoryRegistry, EurekaServer } from 'karyon-ts/testing';
import { encodeInstance } from '../../src/registry/eureka/wire.js';
import { seeded } from '../../bench/support.js';

// 1,000 requests with random, truncated and mangled tokens (from a seeded generator, so a failure replays)
// against every door: the admin port's mutations and protected reads, and the development registry's writes.
// The state before and after must be the same, byte for byte.

const operateToken = 'fuzz-operator-6a0e3c9b2d7f1458';
const readToken = 'fuzz-viewer-1d5b8f2a7c0e3946';
const teamA = 'fuzz-greeter-owner-c4e9a1f7b3d05286';
const teamB = 'fuzz-billing-owner-8b2d6f0a4c9e1735';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** A wrong credential: random, a truncation, one character changed, extended, re-cased, or in another scheme. */
function wrongCredential(random: () => number, genuine: readonly string[]): { header: string; value: string } {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const token = pick(genuine);
  const printable = (length: number): string => Array.from({ length }, () => String.fromCharCode(0x21 + Math.floor(random() * 94))).join('');
  const variants: (() => string)[] = [
    () => printable(1 + Math.floor(random() * 64)),
    () => token.slice(0, Math.floor(random() * token.length)),
    () => token.slice(Math.floor(random() * (token.length - 1)) + 1),
    () => {
      const at = Math.floor(random() * token.length);
      const replaced = String.fromCharCode(((token.charCodeAt(at) - 0x21 + 1 + Math.floor(random() * 93)) % 94) + 0x21);
      return `${token.slice(0, at)}${replaced}${token.slice(at + 1)}`;
    },
    () => `${token}${printable(1 + Math.floor(random() * 4))}`,
    () => token.toUpperCase(),
  ];
  const candidate = pick(variants)();
  // A variant may land on a genuine token by chance (a truncation of nothing is '', upper case of digits...).
  const value = genuine.includes(candidate) ? `${candidate}!` : candidate;
  const shape = random();
  if (shape < 0.7) return { header: 'authorization', value: `Bearer ${value}` };
  if (shape < 0.8) return { header: 'authorization', value: `Basic ${Buffer.from(`user:${value}`).toString('base64')}` };
  if (shape < 0.9) return { header: 'authorization', value };
  return { header: 'x-karyon-registry-token', value };
}

describe('1,000 requests with random or truncated tokens', () => {
  it('change nothing on the admin port', async () => {
    const config = defineConfig({ schema: karyonConfigSchema, validators: karyonConfigValidators, env: { KARYON_APP_NAME: 'fuzzed' } });
    const service = createService({
      name: 'fuzzed',
      port: 8080,
      hostName: 'localhost',
      registry: new InMemoryRegistry(),
      // A burst large enough that every guess is compared, rather than turned away by the guessing limit.
      admin: { port: 0, host: '127.0.0.1', tokens: [{ name: 'ops', token: operateToken, role: 'operate' }], protectReads: true, rateLimit: { failedAuthBurst: 5000 } },
      config,
      lifecycle: { deregistrationDelayMs: 0 },
    });
    cleanups.push(() => service.stop());
    service.command('lookup', () => 'ok');
    await service.start();
    const url = service.adminUrl!;
    const state = async (): Promise<string> => {
      const status = (await (await request(`${url}/status`, { headers: { authorization: `Bearer ${operateToken}` } })).body.json()) as Record<string, unknown>;
      delete status.uptimeMs;
      const commands = service.commands.list().map((c) => ({ name: c.name, state: c.state, overrides: c.overrides }));
      return JSON.stringify({ status, overrides: config.overrides(), version: config.version, history: config.history(), commands, service: service.status });
    };
    const routes: [string, string, string | undefined][] = [
      ['PUT', '/status', '{"status":"OUT_OF_SERVICE"}'],
      ['PUT', '/breakers/lookup', '{"action":"forceOpen"}'],
      ['PUT', '/config/balancer.rule', '{"value":"round-robin"}'],
      ['DELETE', '/config/log.level', undefined],
      ['POST', '/config/reload', undefined],
      ['GET', '/config', undefined],
      ['GET', '/audit', undefined],
    ];
    await request(`${url}/config/log.level`, { method: 'PUT', headers: { authorization: `Bearer ${operateToken}`, 'content-type': 'application/json' }, body: '{"value":"warn"}' }).then((r) => r.body.dump());
    const before = await state();
    const random = seeded(0x5eed);
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const [method, path, body] = routes[Math.floor(random() * routes.length)]!;
          const { header, value } = wrongCredential(random, [operateToken, readToken]);
          const res = await request(`${url}${path}`, {
            method: method as 'GET',
            headers: { [header]: value, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body ?? null,
          });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }),
      );
    }
    expect([...statuses.keys()]).toEqual([401]);
    expect(statuses.get(401)).toBe(1000);
    expect(await state()).toBe(before);
    // Every refused mutation is on the record as denied, under no one's name.
    const entries = service.admin!.audit.entries();
    expect(entries.filter((e) => e.outcome === 'denied').every((e) => e.actor === 'anonymous' && e.status === 401)).toBe(true);
    expect(entries.filter((e) => e.outcome === 'ok').map((e) => e.action)).toEqual(['config.set']);
    // The door still opens for the genuine token.
    const ok = await request(`${url}/status`, { method: 'PUT', headers: { authorization: `Bearer ${operateToken}` }, body: '{"status":"OUT_OF_SERVICE"}' });
    await ok.body.dump();
    expect(ok.statusCode).toBe(200);
  });

  it('change nothing in the development registry', async () => {
    const server = new EurekaServer({ port: 0, host: '127.0.0.1', ownerTokens: { GREETER: teamA, BILLING: teamB } });
    cleanups.push(() => server.close());
    await server.listen();
    const base = `http://127.0.0.1:${server.port}/eureka`;
    const registration = (app: string, id: string, status: string) =>
      JSON.stringify({
        instance: encodeInstance(
          {
            instanceId: id,
            app,
            vipAddress: app.toLowerCase(),
            secureVipAddress: app.toLowerCase(),
            hostName: 'h',
            ipAddr: '127.0.0.1',
            port: 8080,
            portEnabled: true,
            securePort: 443,
            securePortEnabled: false,
            zone: 'default',
            metadata: {},
            homePageUrl: 'http://h:8080/',
            statusPageUrl: 'http://h:8077/status',
            healthCheckUrl: 'http://h:8077/healthcheck',
            leaseRenewalIntervalMs: 30_000,
            leaseDurationMs: 90_000,
          },
          status,
          1_700_000_000_000,
        ),
      });
    for (const [app, token] of [
      ['GREETER', teamA],
      ['BILLING', teamB],
    ] as const) {
      const res = await request(`${base}/apps/${app}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: registration(app, `${app.toLowerCase()}-1`, 'UP') });
      await res.body.dump();
      expect(res.statusCode).toBe(204);
    }
    const state = async (): Promise<string> => {
      const apps = await (await request(`${base}/apps`, { headers: { accept: 'application/json' } })).body.text();
      const delta = await (await request(`${base}/apps/delta`, { headers: { accept: 'application/json' } })).body.text();
      return JSON.stringify({ apps, delta, leases: server.instances() });
    };
    const before = await state();
    const random = seeded(0xe0e4a);
    const writes = (app: string, id: string): [string, string, string | undefined][] => [
      ['POST', `/apps/${app}`, registration(app, id, 'DOWN')],
      ['POST', `/apps/${app}`, registration(app, `${id}-rogue`, 'UP')],
      ['PUT', `/apps/${app}/${id}`, undefined],
      ['PUT', `/apps/${app}/${id}/status?value=OUT_OF_SERVICE`, undefined],
      ['DELETE', `/apps/${app}/${id}/status`, undefined],
      ['PUT', `/apps/${app}/${id}/metadata?owner=mallory`, undefined],
      ['DELETE', `/apps/${app}/${id}`, undefined],
    ];
    const routes = [...writes('GREETER', 'greeter-1'), ...writes('BILLING', 'billing-1')];
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 50; batch++) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const [method, path, body] = routes[Math.floor(random() * routes.length)]!;
          const { header, value } = wrongCredential(random, [teamA, teamB]);
          const res = await request(`${base}${path}`, {
            method: method as 'GET',
            headers: { [header]: value, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
            body: body ?? null,
          });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }),
      );
    }
    expect([...statuses.keys()].sort()).toEqual([401, 403]);
    expect((statuses.get(401) ?? 0) + (statuses.get(403) ?? 0)).toBe(1000);
    expect(await state()).toBe(before);
  });
});
