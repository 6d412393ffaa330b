import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EurekaServer } from 'karyon-ts/testing';
import { consumerProject } from '../support/consumerProject.js';
import type { ConsumerProject } from '../support/consumerProject.js';
import { waitFor } from '../support/logger.js';
import { freePort, killSpawnedProcesses } from '../support/processes.js';

// A Nest 11 project beside the built package, compiled as Nest projects compile (experimentalDecorators and
// emitDecoratorMetadata, against the published .d.ts): examples/nest runs, and a Nest application
// (test/fixtures/nest/app.ts, Express and Fastify) is driven through start, OUT_OF_SERVICE, a failing health
// check and SIGTERM under load, against a development Eureka server.

const root = fileURLToPath(new URL('../..', import.meta.url));
const { track } = killSpawnedProcesses();

let project: ConsumerProject;
beforeAll(async () => {
  project = await consumerProject();
  // What a Nest project installs itself.
  for (const dependency of ['@nestjs', 'reflect-metadata', 'rxjs']) symlinkSync(join(root, 'node_modules', dependency), join(project.dir, 'node_modules', dependency), 'dir');
  for (const file of ['app.ts', 'main.ts']) project.write(join('example', file), readFileSync(join(root, 'examples', 'nest', file), 'utf8'));
  project.write(join('fixture', 'app.ts'), readFileSync(join(root, 'test', 'fixtures', 'nest', 'app.ts'), 'utf8'));
  mkdirSync(join(project.dir, 'out'), { recursive: true });
  const output = await project.check(['--noEmit', 'false', '--experimentalDecorators', '--emitDecoratorMetadata', '--outDir', 'out']);
  expect(output).toBe('');
}, 240_000);
afterAll(() => project?.remove());


