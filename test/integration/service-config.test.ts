import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, defineConfig, karyonConfigSchema, karyonConfigValidators } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { Service } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { memoryLogger, waitFor } from '../support/logger.js';

const services: Service[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
});

function config(env: Record<string, string> = {}) {
  return defineConfig({ schema: karyonConfigSchema, validators: karyonConfigValidators, env: { KARYON_APP_NAME: 'configured', ...env } });
}

async function put(url: string, body: unknown) {
  const res = await request(url, { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('a service with a dynamic configuration', () => {
  it('starts it first, serves it on the admin port, and follows the live keys', async () => {
    const registry = new InMemoryRegistry();
    const backend = createService({ name: 'backend', server: createServer((_q, r) => r.end('ok')), port: 0, host: '127.0.0.1', ipAddr: '127.0.0.1', registry, admin: false, lifecycle: { deregistrationDelayMs: 0 } });
    services.push(backend);
    await backend.start();
    const logger = memoryLogger();
    const dynamic = config({ KARYON_LOG_LEVEL: 'warn' });
    const service = createService({ name: 'configured', registry, admin: { port: 0, host: '127.0.0.1' }, config: dynamic, logger, lifecycle: { deregistrationDelayMs: 0 } });
    services.push(service);
    await service.start();
    expect(dynamic.started).toBe(true);
    // log.level=warn: the transition line (info) was filtered out.
    expect(logger.lines.some((l) => l.includes('STARTING -> UP'))).toBe(false);

    const client = service.client('backend');
    const pinned = service.client('backend', { rule: 'random' });
    const pinnedByFormerName = service.client('backend', { balancer: 'least-loaded' });
    expect(client.rule.name).toBe('p2c-ewma');
    const changed = await put(`${service.adminUrl}/config/balancer.rule`, { value: 'round-robin' });
    expect(changed.status).toBe(200);
    expect(client.rule.name).toBe('round-robin');
    expect(pinned.rule.name).toBe('random'); // a client with its own rule keeps it
    expect(pinnedByFormerName.rule.name).toBe('least-loaded'); // given by the deprecated name too
    expect(service.client('backend').rule.name).toBe('round-robin'); // new clients follow too

    const rejected = await put(`${service.adminUrl}/config/balancer.rule`, { value: 'fastest' });
    expect(rejected.status).toBe(400);
    expect(client.rule.name).toBe('round-robin');

    expect(client.stats().retryBudget).toBe(100); // 10/s floor over 10 s
    await put(`${service.adminUrl}/config/retry.minRetriesPerSecond`, { value: 1 });
    expect(client.stats().retryBudget).toBe(10);

    await put(`${service.adminUrl}/config/log.level`, { value: 'debug' });
    await service.markOutOfService();
    expect(logger.lines.some((l) => l.includes('UP -> OUT_OF_SERVICE'))).toBe(true);

    const view = (await (await request(`${service.adminUrl}/config`)).body.json()) as { keys: Record<string, { value: unknown; layer: string }> };
    expect(view.keys['balancer.rule']).toMatchObject({ value: 'round-robin', layer: 'override' });
  });

  it('changes the Eureka intervals live', async () => {
    await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
    await eureka.listen();
    const dynamic = config();
    const service = createService({
      name: 'configured',
      registry: { eureka: { serviceUrls: [eureka.url], registryFetchIntervalMs: 30_000 } },
      admin: false,
      config: dynamic,
      lifecycle: { deregistrationDelayMs: 0 },
    });
    services.push(service);
    await service.start();
    // The configuration's value (30 s default) applies at start; a change applies live.
    expect(service.registry.propagationDelayMs).toBe(30_000);
    dynamic.setOverride('eureka.registryFetchIntervalMs', 2000);
    expect(service.registry.propagationDelayMs).toBe(2000);
  });

  it('rolls a change back when a readiness check turns critical soon after it', async () => {
    const dynamic = config();
    const service = createService({ name: 'configured', admin: false, config: dynamic, configRollback: { windowMs: 10_000 }, lifecycle: { deregistrationDelayMs: 0 } });
    services.push(service);
    // A check that depends on configuration: 'random' balancing breaks this (contrived) service.
    service.addHealthCheck('depends-on-config', () => dynamic.get('balancer.rule') !== 'random', { intervalMs: 20, cacheMs: 0 });
    await service.start();
    dynamic.setOverride('balancer.rule', 'random');
    await waitFor(() => dynamic.get('balancer.rule') === 'p2c-ewma', 10_000, 'the rollback');
    await waitFor(() => service.status === 'UP', 10_000, 'readiness to recover');
    expect(dynamic.history().some((entry) => entry.kind === 'rolledBack')).toBe(true);
  });

  it('rolls nothing back when checks fail because the service is shutting down', async () => {
    const dynamic = config();
    const service = createService({
      name: 'configured',
      admin: { port: 0, host: '127.0.0.1' },
      config: dynamic,
      configRollback: { windowMs: 10_000 },
      lifecycle: { deregistrationDelayMs: 200 },
    });
    services.push(service);
    let poolOpen = true;
    service.addHealthCheck('db', () => poolOpen, { intervalMs: 20, cacheMs: 0 });
    service.onShutdown(async () => {
      poolOpen = false; // a shutdown hook closes the pool the check uses
      // A load balancer's probe arrives meanwhile, and runs the check.
      await (await fetch(`${service.adminUrl}/healthcheck`)).text();
    });
    await service.start();
    dynamic.setOverride('balancer.rule', 'random'); // a good change, inside the window when stop() comes
    const stopping = service.stop();
    // Checks keep running through the deregistration delay; then the hook closes the pool.
    await stopping;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(dynamic.get('balancer.rule')).toBe('random');
    expect(dynamic.history().some((entry) => entry.kind === 'rolledBack')).toBe(false);
  });
});
