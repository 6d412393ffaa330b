import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';
import type { Service } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface KeyView {
  value: unknown;
  layer: string;
  source: string;
  sensitive: boolean;
}

async function call(url: string, method: 'GET' | 'PUT' = 'GET', body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(url, { method, body: body === undefined ? null : JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

async function started(service: Service): Promise<Service> {
  cleanups.push(() => service.stop());
  await service.start();
  return service;
}

describe("GET /config on a service given no configuration: the service's own", () => {
  it('configured only by the environment: every setting with the layer it came from, secrets masked', async () => {
    const settings = loadSettings({
      env: { KARYON_APP_NAME: 'env-only', KARYON_ADMIN_PORT: '0', KARYON_ADMIN_TOKEN: 'very-secret-token', KARYON_BALANCER_RULE: 'round-robin' },
      argv: ['--app-zone', 'zone-z'],
    });
    const service = await started(createService({ ...serviceOptionsFromSettings(settings), lifecycle: { deregistrationDelayMs: 0 }, logger: false }));
    const adminUrl = service.adminUrl!.replace('0.0.0.0', '127.0.0.1').replace('[::]', '127.0.0.1');
    const { status, json } = await call(`${adminUrl}/config`);
    expect(status).toBe(200);
    const keys = json.keys as Record<string, KeyView>;
    expect(keys['app.name']).toMatchObject({ value: 'env-only', layer: 'env', source: 'env:KARYON_APP_NAME' });
    expect(keys['app.zone']).toMatchObject({ value: 'zone-z', layer: 'argv' });
    expect(keys['app.port']).toMatchObject({ value: 8080, layer: 'default' });
    expect(keys['admin.token']).toMatchObject({ value: '[Sensitive]', layer: 'env', sensitive: true });
    expect(JSON.stringify(json)).not.toContain('very-secret-token');
    expect(keys['balancer.rule']).toMatchObject({ value: 'round-robin', layer: 'env' });
    expect(keys['log.level']).toMatchObject({ layer: 'default' });
    // The variable took effect: clients made without a rule follow it.
    expect(service.client('other').stats().rule).toBe('round-robin');
  });

  it('with no schema at all, the live keys change with PUT /config/{key}: log level, breaker defaults, retry budget, Eureka intervals', async () => {
    const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
    cleanups.push(() => eureka.close());
    await eureka.listen();
    const logger = memoryLogger();
    const service = await started(
      createService({
        name: 'bare',
        admin: { port: 0 },
        logger,
        lifecycle: { deregistrationDelayMs: 0 },
        registry: { eureka: { serviceUrls: [`${eureka.url}/v2`], heartbeatIntervalMs: 5000, registryFetchIntervalMs: 5000 } },
      }),
    );
    const url = service.adminUrl!;
    const before = (await call(`${url}/config`)).json.keys as Record<string, KeyView>;
    expect(before['eureka.heartbeatIntervalMs']).toMatchObject({ value: 5000, layer: 'default' });
    expect(before['breaker.timeoutMs']).toMatchObject({ value: 1000, layer: 'default' });
    expect(before['log.level']).toMatchObject({ value: 'debug', layer: 'default' });

    const put = await call(`${url}/config/breaker.timeoutMs`, 'PUT', { value: 250 });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ key: 'breaker.timeoutMs', value: 250, layer: 'override' });
    expect(service.command('late', async () => 'ok').snapshot().settings.timeoutMs).toBe(250);

    expect((await call(`${url}/config/eureka.heartbeatIntervalMs`, 'PUT', { value: 0 })).status).toBe(400);
    expect((await call(`${url}/config/eureka.registryFetchIntervalMs`, 'PUT', { value: 1000 })).status).toBe(200);
    expect((await call(`${url}/config/retry.budgetPercent`, 'PUT', { value: 5 })).status).toBe(200);

    expect((await call(`${url}/config/log.level`, 'PUT', { value: 'error' })).status).toBe(200);
    logger.lines.length = 0;
    await service.markOutOfService();
    expect(logger.lines.filter((l) => l.startsWith('info'))).toEqual([]);
  });
});
