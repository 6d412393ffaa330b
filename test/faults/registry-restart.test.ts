import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient, EurekaRegistry } from 'karyon-ts';
import type { ServiceClient, ViewProtectionEvent } from 'karyon-ts';
import { memoryLogger } from '../support/logger.js';
import { descriptorFor, freePort, kill9, killAll, listed, startRegistryProcess, waitUntil } from './support.js';

// A registry that restarts empty under a running fleet: the callee instances stay alive throughout, a caller
// keeps calling, and not one call fails. The registry process serves reads at once after its restart (as Spring
// Cloud's server does by default), so the client's own guard is what keeps the view: it refuses to trade three
// instances for the zero or one a just-restarted registry lists, and follows the registry again once the
// instances have registered again. (The instances' return after a registry restart on their own, at their next
// heartbeat, is registry-outage.test.ts.)

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await killAll();
});

/** A callee: an HTTP server that stays up throughout, and its registration, which the test can stop and make again. */
interface Callee {
  /** Stops heartbeating (the process stays up and keeps serving). */
  readonly stopRegistering: () => Promise<void>;
  /** Registers UP again, as the instance does at its next heartbeat after the registry lost it. */
  readonly register: () => Promise<void>;
}

async function callee(url: string, index: number): Promise<Callee> {
  const server = createServer((_req, res) => res.end(`callee-${index}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const descriptor = descriptorFor('restarted', '127.0.0.1', port);
  let registry: EurekaRegistry | undefined;
  const register = async (): Promise<void> => {
    registry = new EurekaRegistry({ serviceUrls: [url], fetchRegistry: false, heartbeatIntervalMs: 1000 });
    const made = registry;
    cleanups.push(() => made.close());
    await made.register(descriptor, 'UP');
  };
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  await register();
  return { register, stopRegistering: async () => registry?.close() };
}

/** Calls `client` back to back until `stop()`; counts what succeeded and what failed (with the first error). */
function keepCalling(client: ServiceClient, stop: () => boolean): Promise<{ ok: number; failed: number; errors: string[] }> {
  const tally = { ok: 0, failed: 0, errors: [] as string[] };
  const loop = async (): Promise<void> => {
    // Bounded in count as well as by `stop`.
    for (let i = 0; i < 100_000 && !stop(); i++) {
      try {
        const res = await client.request({ path: '/' });
        await res.body.text();
        if (res.statusCode === 200) tally.ok++;
        else tally.failed++;
      } catch (error) {
        tally.failed++;
        if (tally.errors.length < 5) tally.errors.push(String((error as Error).message));
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };
  return Promise.all([loop(), loop()]).then(() => tally);
}

describe('a registry that restarts empty', () => {
  it('does not empty the callers: 0 failed calls, and the view follows the registry again once repopulated', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/eureka`;
    let registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    const callees: Callee[] = [];
    for (let i = 0; i < 3; i++) callees.push(await callee(url, i));
    const logger = memoryLogger();
    const caller = new EurekaRegistry({ serviceUrls: [url], registryFetchIntervalMs: 100, retryInitialDelayMs: 100, logger });
    cleanups.push(() => caller.close());
    const protections: ViewProtectionEvent[] = [];
    caller.on('viewProtection', (event) => protections.push(event));
    const client = createServiceClient({ registry: caller, vip: 'restarted', retries: { maxRetries: 0 } });
    cleanups.push(() => client.close());
    await waitUntil(() => caller.upInstancesByVip('restarted').length === 3, 'the caller to see three instances');

    let stopped = false;
    const calls = keepCalling(client, () => stopped);
    await waitUntil(() => true, 'a moment of calls', 1000);
    await kill9(registry);
    // The callees register again only once the caller has seen the empty registry: what a heartbeat interval
    // longer than the caller's fetch interval does, without the race of timing it.
    await Promise.all(callees.map((c) => c.stopRegistering()));
    registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    const restartedAt = performance.now();
    await waitUntil(() => protections.some((event) => event.protecting), 'the guard to keep the view');
    expect(caller.upInstancesByVip('restarted')).toHaveLength(3);
    for (const c of callees) await c.register();
    await waitUntil(() => protections.some((event) => !event.protecting), 'the view to follow the registry again', 15_000);
    const convergedMs = performance.now() - restartedAt;
    expect(caller.protectedApps).toEqual([]);
    expect((await listed(url))?.size).toBe(3);
    stopped = true;
    const tally = await calls;

    expect(tally.failed, tally.errors.join('; ')).toBe(0);
    expect(tally.ok).toBeGreaterThan(50);
    expect(protections[0]).toMatchObject({ app: 'RESTARTED', protecting: true, reason: 'shrunk', held: 3 });
    expect(protections.at(-1)).toMatchObject({ app: 'RESTARTED', protecting: false, reason: 'converged', held: 3, listed: 3 });
    expect(logger.lines.some((line) => line.startsWith('warn eureka lists') && line.includes('keeping the last good view'))).toBe(true);
    expect(caller.upInstancesByVip('restarted')).toHaveLength(3);
    console.info(`registry restart: ${tally.ok} calls, ${tally.failed} failed; view followed the registry again ${Math.round(convergedMs)} ms after the restart`);
  }, 60_000);

  it('without the guard, the same restart fails calls (what the guard prevents)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/eureka`;
    let registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    const callees: Callee[] = [];
    for (let i = 0; i < 3; i++) callees.push(await callee(url, i));
    const caller = new EurekaRegistry({ serviceUrls: [url], registryFetchIntervalMs: 100, retryInitialDelayMs: 100, viewProtectionRatio: 0 });
    cleanups.push(() => caller.close());
    const client = createServiceClient({ registry: caller, vip: 'restarted', retries: { maxRetries: 0 } });
    cleanups.push(() => client.close());
    await waitUntil(() => caller.upInstancesByVip('restarted').length === 3, 'the caller to see three instances');
    let emptied = false;
    caller.onChange(() => {
      if (caller.upInstancesByVip('restarted').length === 0) emptied = true;
    });
    await kill9(registry);
    await Promise.all(callees.map((c) => c.stopRegistering()));
    registry = await startRegistryProcess(port, ['--wait-when-empty', '0']);
    await waitUntil(() => emptied, 'the view to empty');
    await expect(client.request({ path: '/' })).rejects.toMatchObject({ code: 'ERR_NO_INSTANCES' });
  }, 60_000);

  it('the development registry refuses reads for --wait-when-empty after an empty start, and serves writes', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/eureka`;
    const registry = await startRegistryProcess(port, ['--wait-when-empty', '1500ms']);
    expect(registry.out.stdout).toContain('reads refused for 1500ms after this empty start');
    const writer = new EurekaRegistry({ serviceUrls: [url], fetchRegistry: false });
    cleanups.push(() => writer.close());
    await writer.register(descriptorFor('waiting', '127.0.0.1', 9100), 'UP');
    const refusedAt = performance.now();
    const read = await request(`${url}/apps`, { headers: { accept: 'application/json' } });
    expect(read.statusCode).toBe(403);
    const refusal = await read.body.text();
    expect(refusal).toMatch(/registry reads are refused for another \d+ ms: this server started with an empty registry/);
    // The window the server says is left, counted from before the refused read (the server started it earlier,
    // which a loaded machine makes unknowable here).
    const leftMs = Number(/another (\d+) ms/.exec(refusal)?.[1]);
    expect(leftMs).toBeGreaterThan(0);
    expect(leftMs).toBeLessThanOrEqual(1500);
    await waitUntil(async () => (await listed(url))?.size === 1, 'reads to be served', 10_000, 50);
    expect(performance.now() - refusedAt).toBeGreaterThanOrEqual(leftMs - 50);
  }, 30_000);
});
