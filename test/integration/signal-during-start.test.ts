import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process this file starts outlives it.
killSpawnedProcesses();

const root = fileURLToPath(new URL('../..', import.meta.url));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

describe('a signal while the service starts', () => {
  it('SIGTERM during a slow initialize hook stops gracefully: the STARTING record leaves Eureka before the process ends', async () => {
    await using eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
    await eureka.listen();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/slow-start-service.ts'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KARYON_APP_NAME: 'slow-starter', PORT: '0', KARYON_EUREKA_URLS: `${eureka.url}/v2`, KARYON_DEREGISTRATION_DELAY_MS: '0' },
    });
    children.push(child);
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => out.stdout.includes('"initializing"') && eureka.instances().some((l) => l.instance.status === 'STARTING'), 20_000, 'STARTING in Eureka');
    child.kill('SIGTERM');
    const code = await exited;
    // start() rejects (ERR_START_ABORTED) once stop() has finished, so the process ends only after deregistering.
    expect(eureka.instances()).toEqual([]);
    expect(out.stdout).toContain('{"state":"SHUTTING_DOWN"}');
    expect(out.stdout).toContain('{"state":"STOPPED"}');
    expect(out.stderr).toMatch(/deregistered \S+:slow-starter:\d+/);
    expect(out.stderr).toContain('ERR_START_ABORTED');
    expect(code).not.toBe(0);
  }, 60_000);
});
