import { createServer } from 'node:http';
import type { RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { OUT_OF_SERVICE_HEADER, RETRIES_ELSEWHERE_HEADER, createService, createServiceClient, expressOutOfServiceGuard, fastifyOutOfServiceHook, outOfServiceGuard } from 'karyon-ts';
import type { InstanceDescriptor, InstanceStatus, RegistryChange, RegistryInstance, Service, ServiceRegistry } from 'karyon-ts';
import { InMemoryRegistry, ManualClock, testInstance } from 'karyon-ts/testing';
import { cleanupAfterEach } from '../support/cleanups.js';
import { waitFor } from '../support/logger.js';

const cleanups = cleanupAfterEach();
const listenOn = cleanups.listen;

const hello: RequestListener = (req, res) => {
  req.resume();
  req.on('end', () => res.end('hello'));
};

function descriptor(id: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: 'GREETER', zone: 'z1', port });
}

/** A request as a karyon-ts client sends it: it takes a refused request to another instance. */
const retrying = { [RETRIES_ELSEWHERE_HEADER]: '1' };

async function expectRefused(url: string, status: string): Promise<void> {
  const response = await undiciRequest(url, { method: 'POST', body: 'ignored', headers: retrying });
  expect(response.statusCode).toBe(503);
  expect(response.headers[OUT_OF_SERVICE_HEADER]).toBe(status);
  expect(response.headers['retry-after']).toBe('1');
  expect(await response.body.json()).toMatchObject({ status });
}

describe('out-of-service guard', () => {
  it('node:http: answers 503 with the status header while OUT_OF_SERVICE or SHUTTING_DOWN, and serves otherwise', async () => {
    let status = 'UP';
    const port = await listenOn(createServer(outOfServiceGuard(() => status)(hello)));
    const url = `http://127.0.0.1:${port}/`;
    expect(await (await undiciRequest(url)).body.text()).toBe('hello');
    status = 'OUT_OF_SERVICE';
    await expectRefused(url, 'OUT_OF_SERVICE');
    // The connection stays usable after a refused request with an unread body.
    await expectRefused(url, 'OUT_OF_SERVICE');
    status = 'SHUTTING_DOWN';
    const closing = await undiciRequest(url, { headers: retrying });
    expect(closing.statusCode).toBe(503);
    expect(closing.headers.connection).toBe('close');
    await closing.body.dump();
    status = 'UP';
    expect(await (await undiciRequest(url)).body.text()).toBe('hello');
    expect(() => outOfServiceGuard(() => status, { statuses: 'DOWN' as unknown as string[] })).toThrow(/option 'statuses' must be an array/);
    expect(() => outOfServiceGuard(() => status, { callers: 'some' as 'all' })).toThrow(/option 'callers' must be 'retrying' or 'all'/);
  });

  it('serves callers that do not retry elsewhere while it is up, unless told to refuse every caller', async () => {
    let status = 'OUT_OF_SERVICE';
    const url = `http://127.0.0.1:${await listenOn(createServer(outOfServiceGuard(() => status)(hello)))}/`;
    const all = `http://127.0.0.1:${await listenOn(createServer(outOfServiceGuard(() => status, { callers: 'all' })(hello)))}/`;
    // A Java caller or curl would count a 503 as a failed call: it is served, and refused only by `callers: 'all'`.
    for (status of ['OUT_OF_SERVICE', 'SHUTTING_DOWN']) {
      const served = await undiciRequest(url, { method: 'POST', body: 'order' });
      expect(served.statusCode).toBe(200);
      expect(await served.body.text()).toBe('hello');
      const refused = await undiciRequest(all, { method: 'POST', body: 'order' });
      expect(refused.statusCode).toBe(503);
      expect(refused.headers[OUT_OF_SERVICE_HEADER]).toBe(status);
      await refused.body.dump();
      await expectRefused(url, status);
    }
  });

  it('Express: the middleware stops requests before the routes', async () => {
    let status = 'UP';
    const app = express();
    app.use(expressOutOfServiceGuard(() => status));
    app.post('/', (_req, res) => {
      res.send('hello from express');
    });
    const port = await listenOn(createServer(app));
    const url = `http://127.0.0.1:${port}/`;
    expect(await (await undiciRequest(url, { method: 'POST' })).body.text()).toBe('hello from express');
    status = 'OUT_OF_SERVICE';
    await expectRefused(url, 'OUT_OF_SERVICE');
    status = 'UP';
    expect(await (await undiciRequest(url, { method: 'POST' })).body.text()).toBe('hello from express');
  });

  it('Fastify: the onRequest hook stops requests before the routes', async () => {
    let status = 'UP';
    const app = Fastify();
    app.addHook('onRequest', fastifyOutOfServiceHook(() => status));
    app.post('/', () => 'hello from fastify');
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
    expect(await (await undiciRequest(url, { method: 'POST' })).body.text()).toBe('hello from fastify');
    status = 'SHUTTING_DOWN';
    await expectRefused(url, 'SHUTTING_DOWN');
    status = 'UP';
    expect(await (await undiciRequest(url, { method: 'POST' })).body.text()).toBe('hello from fastify');
  });
});

