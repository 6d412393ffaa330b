import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { freePort, killSpawnedProcesses } from '../support/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { track } = killSpawnedProcesses();

/** Runs a TypeScript file with tsx, as `npm start` does, collecting its output. */
function run(file: string, args: string[] = [], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  track(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}


describe('processes', () => {
  it('SIGTERM stops the service gracefully once, finishes the request in flight, and the process exits by itself', async () => {
    const { child, out, exited } = run('test/fixtures/signal-service.ts');
    await waitFor(() => out.stdout.includes('"port"'), 20_000, 'the service to start');
    const port = (JSON.parse(out.stdout.split('\n').find((l) => l.includes('"port"'))!) as { port: number }).port;
    const inFlight = request(`http://127.0.0.1:${port}/`).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    await waitFor(() => out.stdout.includes('"request"'), 20_000, 'the request to reach the service');
    child.kill('SIGTERM');
    child.kill('SIGTERM'); // a second signal while stopping is ignored
    expect(await inFlight).toEqual({ status: 200, body: 'finished' });
    expect(await exited).toBe(0);
    const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => 'state' in l || 'hook' in l)).toEqual([
      { state: 'UP' },
      { state: 'SHUTTING_DOWN' },
      { hook: 'shutdown' },
      { state: 'STOPPED' },
    ]);
    // The service's own lines (on stderr by default), none a warning or an error.
    expect(out.stderr).toContain('signalled SHUTTING_DOWN -> STOPPED');
    expect(out.stderr).not.toMatch(/warning:|error:/);
  });

  it('the quickstart (npm start) runs its story and exits by itself with no failed call', async () => {
    const { out, exited } = run('examples/quickstart/main.ts');
    expect(await exited).toBe(0);
    expect(out.stderr).toBe('');
    const text = out.stdout;
    expect(text).toMatch(/eureka\s+development Eureka server: http:\/\/127\.0\.0\.1:\d+\/eureka\/apps/);
    expect(text).toMatch(/eureka\s+registered GREETER\/greeter-3 as STARTING/);
    expect(text).toMatch(/eureka\s+GREETER\/greeter-2 UP -> OUT_OF_SERVICE \(override set\)/);
    expect(text).toMatch(/eureka\s+cancelled GREETER\/greeter-3/);
    expect(text).toMatch(/greeter-3\s+STARTING -> UP/);
    expect(text).toMatch(/greeter-3 warming up\s+traffic: .*greeter-3\s+0%/);
    const slowShare = Number(/greeter-1 slow \(p2c-ewma\)\s+traffic: greeter-1\s+(\d+)%/.exec(text)?.[1]);
    expect(slowShare).toBeLessThan(33); // less than an even share, even on a loaded machine
    // A dependency failing takes an instance DOWN through its health check, and back UP when it recovers.
    expect(text).toMatch(/greeter-2\s+UP -> DOWN\s+\(a readiness check is critical\)/);
    expect(text).toMatch(/eureka\s+GREETER\/greeter-2 UP -> DOWN/);
    expect(text).toMatch(/greeter-2\s+DOWN -> UP/);
    // The DOWN an instance sends while it stops is labelled as the shutdown it is.
    expect(text).toMatch(/eureka\s+GREETER\/greeter-3 UP -> DOWN .*greeter-3 shutting down/);
    // The caller registers at the port its own server listens on.
    expect(text).toMatch(/caller\s+registered at http:\/\/127\.0\.0\.1:\d+\//);
    expect(text).not.toContain(':9999');
    expect(text).toMatch(/greeter-2\s+UP -> OUT_OF_SERVICE/);
    expect(text).toMatch(/greeter-2 OUT_OF_SERVICE\s+traffic: .*greeter-2\s+0%/);
    expect(text).toMatch(/greeter-3 stopped\s+traffic: .*greeter-3\s+0%/);
    expect(text).toMatch(/\d+ calls, 0 failed/);
  }, 60_000);

  it('the decorators example runs and exits by itself', async () => {
    const { out, exited } = run('examples/decorators/main.ts');
    expect(await exited).toBe(0);
    expect(out.stderr).not.toMatch(/warning:|error:/);
    expect(out.stdout).toContain('GET /?lang=fr -> 200 bonjour');
    expect(out.stdout).toContain('greetings check PASSING');
    expect(out.stdout).toContain('lifecycle: SHUTTING_DOWN -> STOPPED');
  }, 60_000);

  it("the README's main example is examples/greeter/main.ts, word for word", () => {
    const readme = readFileSync(`${root}/README.md`, 'utf8');
    const block = /## Use it[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    const file = readFileSync(`${root}/examples/greeter/main.ts`, 'utf8');
    expect(block).toBe(file.slice(file.indexOf('\n') + 1));
  });

  it('npm run greeter registers in a Eureka server named only by the environment, honours KARYON_ADMIN_PORT, and leaves Eureka on SIGTERM', async () => {
    await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
    await eureka.listen();
    const adminPort = await freePort();
    const { child, out, exited } = run('examples/greeter/main.ts', [], {
      KARYON_APP_NAME: 'env-greeter',
      PORT: '0',
      KARYON_EUREKA_URLS: `${eureka.url}/v2`,
      KARYON_EUREKA_HEARTBEAT_MS: '1000',
      KARYON_EUREKA_FETCH_MS: '500',
      KARYON_DEREGISTRATION_DELAY_MS: '300',
      KARYON_ADMIN_PORT: String(adminPort),
      KARYON_ZONE: 'zone-b',
    });
    await waitFor(() => eureka.instances().some((l) => l.instance.status === 'UP'), 20_000, 'the greeter to be UP in Eureka');
    const [lease] = eureka.instances();
    expect(lease!.instance).toMatchObject({ app: 'ENV-GREETER', vipAddress: 'env-greeter', zone: 'zone-b', status: 'UP' });
    expect(lease!.instance.port).toBeGreaterThan(0);
    const hello = await request(`http://127.0.0.1:${lease!.instance.port}/hello?lang=fr`);
    expect(await hello.body.json()).toEqual({ message: 'bonjour', from: lease!.instance.instanceId });
    // The documented variable reached the admin server, and the log says where it listens.
    const health = await request(`http://127.0.0.1:${adminPort}/healthcheck`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    expect(out.stderr).toContain(`admin server listening on http://127.0.0.1:${adminPort}`);
    child.kill('SIGTERM');
    await waitFor(() => eureka.instances().every((l) => l.instance.status === 'DOWN'), 10_000, 'DOWN in Eureka');
    expect(await exited).toBe(0);
    expect(eureka.instances()).toEqual([]);
    expect(out.stderr).toContain('registering');
    expect(out.stderr).toMatch(/deregistered \S+:env-greeter:\d+/);
    expect(out.stderr).not.toMatch(/warning:|error:/);
  }, 60_000);

  it('npm run greeter with a bad environment says which variable is wrong', async () => {
    const { out, exited } = run('examples/greeter/main.ts', [], { PORT: 'eighty' });
    expect(await exited).not.toBe(0);
    expect(out.stderr).toContain('ERR_INVALID_CONFIG');
    expect(out.stderr).toMatch(/app\.port/);
  }, 60_000);
});