function runNode(file: string, env: Record<string, string>) {
  const child = track(spawn(process.execPath, [file], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

describe('NestJS (karyon-ts/nest)', () => {
  it('examples/nest runs: STARTING then UP, a quote through the injected client and a command, health, then a graceful stop', async () => {
    const { out, exited } = runNode('out/example/main.js', { PORT: String(await freePort()) });
    const { code } = await exited;
    expect(code, out.stderr).toBe(0);
    expect(out.stdout).toMatch(/quotes is UP on port \d+, admin http:\/\/127\.0\.0\.1:\d+/);
    expect(out.stdout).toMatch(/GET \/quote\/apple -> 200 \{"item":"Apple","price":3,"by":"127\.0\.0\.1:quotes:\d+"\}/);
    expect(out.stdout).toContain('GET /healthcheck -> 200 UP');
    expect(out.stdout).toContain('catalog: releasing 2 items');
    expect(out.stdout).toContain('quotes is STOPPED');
    expect(out.stderr).toMatch(/registering \S+:quotes:\d+ as STARTING/);
    expect(out.stderr).toMatch(/deregistered \S+:quotes:\d+/);
    expect(out.stderr).not.toMatch(/warning:|error:|ERROR/);
  }, 60_000);

  for (const platform of ['express', 'fastify'] as const) {
    it(`${platform}: registers STARTING at module init, UP after the bootstrap and initialize hooks; OUT_OF_SERVICE; a failing check; SIGTERM under load loses no request`, async () => {
      await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
      await eureka.listen();
      const port = await freePort();
      const { child, out, exited } = runNode('out/fixture/app.js', { PORT: String(port), EUREKA_URL: `${eureka.url}/v2`, PLATFORM: platform, DEREGISTRATION_DELAY_MS: '1500' });
      const status = (): string | undefined => eureka.instances().find((lease) => lease.instance.app === 'NEST-PROBE')?.instance.status;
      const seen: { status: string | undefined; stdout: string }[] = [];
      const watch = setInterval(() => {
        const now = status();
        if (seen.at(-1)?.status !== now) seen.push({ status: now, stdout: out.stdout });
      }, 5);
      try {
        await waitFor(() => seen.some((s) => s.status === 'UP'), 30_000, `UP in Eureka (${out.stderr})`);
        // STARTING came first, before Nest listened and before the hooks finished; UP only after all of them.
        const starting = seen.find((s) => s.status === 'STARTING');
        expect(starting, JSON.stringify(seen)).toBeDefined();
        expect(starting!.stdout).not.toContain('"listening"');
        expect(starting!.stdout).not.toContain('bootstrap-hook');
        const up = seen.find((s) => s.status === 'UP')!;
        expect(up.stdout).toContain('initialize-end');
        expect(up.stdout).toContain('bootstrap-hook');
        const admin = (/"admin":"([^"]+)"/.exec(out.stdout) ?? [])[1];
        expect(admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        expect(admin).not.toBe(`http://127.0.0.1:${port}`);

        // The operator takes it out of traffic, then back.
        const put = (to: string) => request(`${admin}/status`, { method: 'PUT', body: JSON.stringify({ status: to }), headers: { 'content-type': 'application/json' } });
        expect((await put('OUT_OF_SERVICE')).statusCode).toBe(200);
        await waitFor(() => status() === 'OUT_OF_SERVICE', 10_000, 'OUT_OF_SERVICE in Eureka');
        expect((await put('UP')).statusCode).toBe(200);
        await waitFor(() => status() === 'UP', 10_000, 'UP again');

        // A failing health check (an @healthCheck() method of a provider) makes it DOWN; recovering, UP.
        const app = `http://127.0.0.1:${port}`;
        expect((await request(`${app}/health/down`, { method: 'POST' })).statusCode).toBe(201);
        await waitFor(() => status() === 'DOWN', 10_000, 'DOWN in Eureka');
        const health = await request(`${admin}/healthcheck`);
        expect(health.statusCode).toBe(503);
        await health.body.dump();
        expect((await request(`${app}/health/up`, { method: 'POST' })).statusCode).toBe(201);
        await waitFor(() => status() === 'UP', 10_000, 'UP after the check recovered');

        // Load: 16 keep-alive callers in a loop on a slow route; SIGTERM; they stop sending once Eureka says the
        // instance is no longer UP (as registry-following clients do). Every request sent must be answered 200.
        const agent = new Agent({ connections: 16 });
        const results: number[] = [];
        const errors: unknown[] = [];
        let sendMore = true;
        let answeredAfterSignal = 0;
        let signalled = false;
        const callers = Array.from({ length: 16 }, async () => {
          while (sendMore) {
            try {
              const res = await request(`${app}/slow`, { dispatcher: agent });
              await res.body.dump();
              results.push(res.statusCode);
              if (signalled) answeredAfterSignal++;
            } catch (error) {
              errors.push(error);
            }
          }
        });
        await waitFor(() => results.length >= 32, 10_000, 'load');
        signalled = true;
        child.kill('SIGTERM');
        await waitFor(() => status() !== 'UP', 10_000, 'the instance leaving UP');
        sendMore = false;
        await Promise.all(callers);
        await agent.close();
        const { code, signal } = await exited;

        expect(errors).toEqual([]);
        expect(results.every((s) => s === 200)).toBe(true);
        expect(answeredAfterSignal).toBeGreaterThan(0);
        // Nest re-raises the signal once closed: the process ends by SIGTERM, after deregistering.
        expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
        expect(status()).toBeUndefined();
        const states = out.stdout.split('\n').filter((l) => l.startsWith('{"state"')).map((l) => (JSON.parse(l) as { state: string }).state);
        expect(states.slice(-2)).toEqual(['SHUTTING_DOWN', 'STOPPED']);
        expect(out.stdout.indexOf('"SHUTTING_DOWN"')).toBeLessThan(out.stdout.indexOf('shutdown-hook'));
        expect(out.stderr).toMatch(/drained|deregistered/);
        expect(out.stderr).toMatch(/deregistered \S+:nest-probe:\d+/);
        expect(out.stderr).not.toMatch(/error:|ERROR|failed/i);
      } finally {
        clearInterval(watch);
      }
    }, 90_000);
  }
});