/**
 * A registry as a client of a remote registry sees it: a cached copy that catches up only when `refresh()`
 * is called (Eureka clients fetch every 30 s), so a status change reaches clients late.
 */
class LaggingRegistry implements ServiceRegistry {
  readonly inner = new InMemoryRegistry();
  readonly #view = new Map<string, readonly RegistryInstance[]>();
  readonly #listeners = new Set<(change: RegistryChange) => void>();
  register(instance: InstanceDescriptor, status: InstanceStatus): Promise<void> {
    return this.inner.register(instance, status);
  }
  setStatus(instanceId: string, status: InstanceStatus): Promise<void> {
    return this.inner.setStatus(instanceId, status);
  }
  heartbeat(instanceId: string): Promise<void> {
    return this.inner.heartbeat(instanceId);
  }
  deregister(instanceId: string): Promise<void> {
    return this.inner.deregister(instanceId);
  }
  instancesByApp(app: string): readonly RegistryInstance[] {
    return this.inner.instancesByApp(app);
  }
  instancesByVip(vip: string): readonly RegistryInstance[] {
    return this.inner.instancesByVip(vip);
  }
  upInstancesByVip(vip: string): readonly RegistryInstance[] {
    let view = this.#view.get(vip);
    if (view === undefined) {
      view = this.inner.upInstancesByVip(vip);
      this.#view.set(vip, view);
    }
    return view;
  }
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  refresh(): void {
    this.#view.clear();
    for (const listener of this.#listeners) listener({ added: [], removed: [], modified: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('clients and out-of-service instances', () => {
  it('a client skips an instance that answers out of service at once, before the registry says so', async () => {
    const registry = new LaggingRegistry();
    const statuses = ['UP', 'UP', 'UP'];
    const hits = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const server = createServer(
        outOfServiceGuard(() => statuses[i]!)((req, res) => {
          hits[i]!++;
          hello(req, res);
        }),
      );
      await registry.register(descriptor(`i${i}`, await listenOn(server)), 'UP');
    }
    let refused = 0;
    // The client's own clock: the back-off ends when the test says so, not when a loaded machine gets there.
    const clock = new ManualClock();
    const client = createServiceClient({ registry, vip: 'greeter', balancer: 'round-robin', outOfServiceBackoffMs: 300, clock });
    cleanups.push(() => client.close());
    const call = async (): Promise<void> => {
      const response = await client.request({ method: 'POST', path: '/', body: 'order' });
      expect(response.statusCode).toBe(200);
      expect(await response.body.text()).toBe('hello');
      refused += response.tries - 1;
    };
    for (let i = 0; i < 6; i++) await call();
    expect(hits).toEqual([2, 2, 2]);

    statuses[1] = 'OUT_OF_SERVICE'; // the registry still lists i1 as UP
    for (let i = 0; i < 30; i++) await call();
    expect(refused).toBe(1); // one POST was refused by i1 and went elsewhere; none failed
    expect(hits[1]).toBe(2);
    expect(client.stats().instances.find((i) => i.instanceId === 'i1')).toMatchObject({ state: 'draining', status: 'UP' });

    // Back in service: after the back-off, one request probes it and it is readmitted.
    statuses[1] = 'UP';
    clock.advance(350);
    for (let i = 0; i < 30; i++) await call();
    expect(hits[1]).toBeGreaterThan(5);
    expect(client.stats().instances.find((i) => i.instanceId === 'i1')!.state).toBe('active');
  });

  it('rolling graceful restarts under load cost callers nothing, with the registry lagging behind', async () => {
    const registry = new LaggingRegistry();
    const services: Service[] = [];
    const startInstance = async (index: number): Promise<Service> => {
      let service: Service | undefined = undefined;
      const server = createServer(outOfServiceGuard(() => service?.status ?? 'STARTING')(hello));
      service = createService({
        name: 'greeter',
        server,
        port: 0,
        host: '127.0.0.1',
        hostName: '127.0.0.1',
        ipAddr: '127.0.0.1',
        instanceId: `greeter-${index}-${services.length}`,
        registry,
        admin: false,
        lifecycle: { deregistrationDelayMs: 100, drainTimeoutMs: 2000 },
      });
      await service.start();
      services.push(service);
      cleanups.push(() => service.stop());
      return service;
    };
    const running = await Promise.all([0, 1, 2].map((i) => startInstance(i)));
    registry.refresh();
    const client = createServiceClient({ registry, vip: 'greeter' });
    cleanups.push(() => client.close());

    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const response = await client.request({ method: 'POST', path: '/', body: 'x' });
          if (response.statusCode === 200) ok++;
          else failures.push(response.statusCode);
          await response.body.dump();
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    // Traffic flows (20 more calls served) before each restart and after the last one.
    const served = async (): Promise<void> => {
      const target = ok + 20;
      await waitFor(() => ok >= target || failures.length > 0, 20_000, '20 more calls served');
    };
    for (let i = 0; i < 3; i++) {
      await served();
      // Stop one instance; the registry tells clients only later (on refresh), as Eureka does.
      await running[i]!.stop();
      const replacement = await startInstance(i);
      expect(replacement.status).toBe('UP');
      registry.refresh();
    }
    await served();
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
  });
});
