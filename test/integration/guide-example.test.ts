import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process this file starts outlives it.
killSpawnedProcesses();

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('the guide (docs/guide.md)', () => {
  it('examples/guide runs: Express calls Fastify through a client, config, metrics, a command, health, then stops', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/guide/main.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code, out.stderr).toBe(0);
    expect(out.stdout).toContain('GET /hello -> 200 {"message":"HELLO","quote":"Simplicity is prerequisite for reliability."}');
    expect(out.stdout).toContain('GET /healthcheck -> UP');
    expect(out.stdout).toMatch(/GET \/metrics -> greetings_served_total\{[^}]*app="greeter"[^}]*\} 1/);
    expect(out.stdout).toContain('PUT /config/greeting -> 200; GET /hello -> {"message":"BONJOUR"');
    expect(out.stdout).toContain('stopped: greeter, then quotes');
    expect(out.stderr).toMatch(/greeter STARTING -> UP/);
    expect(out.stderr).toMatch(/deregistered \S+:greeter:\d+/);
    expect(out.stderr).not.toMatch(/warning:|error:/);
  }, 60_000);
});
