import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient, isKaryonError } from 'karyon-ts';
import { EurekaServer, InMemoryRegistry, testInstance } from 'karyon-ts/testing';
import type { Child } from './support.js';
import { freePort, killAll, listed, spawnChild, spawnNode, waitUntil } from './support.js';

// kill -9 of a callee in the middle of a request, and of the process a sidecar runs: what each side sees, and
// how long it takes. (kill -9 of the registry itself: registry-outage and registry-restart.)

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await killAll();
});

/** A callee process answering after 400 ms, printing `got <method>` when a request arrives. */
async function slowCallee(): Promise<{ child: Child; port: number }> {
  const port = await freePort();
  const script = `
    const http = require('node:http');
    http.createServer((req, res) => {
      process.stdout.write('got ' + req.method + '\\n');
      req.resume();
      setTimeout(() => res.end('from ' + process.pid), 400);
    }).listen(${port}, '127.0.0.1', () => process.stdout.write('listening\\n'));
    setTimeout(() => process.exit(0), 120000);`;
  const child = spawnChild([process.execPath, '-e', script]);
  await waitUntil(() => child.out.stdout.includes('listening'), 'the callee to listen');
  return { child, port };
}

describe('kill -9', () => {
  it('of a callee mid-request: a GET is answered by another instance, a POST fails without being sent again', async () => {
    const callees = [await slowCallee(), await slowCallee()];
    const registry = new InMemoryRegistry();
    for (const [i, callee] of callees.entries()) await registry.register(testInstance({ instanceId: `c${i}`, app: 'VICTIM', port: callee.port }), 'UP');
    const client = createServiceClient({ registry, vip: 'victim', balancer: 'round-robin' });
    cleanups.push(() => client.close());
    const gotBy = (method: string): Child | undefined => callees.find((c) => c.child.out.stdout.includes(`got ${method}`))?.child;

    const started = performance.now();
    const get = client.request({ path: '/' });
    await waitUntil(() => gotBy('GET') !== undefined, 'the GET to arrive', 5000, 2);
    const victim = gotBy('GET')!;
    victim.child.kill('SIGKILL');
    const res = await get;
    const body = await res.body.text();
    const getMs = performance.now() - started;
    expect(res.statusCode).toBe(200);
    const survivor = callees.find((c) => c.child !== victim)!;
    expect(body).toBe(`from ${survivor.child.child.pid}`);

    // The survivor is the one left: kill it while a POST is in flight there.
    const postStarted = performance.now();
    const post = client.request({ path: '/', method: 'POST', body: 'once' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await waitUntil(() => survivor.child.out.stdout.includes('got POST'), 'the POST to arrive', 5000, 2);
    survivor.child.child.kill('SIGKILL');
    const error = await post;
    const postMs = performance.now() - postStarted;
    expect(isKaryonError(error), String(error)).toBe(true);
    // Sent once: the dead instance got it, and no other instance was asked to do it again.
    expect(survivor.child.out.stdout.match(/got POST/g)).toHaveLength(1);
    expect(victim.out.stdout).not.toContain('got POST');
    console.info(`kill -9 mid-request: GET answered by the other instance after ${Math.round(getMs)} ms; POST failed with ${(error as { code: string }).code} after ${Math.round(postMs)} ms, sent once`);
  }, 30_000);

  it("of a sidecar's process: the instance leaves the registry and the sidecar exits", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'karyon-kill9-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => eureka.close());
    await eureka.listen();
    const pidFile = join(dir, 'pid');
    const config = join(dir, 'sidecar.json');
    await writeFile(
      config,
      JSON.stringify({
        app: { name: 'killed', port: await freePort(), ipAddr: '127.0.0.1' },
        port: 0,
        admin: false,
        eureka: { serviceUrls: [eureka.url], registryFetchIntervalMs: 200, heartbeatIntervalMs: 500 },
        lifecycle: { deregistrationDelayMs: 100 },
        process: { command: process.execPath, args: ['-e', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`] },
      }),
    );
    const sidecar = spawnNode('src/cli/main.ts', ['sidecar', '--config', config]);
    await waitUntil(async () => [...((await listed(eureka.url)) ?? new Map<string, string>()).values()].includes('UP'), 'UP in Eureka', 30_000);
    await waitUntil(async () => (await readFile(pidFile, 'utf8').catch(() => '')) !== '', 'the process to start', 10_000);
    const pid = Number(await readFile(pidFile, 'utf8'));
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    await waitUntil(async () => (await listed(eureka.url))?.size === 0, 'the instance to leave the registry', 10_000, 10);
    const goneMs = performance.now() - killedAt;
    const code = await sidecar.exited;
    const exitMs = performance.now() - killedAt;
    expect(code).not.toBe(0);
    expect(sidecar.out.stderr).toMatch(/process \d+ (exited|was killed|ended).*SIGKILL|signal SIGKILL|SIGKILL/);
    console.info(`kill -9 of a sidecar's process: out of the registry after ${Math.round(goneMs)} ms, sidecar exited with ${code} after ${Math.round(exitMs)} ms`);
  }, 60_000);
});
