import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService } from 'karyon-ts';
import type { Service, EurekaRegistry } from 'karyon-ts';
import type { RegistryReport } from 'karyon-ts/extend';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function json<T>(url: string): Promise<T> {
  const res = await request(url);
  expect(res.statusCode).toBe(200);
  return (await res.body.json()) as T;
}

async function eurekaService(): Promise<{ service: Service; eureka: EurekaServer }> {
  const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
  cleanups.push(() => eureka.close());
  await eureka.listen();
  const service = createService({
    name: 'watcher',
    admin: { port: 0 },
    logger: false,
    lifecycle: { deregistrationDelayMs: 0 },
    registry: { eureka: { serviceUrls: [`${eureka.url}/v2`], registryFetchIntervalMs: 100, heartbeatIntervalMs: 1000 } },
  });
  cleanups.push(() => service.stop());
  await service.start();
  return { service, eureka };
}

describe('what an operator finds on /instances and /registry', () => {
  it('/instances on a service with no client points at /registry, which holds the whole view', async () => {
    const { service } = await eurekaService();
    const instances = await json<{ vips: object; registry: string; note: string }>(`${service.adminUrl}/instances`);
    expect(instances.vips).toEqual({});
    expect(instances.registry).toBe('/registry');
    expect(instances.note).toContain('/registry');
    await waitFor(async () => (await json<RegistryReport>(`${service.adminUrl}/registry`)).apps.some((a) => a.name === 'WATCHER'), 10_000, 'the view to hold WATCHER');
  });

  it('/registry shows when the view was last fetched, full or delta, and whether the hash matched', async () => {
    const { service } = await eurekaService();
    let report: RegistryReport | undefined;
    await waitFor(async () => {
      report = await json<RegistryReport>(`${service.adminUrl}/registry`);
      return report.fetch?.last?.kind === 'delta';
    }, 10_000, 'a delta fetch');
    const fetch = report!.fetch!;
    // Which mode is in force: the whole registry (full, then deltas) or only the VIPs called.
    expect(fetch.mode).toEqual({ mode: 'full', vips: [] });
    expect(fetch.last).toMatchObject({ kind: 'delta', ok: true, statusCode: 200, hashMatched: true });
    expect(fetch.last!.at).toBeGreaterThan(Date.now() - 10_000);
    expect(fetch.lastSuccessAt).toBe(fetch.last!.at);
    expect(fetch.lastHashMismatch).toBeUndefined();
    // A delta whose hash differs is shown as such (the client then fetches the full registry).
    const registry = service.registry as EurekaRegistry;
    // No more real fetches meanwhile: the one already scheduled finishes, then the interval is a minute.
    registry.setIntervals({ registryFetchIntervalMs: 60_000 });
    await new Promise((resolve) => registry.once('fetch', resolve));
    registry.emit('fetch', { ...deltaEvent });
    registry.emit('hashMismatch', { remote: 'UP_2_', local: 'UP_1_', versionsDelta: '7' });
    const after = (await json<RegistryReport>(`${service.adminUrl}/registry`)).fetch!;
    expect(after.lastHashMismatch).toMatchObject({ remote: 'UP_2_', local: 'UP_1_' });
    expect(after.last).toMatchObject({ kind: 'delta', ok: true, hashMatched: false });
  });

  it('a service on an in-memory registry shows no fetch: its view is always current', async () => {
    const service = createService({ name: 'local', admin: { port: 0 }, logger: false, lifecycle: { deregistrationDelayMs: 0 } });
    cleanups.push(() => service.stop());
    await service.start();
    const report = await json<RegistryReport>(`${service.adminUrl}/registry`);
    expect(report.fetch).toBeUndefined();
    expect(report.apps.map((a) => a.name)).toEqual(['LOCAL']);
  });
});

const deltaEvent = {
  kind: 'delta',
  reason: undefined,
  ok: true,
  statusCode: 200,
  durationMs: 1,
  instances: 0,
  skipped: 0,
  bytes: 10,
  cached: 1,
  added: 0,
  modified: 0,
  removed: 0,
  serviceUrl: 'http://127.0.0.1/eureka',
  nextRetryMs: undefined,
  error: undefined,
} as const;
