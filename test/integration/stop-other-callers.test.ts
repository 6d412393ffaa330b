// stop() and callers that do not retry elsewhere (a Java service, curl): the service keeps serving them after the
// deregistration delay until none has called for the quiet period, at most maxDeregistrationDelayMs after it
// left UP; karyon-ts clients are refused by the out-of-service guard and not waited for.
import { createServer } from 'node:http';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { createService, createServiceClient, outOfServiceGuard } from 'karyon-ts';
import type { LifecycleOptions, Service } from 'karyon-ts';
import { InMemoryRegistry } from 'karyon-ts/testing';
import { cleanupAfterEach } from '../support/cleanups.js';

const cleanups = cleanupAfterEach();

async function startInstance(registry: InMemoryRegistry, id: string, lifecycle: LifecycleOptions): Promise<{ service: Service; url: string }> {
  let service: Service | undefined = undefined;
  const server = createServer(
    outOfServiceGuard(() => service?.status ?? 'STARTING')((req, res) => {
      req.resume();
      req.on('end', () => res.end(id));
    }),
  );
  service = createService({ name: 'orders', server, port: 0, host: '127.0.0.1', hostName: '127.0.0.1', ipAddr: '127.0.0.1', instanceId: id, registry, admin: false, lifecycle });
  await service.start();
  const started = service;
  cleanups.push(() => started.stop());
  const port = (server.address() as { port: number }).port;
  return { service: started, url: `http://127.0.0.1:${port}/orders` };
}

/** A caller that knows only the instance's address, as a Java caller with a stale cache: posts every `everyMs`. */
function otherCaller(url: string, everyMs: number): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  const counts = { ok: 0, failed: 0 };
  const loop = (async () => {
    while (running) {
      try {
        const res = await undiciRequest(url, { method: 'POST', body: 'order' });
        await res.body.text();
        if (res.statusCode === 200) counts.ok++;
        else counts.failed++;
      } catch {
        counts.failed++;
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return counts;
    },
  };
}

describe('stop() and callers that do not retry elsewhere', () => {
  it('serves them until they stop calling, then stops after the quiet period: no call fails', async () => {
    const registry = new InMemoryRegistry();
    const { service, url } = await startInstance(registry, 'o1', { deregistrationDelayMs: 100, maxDeregistrationDelayMs: 20_000, quietPeriodMs: 600 });
    const caller = otherCaller(url, 50);
    const stopAt = Date.now();
    let stoppedAt = 0;
    const stopping = service.stop().then(() => (stoppedAt = Date.now()));
    // The caller's cache drops the instance 1.5 s after stop() began.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(stoppedAt).toBe(0);
    expect(service.status).toBe('SHUTTING_DOWN');
    const callerDoneAt = Date.now();
    const counts = await caller.stop();
    await stopping;
    expect(counts.failed).toBe(0);
    expect(counts.ok).toBeGreaterThan(10);
    // Stopped one quiet period after the last call, not at the 20 s bound.
    expect(stoppedAt - callerDoneAt).toBeGreaterThanOrEqual(500);
    expect(stoppedAt - stopAt).toBeLessThan(10_000);
  });

  it('waits at most maxDeregistrationDelayMs for a caller that never stops', async () => {
    const registry = new InMemoryRegistry();
    const { service, url } = await startInstance(registry, 'o2', { deregistrationDelayMs: 100, maxDeregistrationDelayMs: 1200, quietPeriodMs: 600 });
    const caller = otherCaller(url, 50);
    const stopAt = Date.now();
    await service.stop();
    const tookMs = Date.now() - stopAt;
    const counts = await caller.stop();
    expect(tookMs).toBeGreaterThanOrEqual(1100);
    expect(tookMs).toBeLessThan(8000);
    expect(counts.ok).toBeGreaterThan(5);
  });

  it('does not wait for karyon-ts clients: the guard refuses them and they go to another instance', async () => {
    const registry = new InMemoryRegistry();
    const { service } = await startInstance(registry, 'o3', { deregistrationDelayMs: 100, maxDeregistrationDelayMs: 20_000, quietPeriodMs: 5000 });
    await startInstance(registry, 'o4', { deregistrationDelayMs: 0 });
    const client = createServiceClient({ registry, vip: 'orders', balancer: 'round-robin' });
    cleanups.push(() => client.close());
    let running = true;
    const seen = new Set<string>();
    let failed = 0;
    const loop = (async () => {
      while (running) {
        try {
          const res = await client.request({ method: 'POST', path: '/orders', body: 'order' });
          seen.add(await res.body.text());
          if (res.statusCode !== 200) failed++;
        } catch {
          failed++;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopAt = Date.now();
    await service.stop();
    const tookMs = Date.now() - stopAt;
    running = false;
    await loop;
    expect(seen).toEqual(new Set(['o3', 'o4']));
    expect(failed).toBe(0);
    // Only the fixed delay (plus the drain): the 5 s quiet period never started, no one else called.
    expect(tookMs).toBeLessThan(2500);
  });

  it('keeps a set deregistrationDelayMs a fixed wait unless maxDeregistrationDelayMs is set', async () => {
    const registry = new InMemoryRegistry();
    const { service, url } = await startInstance(registry, 'o5', { deregistrationDelayMs: 200, quietPeriodMs: 5000 });
    const caller = otherCaller(url, 50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopAt = Date.now();
    await service.stop();
    const tookMs = Date.now() - stopAt;
    await caller.stop();
    expect(tookMs).toBeLessThan(2500);
  });
});
