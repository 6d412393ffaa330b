import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, EurekaRegistry } from 'karyon-ts';
import type { RegistrationEvent } from 'karyon-ts';
import { FakeEureka, applicationsDocument, refusedUrl, wireInstance } from '../fixtures/eureka/fakeEureka.js';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

// The client with real time and real sockets: a service's lifecycle driving the registration end to end,
// a Eureka that is down while the service starts, a balancer-facing view fed by real fetches, and a process
// that exits by itself while registered.

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function fakeEureka(port = 0): Promise<FakeEureka> {
  const server = await FakeEureka.start('/eureka', port);
  cleanups.push(() => server.close());
  return server;
}

function eureka(urls: string[], options: Partial<ConstructorParameters<typeof EurekaRegistry>[0]> = {}): EurekaRegistry {
  const registry = new EurekaRegistry({ serviceUrls: urls, fetchRegistry: false, jitterRatio: 0, ...options });
  cleanups.push(() => registry.close());
  return registry;
}

describe('EurekaRegistry with a service lifecycle, in real time', () => {
  it('registers STARTING, goes UP after the initialize hooks, OUT_OF_SERVICE and back, then DOWN and cancel on stop', async () => {
    const server = await fakeEureka();
    const registry = eureka([server.url]);
    const app = createServer((_req, res) => res.end('hello'));
    const service = createService({
      name: 'greeter',
      server: app,
      port: 0,
      host: '127.0.0.1',
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      zone: 'zone-b',
      registry,
      admin: { port: 0, host: '127.0.0.1' },
      lifecycle: { deregistrationDelayMs: 0 },
    });
    cleanups.push(() => service.stop());
    let postsDuringInit = -1;
    service.onInitialize(() => {
      postsDuringInit = server.writes.length;
    });
    await service.start();
    expect(postsDuringInit).toBe(1);
    const id = service.instanceId!;
    const port = service.instance!.port;
    const adminPort = new URL(service.adminUrl!).port;
    const [starting, up] = server.requests.filter((r) => r.method === 'POST').map((r) => r.json.instance);
    expect(starting).toMatchObject({
      instanceId: `127.0.0.1:greeter:${port}`,
      app: 'GREETER',
      status: 'STARTING',
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      port: { $: port, '@enabled': 'true' },
      vipAddress: 'greeter',
      healthCheckUrl: `http://127.0.0.1:${adminPort}/healthcheck`,
      statusPageUrl: `http://127.0.0.1:${adminPort}/status`,
      homePageUrl: `http://127.0.0.1:${port}/`,
      metadata: expect.objectContaining({ zone: 'zone-b' }),
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    });
    expect(up).toMatchObject({ status: 'UP' });
    expect(Number(up.lastDirtyTimestamp)).toBeGreaterThan(Number(starting.lastDirtyTimestamp));
    // The health URL registered is the admin /healthcheck, and it answers.
    const health = await request(up.healthCheckUrl as string);
    expect(health.statusCode).toBe(200);
    await health.body.dump();

    await service.markOutOfService();
    await service.markUp();
    await service.stop();
    const path = `/apps/GREETER/${id}`;
    expect(server.writes.map((line) => line.split('&')[0])).toEqual([
      'POST /apps/GREETER',
      'POST /apps/GREETER',
      `PUT ${path}/status?value=OUT_OF_SERVICE`,
      `DELETE ${path}/status?value=UP`,
      'POST /apps/GREETER',
      `DELETE ${path}`,
    ]);
    expect(server.requests.filter((r) => r.method === 'POST').map((r) => r.json.instance.status)).toEqual(['STARTING', 'UP', 'DOWN']);
  });

  it('starts while Eureka is down, without waiting for it, and registers once it comes up', async () => {
    const url = await refusedUrl();
    const registry = eureka([url], { retryInitialDelayMs: 50, retryMaxDelayMs: 200 });
    const failures: RegistrationEvent[] = [];
    registry.on('registration', (event) => {
      if (!event.ok) failures.push(event);
    });
    const service = createService({
      name: 'greeter',
      port: 8080,
      hostName: 'h',
      ipAddr: '10.0.0.1',
      registry,
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
    });
    cleanups.push(() => service.stop());
    const started = Date.now();
    await service.start();
    expect(service.status).toBe('UP');
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor(() => failures.length >= 3, 10_000, 'a few failed attempts');
    const server = await fakeEureka(Number(new URL(url).port));
    await waitFor(() => server.writes.length > 0, 10_000, 'the registration once Eureka is up');
    expect(server.requests[0]!.json.instance.status).toBe('UP');
  });

  it('feeds the view from real fetches, gzipped, and picks up a change through the delta', async () => {
    const server = await fakeEureka();
    const a = wireInstance({ instanceId: 'a:greeter:8080', ipAddr: '10.0.0.1' });
    const b = wireInstance({ instanceId: 'b:greeter:8080', ipAddr: '10.0.0.2', status: 'STARTING' });
    let delta = applicationsDocument([], 'STARTING_1_UP_1_');
    server.on((r) =>
      r.path === '/apps'
        ? { status: 200, body: applicationsDocument([a, b], 'STARTING_1_UP_1_'), gzip: true }
        : r.path === '/apps/delta'
          ? { status: 200, body: delta, gzip: true }
          : undefined,
    );
    const registry = eureka([server.url], { fetchRegistry: true, registryFetchIntervalMs: 100 });
    await registry.refresh();
    expect(registry.upInstancesByVip('greeter').map((i) => i.ipAddr)).toEqual(['10.0.0.1']);
    const changed = new Promise<void>((resolve) => registry.onChange(() => resolve()));
    delta = applicationsDocument([{ ...b, status: 'UP', actionType: 'MODIFIED' }], 'UP_2_');
    await changed;
    expect(registry.upInstancesByVip('greeter').map((i) => i.ipAddr)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('never keeps a process alive: a registered, fetching process exits on its own', async () => {
    const server = await fakeEureka();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/eureka/registered-process.ts', server.url], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cleanups.push(async () => {
      killTree(child);
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => stdout.includes('registered'), 20_000, 'the child to register');
    const registeredAt = Date.now();
    // Heartbeats and fetches are due every 30 s: exiting well before proves their timers do not hold it.
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - registeredAt).toBeLessThan(15_000);
    expect(server.lines).toEqual(['GET /apps', 'POST /apps/GREETER']);
  });
});
