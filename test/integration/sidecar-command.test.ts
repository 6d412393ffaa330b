// `karyon sidecar` run in this process through runCli(), with a stop signal the test controls: the same paths
// as test/integration/sidecar-cli.test.ts (which runs the command as users do, as a child process), here where
// the coverage of the test processes counts them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli.js';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { freePort, killSpawnedProcesses } from '../support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-command-'));
// The sidecars' applications run in process groups of their own: whatever failed, the sweep kills them.
killSpawnedProcesses();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let eureka: EurekaServer;
beforeAll(async () => {
  eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
  await eureka.listen();
});
afterAll(() => eureka.close());

function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Runs `karyon sidecar ...args` in this process; `stop` aborts with a signal's name, as the bin does. */
function sidecar(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = { stdout: '', stderr: '' };
  stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const stop = new AbortController();
  const code = runCli(['sidecar', ...args], { stdout, stderr, stopSignal: stop.signal, version: '0.0.0-test' });
  return { code, out, stop };
}

async function statusesOf(app: string): Promise<string[]> {
  const response = await fetch(`${eureka.url}/apps/${app.toUpperCase()}`, { headers: { accept: 'application/json' } });
  if (response.status !== 200) return [];
  const body = (await response.json()) as { application: { instance: { status: string } | { status: string }[] } };
  return [body.application.instance].flat().map((instance) => instance.status);
}

describe('karyon sidecar in process', () => {
  it('--help, --keys and --check answer and exit 0; a configuration mistake exits 2 naming the key', async () => {
    const help = sidecar(['--help']);
    expect(await help.code).toBe(0);
    expect(help.out.stdout).toContain('--keys');
    const keys = sidecar(['--keys']);
    expect(await keys.code).toBe(0);
    expect(keys.out.stdout).toMatch(/^app\.port\s+KARYON_SIDECAR_APP_PORT, PORT\s+/m);
    const good = sidecar(['--config', file('good.json', { app: { name: 'good', port: 8123 }, process: { command: 'sleep', args: ['60'] } }), '--check']);
    expect(await good.code).toBe(0);
    expect(good.out.stdout).toContain('good.json is valid');
    const bad = sidecar(['--config', file('bad.json', { app: { name: 'a', port: 1, nmae: 'b' } }), '--check']);
    expect(await bad.code).toBe(2);
    expect(bad.out.stderr).toMatch(/unknown key 'app\.nmae'/);
  });

  it('registers UP, and on SIGTERM stops in order, deregisters and returns 0', async () => {
    const path = file('term.json', {
      app: { name: 'in-process', port: await freePort(), ipAddr: '127.0.0.1' },
      port: 0,
      admin: { port: 0, host: '127.0.0.1' },
      eureka: { serviceUrls: [eureka.url] },
      lifecycle: { deregistrationDelayMs: 0 },
      process: { command: 'sh', args: ['-c', "trap 'exit 0' TERM; while true; do sleep 0.1; done"] },
    });
    const run = sidecar(['--config', path]);
    try {
      await waitFor(() => run.out.stdout.includes('in-process is UP'), 20_000, 'UP');
      expect(await statusesOf('in-process')).toEqual(['UP']);
      run.stop.abort('SIGTERM');
      expect(await run.code).toBe(0);
      expect(run.out.stdout).toContain('SIGTERM received, stopping');
      expect(run.out.stdout).toMatch(/karyon sidecar: stopped\n$/);
      expect(await statusesOf('in-process')).toEqual([]);
    } finally {
      run.stop.abort('SIGTERM');
      await run.code;
    }
  });

  it('returns the code of a process that ended by itself, and of one that ended before it was ready (1 for 0)', async () => {
    const crash = sidecar([
      '--config',
      file('crash.json', {
        app: { name: 'crashes', port: await freePort(), ipAddr: '127.0.0.1' },
        port: 0,
        admin: false,
        lifecycle: { deregistrationDelayMs: 0 },
        process: { command: 'sh', args: ['-c', 'sleep 1; exit 7'] },
      }),
    ]);
    const early = sidecar([
      '--config',
      file('early.json', {
        app: { name: 'early', port: await freePort() },
        port: 0,
        admin: false,
        process: { command: 'sh', args: ['-c', 'sleep 0.2; exit 0'] },
        checks: [{ name: 'never', ttlMs: '1m' }],
      }),
    ]);
    try {
      expect(await crash.code).toBe(7);
      expect(crash.out.stderr).toContain('the process ended by itself; exiting with 7');
      expect(await early.code).toBe(1);
      expect(early.out.stderr).toMatch(/karyon sidecar: start failed: .*the process exited with code 0 before it was ready/);
    } finally {
      for (const run of [crash, early]) run.stop.abort('SIGTERM');
      await Promise.all([crash.code, early.code]);
    }
  });

  it('stopped before the process is ready: returns 0 saying so', async () => {
    const run = sidecar([
      '--config',
      file('interrupted.json', {
        app: { name: 'interrupted', port: await freePort() },
        port: 0,
        admin: false,
        lifecycle: { deregistrationDelayMs: 0 },
        process: { command: 'sh', args: ['-c', "trap 'exit 0' TERM; while true; do sleep 0.1; done"] },
        checks: [{ name: 'never', ttlMs: '1m' }],
      }),
    ]);
    try {
      await waitFor(() => run.out.stdout.includes('STARTING') || run.out.stderr.includes('STARTING'), 20_000, 'STARTING');
      run.stop.abort('SIGINT');
      expect(await run.code).toBe(0);
      expect(run.out.stdout).toContain('karyon sidecar: stopped before the application was ready');
    } finally {
      run.stop.abort('SIGINT');
      await run.code;
    }
  });
});
