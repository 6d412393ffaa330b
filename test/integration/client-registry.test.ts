import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient } from 'karyon-ts';
import type { InstanceDescriptor, InstanceStatus, RegistryChange, RegistryInstance, ServiceClient, ServiceRegistry } from 'karyon-ts';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An instance server in its own process, so it can be killed like a crashed instance. */
const SERVER_SCRIPT = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => setTimeout(() => res.end(String(process.pid)), 1));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

interface ChildServer {
  readonly child: ChildProcess;
  readonly port: number;
}

async function spawnServer(): Promise<ChildServer> {
  const child = spawn(process.execPath, ['-e', SERVER_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => killTree(child));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
  return { child, port };
}

function descriptor(id: string, port: number): InstanceDescriptor {
  return testInstance({ instanceId: id, app: 'GREETER', zone: 'z1', port });
}

/**
 * The client side of a remote registry, as a Eureka client is: a local copy of the UP instances, replaced by
 * each successful fetch from the registry server and kept as it is when the server cannot be reached.
 */
class RemoteRegistry implements ServiceRegistry {
  readonly #url: string;
  readonly #listeners = new Set<(change: RegistryChange) => void>();
  #up: readonly RegistryInstance[] = [];
  failedFetches = 0;

  constructor(url: string) {
    this.#url = url;
  }

  async refresh(): Promise<boolean> {
    try {
      const response = await fetch(this.#url);
      this.#up = Object.freeze((await response.json()) as RegistryInstance[]);
    } catch {
      this.failedFetches++;
      return false;
    }
    for (const listener of this.#listeners) listener({ added: [], removed: [], modified: [] });
    return true;
  }

  register(): Promise<void> {
    return Promise.resolve();
  }
  setStatus(_instanceId: string, _status: InstanceStatus): Promise<void> {
    return Promise.resolve();
  }
  heartbeat(): Promise<void> {
    return Promise.resolve();
  }
  deregister(): Promise<void> {
    return Promise.resolve();
  }
  instancesByApp(): readonly RegistryInstance[] {
    return this.#up;
  }
  instancesByVip(): readonly RegistryInstance[] {
    return this.#up;
  }
  upInstancesByVip(vip: string): readonly RegistryInstance[] {
    return vip === 'greeter' ? this.#up : [];
  }
  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface LoadResult {
  ok: number;
  readonly failures: unknown[];
  readonly byPid: Map<string, number>;
}

/** Calls from `workers` loops until `until()`; `live` shows the counts as they grow. */
async function load(client: ServiceClient, workers: number, until: () => boolean, live: LoadResult = { ok: 0, failures: [], byPid: new Map() }): Promise<LoadResult> {
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!until()) {
        try {
          const response = await client.request({ path: '/' });
          const pid = await response.body.text();
          if (response.statusCode === 200) live.ok++;
          else live.failures.push(response.statusCode);
          live.byPid.set(pid, (live.byPid.get(pid) ?? 0) + 1);
        } catch (error) {
          live.failures.push(error);
        }
      }
    }),
  );
  return live;
}

describe('service client resilience', () => {
  it('keeps working on its cached instance list while the registry is down', async () => {
    const source = new InMemoryRegistry();
    const children = await Promise.all([spawnServer(), spawnServer(), spawnServer()]);
    for (const [i, child] of children.entries()) await source.register(descriptor(`i${i}`, child.port), 'UP');
    const registryServer: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(source.upInstancesByVip('greeter')));
    });
    await new Promise<void>((resolve) => registryServer.listen(0, '127.0.0.1', resolve));
    const registry = new RemoteRegistry(`http://127.0.0.1:${(registryServer.address() as AddressInfo).port}/instances`);
    expect(await registry.refresh()).toBe(true);
    const client = createServiceClient({ registry, vip: 'greeter', balancer: 'round-robin' }); // every instance in turn: this is about the cached list, not the rule
    cleanups.push(() => client.close());

    // The registry goes away for good.
    await new Promise<void>((resolve) => {
      registryServer.close(() => resolve());
      registryServer.closeAllConnections();
    });
    expect(await registry.refresh()).toBe(false);
    expect(registry.failedFetches).toBe(1);

    let calls = 0;
    const before = await load(client, 4, () => ++calls > 300);
    expect(before.failures).toEqual([]);
    expect(before.byPid.size).toBe(3);

    // An instance crashes while the registry is down: nobody will tell the client, it finds out itself.
    children[0].child.kill('SIGKILL');
    await new Promise((resolve) => children[0].child.once('exit', resolve));
    calls = 0;
    const after = await load(client, 4, () => ++calls > 300);
    expect(after.failures).toEqual([]);
    expect(after.byPid.has(String(children[0].child.pid))).toBe(false);
    expect(client.stats().instances.find((i) => i.instanceId === 'i0')!.state).toBe('ejected');
  });

  it('an instance killed under load costs callers no error: cut requests and refused connections go elsewhere', async () => {
    const registry = new InMemoryRegistry();
    const children = await Promise.all(Array.from({ length: 5 }, () => spawnServer()));
    for (const [i, child] of children.entries()) await registry.register(descriptor(`i${i}`, child.port), 'UP');
    const client = createServiceClient({ registry, vip: 'greeter', balancer: 'round-robin' });
    cleanups.push(() => client.close());
    let stop = false;
    const live: LoadResult = { ok: 0, failures: [], byPid: new Map() };
    const running = load(client, 16, () => stop, live);
    const victim = children[2]!.child;
    // Under load, the victim serving its share, when it is killed.
    await waitFor(() => live.byPid.has(String(victim.pid)) && live.ok >= 100, 20_000, 'calls served by every instance');
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.once('exit', resolve));
    // Calls go on until the client has ejected the dead instance and 100 more are served.
    const atKill = live.ok;
    const stateOfVictim = () => client.stats().instances.find((i) => i.instanceId === 'i2')!.state;
    await waitFor(() => (stateOfVictim() === 'ejected' && live.ok >= atKill + 100) || live.failures.length > 0, 20_000, 'the ejection and 100 more calls');
    stop = true;
    const result = await running;
    expect(result.failures).toEqual([]);
    expect(result.ok).toBeGreaterThan(100);
    const dead = client.stats().instances.find((i) => i.instanceId === 'i2')!;
    expect(dead.state).toBe('ejected');
    expect(client.stats().retries).toBeGreaterThan(0);
  });
});
