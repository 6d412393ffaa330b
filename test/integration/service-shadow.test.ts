import { createServer } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, defineConfig, karyonConfigSchema, shadowSettingsSchema } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service, ServiceOptions, ShadowReport } from 'karyon-ts';
import { waitFor } from '../support/logger.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A real HTTP server answering JSON, recording what it receives. */
function recordingServer(answer: (seen: Seen) => unknown) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(entry);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(answer(entry)));
    });
  });
  return { server, seen };
}

/** A real HTTP service registered under `name`, recording what it receives. */
async function recordingService(registry: InMemoryRegistry, name: string, answer: (seen: Seen) => unknown) {
  const { server, seen } = recordingServer(answer);
  const service = createService({ name, server, port: 0, host: '127.0.0.1', ipAddr: '127.0.0.1', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
  services.push(service);
  await service.start();
  return { service, seen };
}

/** The service under test: `greeter`, with an admin port, on the given server. */
function primaryService(options: Pick<ServiceOptions, 'server' | 'registry' | 'config' | 'shadow'>): Service {
  const service = createService({ name: 'greeter', port: 0, host: '127.0.0.1', ipAddr: '127.0.0.1', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 }, ...options });
  services.push(service);
  return service;
}

async function report(service: Service): Promise<ShadowReport> {
  const res = await request(`${service.adminUrl}/shadow`);
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as ShadowReport;
}

async function put(url: string, body: unknown) {
  const res = await request(url, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('a service with shadow traffic', () => {
  it('tees the requests of its server to the shadow VIP, compares the answers, and serves GET and PUT /shadow', async () => {
    const registry = new InMemoryRegistry();
    const next = await recordingService(registry, 'greeter-next', (seen) => ({ hello: seen.url === '/hello/bob' ? 'Bob' : 'world' }));
    // The primary: the current version, with shadow traffic teeing its server.
    const { server, seen } = recordingServer(() => ({ hello: 'world' }));
    const service = primaryService({ server, registry, shadow: { vip: 'greeter-next', compare: true, allowNonIdempotent: true } });
    await service.start();
    const base = `http://127.0.0.1:${service.instance!.port}`;

    const answer = await request(`${base}/hello/alice`);
    expect(await answer.body.json()).toEqual({ hello: 'world' });
    const posted = await request(`${base}/hello/bob`, { method: 'POST', body: '{"name":"bob"}', headers: { 'content-type': 'application/json' } });
    expect(await posted.body.json()).toEqual({ hello: 'world' });

    await waitFor(() => next.seen.length === 2);
    expect(next.seen.map((s) => [s.method, s.url, s.headers['x-karyon-shadow'], s.body])).toEqual([
      ['GET', '/hello/alice', '1', ''],
      ['POST', '/hello/bob', '1', '{"name":"bob"}'],
    ]);
    expect(seen.every((s) => s.headers['x-karyon-shadow'] === undefined)).toBe(true);

    await waitFor(async () => (await report(service)).targets[0]?.compared === 2);
    const before = await report(service);
    expect(before.targets[0]).toMatchObject({ vip: 'greeter-next', sent: 2, matches: 1, mismatches: 1 });
    expect(before.differences[0]).toMatchObject({ path: '/hello/bob', fields: ['body.hello'] });

    const stopped = await put(`${service.adminUrl}/shadow`, { enabled: false });
    expect(stopped.status).toBe(200);
    expect(stopped.json.enabled).toBe(false);
    expect(service.shadow!.report().enabled).toBe(false);
    await request(`${base}/hello/carol`).then((r) => r.body.dump());
    const bad = await put(`${service.adminUrl}/shadow`, { rate: 3 });
    expect(bad.status).toBe(400);
    expect((await report(service)).rate).toBe(1);
    // The kill switch held: carol's request was answered (the primary decides to copy when a request arrives)
    // and was neither sampled nor copied, and nothing is on its way to the shadow.
    const after = await report(service);
    expect(after.sampled).toBe(before.sampled);
    expect(after.targets[0]).toMatchObject({ sent: 2, inFlight: 0, queued: 0 });
    expect(next.seen).toHaveLength(2);

    await service.stop();
    expect(server.listenerCount('request')).toBe(1); // the service's observer was removed
  });

  it('follows the configuration’s shadow keys live and rejects a bad value, keeping the last good one', async () => {
    const registry = new InMemoryRegistry();
    const next = await recordingService(registry, 'greeter-next', () => ({ ok: true }));
    const config = defineConfig({ schema: { ...karyonConfigSchema, ...shadowSettingsSchema }, env: { KARYON_APP_NAME: 'greeter', KARYON_SHADOW_ENABLED: 'false' } });
    const { server } = recordingServer(() => ({ ok: true }));
    const service = primaryService({ server, registry, config, shadow: { vip: 'greeter-next' } });
    await service.start();
    const base = `http://127.0.0.1:${service.instance!.port}`;
    expect(service.shadow!.report().enabled).toBe(false); // the environment's value replaced the option's

    await request(`${base}/a`).then((r) => r.body.dump());
    expect((await put(`${service.adminUrl}/config/shadow.enabled`, { value: true })).status).toBe(200);
    await request(`${base}/b`).then((r) => r.body.dump());
    await waitFor(() => next.seen.length === 1);
    expect(next.seen[0]!.url).toBe('/b');

    expect((await put(`${service.adminUrl}/config/shadow.rate`, { value: 0 })).status).toBe(200);
    expect(service.shadow!.report().rate).toBe(0);
    expect((await put(`${service.adminUrl}/config/shadow.rate`, { value: 1.5 })).status).toBe(400);
    expect(service.shadow!.report().rate).toBe(0);
    const sampled = service.shadow!.report().sampled;
    await request(`${base}/c`).then((r) => r.body.dump());
    // Rate 0: /c was answered, neither sampled nor copied, and nothing is on its way to the shadow.
    expect(service.shadow!.report().sampled).toBe(sampled);
    expect(service.shadow!.report().targets[0]).toMatchObject({ sent: 1, inFlight: 0, queued: 0 });
    expect(next.seen).toHaveLength(1);
  });

  it('answers 404 on /shadow when the service has no shadow traffic', async () => {
    const service = createService({ name: 'plain', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 } });
    services.push(service);
    await service.start();
    expect(service.shadow).toBeUndefined();
    const res = await request(`${service.adminUrl}/shadow`);
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });
});
