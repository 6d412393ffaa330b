import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import Eureka from 'karyon-ts/eureka-js-client';
import type { EurekaClientConfig } from 'karyon-ts/eureka-js-client';
import { isKaryonError } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { freePort, killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process this file starts outlives it.
killSpawnedProcesses();

// The drop-in's own promises beyond eureka-js-client: the statuses it honours, the retries it makes, the
// options it refuses, and an app from eureka-js-client's README running with only its import changed.

const root = fileURLToPath(new URL('../..', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const dataCenterInfo = { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' };

async function startServer(port = 0): Promise<EurekaServer> {
  const server = new EurekaServer({ port, host: '127.0.0.1' });
  await server.listen();
  cleanups.push(() => server.close());
  return server;
}

function instance(host: string, extra: Record<string, unknown> = {}) {
  return { app: 'dropin', hostName: host, ipAddr: '127.0.0.1', port: { $: 3000, '@enabled': 'true' }, vipAddress: 'dropin', dataCenterInfo, ...extra };
}

function dropIn(config: EurekaClientConfig) {
  const client = new Eureka({ logger: quiet, cwd: root, ...config });
  cleanups.push(() => new Promise<void>((resolve) => client.stop(() => resolve())));
  const start = () => new Promise<Error | null>((resolve) => client.start((error) => resolve(error)));
  const stop = () => new Promise<Error | null>((resolve) => client.stop((error) => resolve(error)));
  return { client, start, stop };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function eurekaAt(server: EurekaServer, extra: Record<string, unknown> = {}) {
  return { host: '127.0.0.1', port: server.port ?? 0, servicePath: '/eureka/apps/', heartbeatInterval: 100, registryFetchInterval: 100, maxRetries: 0, ...extra };
}

describe('the eureka-js-client drop-in', () => {
  it("registers STARTING when the instance says so, and setStatus() reports UP, OUT_OF_SERVICE and DOWN", async () => {
    const server = await startServer();
    const { client, start } = dropIn({ instance: instance('starting-1', { status: 'STARTING' }), eureka: eurekaAt(server, { filterUpInstances: false }) });
    expect(await start()).toBeNull();
    expect(server.instance('DROPIN', 'starting-1')?.instance.status).toBe('STARTING');
    for (const status of ['UP', 'OUT_OF_SERVICE', 'UP', 'DOWN'] as const) {
      await client.setStatus(status);
      expect(server.instance('DROPIN', 'starting-1')?.instance.status).toBe(status);
      await waitFor(() => client.getInstancesByAppId('dropin')[0]?.status === status, `the client's own view to show ${status}`);
    }
  });

  it('keeps every status through deltas (MODIFIED included) and filters to UP by default', async () => {
    const server = await startServer();
    const a = dropIn({ instance: instance('delta-a'), eureka: eurekaAt(server), shouldUseDelta: true });
    const b = dropIn({ instance: instance('delta-b'), eureka: eurekaAt(server, { filterUpInstances: false }), shouldUseDelta: true });
    expect(await a.start()).toBeNull();
    expect(await b.start()).toBeNull();
    await waitFor(() => a.client.getInstancesByVipAddress('dropin').length === 2, 'both instances, UP');
    const deltas: string[] = [];
    b.client.registry!.on('fetch', (event) => deltas.push(`${event.kind}:${event.ok}`));
    await a.client.setStatus('OUT_OF_SERVICE');
    await waitFor(() => a.client.getInstancesByVipAddress('dropin').length === 1, 'the UP view to drop delta-a');
    await waitFor(() => b.client.getInstancesByAppId('DROPIN').find((i) => i.instanceId === 'delta-a')?.status === 'OUT_OF_SERVICE', 'the full view to show delta-a OUT_OF_SERVICE');
    expect(b.client.getInstancesByAppId('dropin')).toHaveLength(2);
    expect(deltas).toContain('delta:true');
    expect(deltas.filter((d) => d.startsWith('full'))).toEqual([]);
  });

  it('retries a registration that failed: start() reports the failure, and it registers once the server is there', async () => {
    // A port nobody listens on yet.
    const port = await freePort();
    const { client, start } = dropIn({
      instance: instance('retry-1'),
      eureka: { host: '127.0.0.1', port, servicePath: '/eureka/apps/', maxRetries: 0, requestRetryDelay: 50, fetchRegistry: false },
    });
    let registered = 0;
    client.on('registered', () => registered++);
    const error = await start();
    expect(error).toBeInstanceOf(Error);
    expect(isKaryonError(error, 'ERR_REGISTRY_UNAVAILABLE')).toBe(true);
    const server = await startServer(port);
    await waitFor(() => registered === 1, 'the retried registration');
    expect(server.instance('DROPIN', 'retry-1')?.instance.status).toBe('UP');
  });

  it('sends the headers and auth a requestMiddleware adds, and tells what each request is', async () => {
    const server = await startServer();
    const seen: string[] = [];
    const { start } = dropIn({
      instance: instance('mw-1'),
      eureka: eurekaAt(server),
      requestMiddleware: (request, done) => {
        seen.push(`${request.method} ${request.uri}`);
        request.headers['x-team'] = 'orders';
        request.auth = { user: 'u', password: 'p' };
        done(request);
      },
    });
    expect(await start()).toBeNull();
    expect(seen).toContain('POST DROPIN');
    expect(seen).toContain('GET ');
    expect(server.instance('DROPIN', 'mw-1')).toBeDefined();
  });

  it('refuses options it cannot honour, naming them, instead of ignoring them', () => {
    const refused = (config: Record<string, unknown>) => {
      try {
        new Eureka({ logger: quiet, cwd: root, ...config });
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refused({ eureka: { host: 'h', port: 1, useDns: true }, instance: instance('x') })).toMatch(/'eureka.useDns' is not supported/);
    expect(refused({ eureka: { host: 'h', port: 1, colour: 'red' }, instance: instance('x') })).toMatch(/'eureka.colour' is not an option/);
    expect(refused({ eureka: { host: 'h', port: 1 }, instance: instance('x', { asgName: 'a' }) })).toMatch(/'instance.asgName'/);
    expect(refused({ eureka: { host: 'h', port: 1 }, instance: instance('x', { dataCenterInfo: { name: 'Amazon' } }) })).toMatch(/'Amazon' is not supported/);
    expect(refused({ eureka: { host: 'h', port: 1 }, instance: instance('x', { status: 'UNKNOWN' }) })).toMatch(/'instance.status'/);
    expect(refused({ eureka: { host: 'h', port: 1 }, instance: { app: 'a' } })).toMatch(/'instance.vipAddress' is required/);
    expect(refused({ eureka: { serviceUrls: { default: ['http://h:1/eureka/'] } }, instance: instance('x') })).toMatch(/must end with the applications path/);
    expect(refused({ eureka: { host: 'h', port: 1 }, instance: instance('x') })).toBe('accepted');
  });

  it('refuses an eureka-client.yml where eureka-js-client would read one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dropin-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'eureka-client.yml'), 'eureka:\n  host: h\n');
    expect(() => new Eureka({ cwd: dir, eureka: { host: 'h', port: 1 }, instance: instance('x') })).toThrow(/reads no configuration files/);
  });

  it("runs eureka-js-client's README app with only the import changed", async () => {
    const server = await startServer();
    // The README's default service path is /eureka/v2/apps/; the development server answers there too.
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'examples/eureka-js-client/app.ts'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EUREKA_HOST: '127.0.0.1', EUREKA_PORT: String(server.port) },
    });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout).toContain('event: registered');
    expect(stdout).toContain('complete');
    expect(stdout).toContain('instances of JQSERVICE: localhost:8080 UP');
    expect(stdout).toContain('instances of jq.test.something.com: 1');
    expect(stdout).toContain('event: deregistered');
    expect(stdout).toContain('stopped');
    expect(server.instance('JQSERVICE', 'localhost')).toBeUndefined();
  }, 60_000);
});
