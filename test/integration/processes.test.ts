import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { waitFor } from '../support/logger.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** Runs a TypeScript file with tsx, as `npm start` does, collecting its output. */
function run(file: string, args: string[] = []) {
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
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
    await new Promise((resolve) => setTimeout(resolve, 100));
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
    expect(out.stderr).toBe('');
  });

  it('the quickstart (npm start) runs its story and exits by itself with no failed call', async () => {
    const { out, exited } = run('examples/quickstart/main.ts');
    expect(await exited).toBe(0);
    expect(out.stderr).toBe('');
    const text = out.stdout;
    expect(text).toContain('greeter-3 registered as STARTING');
    expect(text).toMatch(/greeter-3\s+STARTING -> UP/);
    expect(text).toMatch(/greeter-2\s+UP -> OUT_OF_SERVICE/);
    expect(text).toMatch(/greeter-2 OUT_OF_SERVICE\s+calls landed: greeter-1\s+\d+\s+greeter-2\s+0\s/);
    expect(text).toMatch(/greeter-3 stopped\s+calls landed: .*greeter-3\s+0$/m);
    expect(text).toMatch(/\d+ calls, 0 failed/);
  }, 60_000);

  it('the decorators example runs and exits by itself', async () => {
    const { out, exited } = run('examples/decorators/main.ts');
    expect(await exited).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('GET /?lang=fr -> 200 bonjour');
    expect(out.stdout).toContain('greetings check PASSING');
    expect(out.stdout).toContain('lifecycle: SHUTTING_DOWN -> STOPPED');
  }, 60_000);
});
