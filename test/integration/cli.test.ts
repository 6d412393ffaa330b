import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/runCli.js';
import type { CliIo } from '../../src/cli/CliCommand.js';
import { encodeInstance } from '../../src/registry/eureka/wire.js';
import { EurekaServer } from 'karyon-ts/testing';
import { killSpawnedProcesses } from '../support/processes.js';

// The `karyon` command as users run it: a real child process, real signals, real HTTP.

const root = fileURLToPath(new URL('../..', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const { track } = killSpawnedProcesses();

function karyon(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Runs the CLI in this process, with captured output and a stop signal the test controls. */
async function runInProcess(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = { stdout: '', stderr: '' };
  stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  const stop = new AbortController();
  const io: CliIo = { stdout, stderr, stopSignal: stop.signal, version };
  const code = runCli(args, io);
  return { code, out, stop };
}

function registrationBody(id: string, status: string): string {
  return JSON.stringify({
    instance: encodeInstance(
      {
        instanceId: id,
        app: 'GREETER',
        vipAddress: 'greeter',
        secureVipAddress: 'greeter',
        hostName: id,
        ipAddr: '127.0.0.1',
        port: 8080,
        portEnabled: true,
        securePort: 443,
        securePortEnabled: false,
        zone: 'default',
        metadata: {},
        homePageUrl: '',
        statusPageUrl: 'http://127.0.0.1:8077/status',
        healthCheckUrl: 'http://127.0.0.1:8077/healthcheck',
        leaseRenewalIntervalMs: 1_000,
        leaseDurationMs: 2_000,
      },
      status,
      Date.now(),
    ),
  });
}

async function send(method: string, url: string, body?: string): Promise<number> {
  const response = await request(url, {
    method: method as 'GET',
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
  });
  await response.body.text();
  return response.statusCode;
}

describe('karyon registry (child process)', () => {
  it('serves Eureka, logs one line per registration and status change, evicts, and stops cleanly on SIGTERM', async () => {
    const { child, out, exited } = karyon(['registry', '--port', '0', '--host', '127.0.0.1', '--eviction-interval', '200ms']);
    await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+\/eureka/.test(out.stdout), 'the registry to listen');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/eureka)/.exec(out.stdout)![1]!;

    expect(await send('POST', `${url}/apps/GREETER`, registrationBody('g-1', 'STARTING'))).toBe(204);
    expect(await send('POST', `${url}/v2/apps/GREETER`, registrationBody('g-1', 'UP'))).toBe(204);
    expect(await send('PUT', `${url}/apps/GREETER/g-1`)).toBe(200);
    expect(await send('PUT', `${url}/apps/GREETER/g-1/status?value=OUT_OF_SERVICE`)).toBe(200);
    expect(await send('POST', `${url}/apps/GREETER`, '{"instance":')).toBe(400);
    // No more heartbeats: the 2 s lease the instance sent runs out and the 200 ms eviction tick removes it.
    await waitFor(() => out.stdout.includes('evicted GREETER/g-1'), 'the eviction');

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const events = out.stdout
      .split('\n')
      .filter((line) => /^\d\d:\d\d:\d\d\.\d{3} /.test(line))
      .map((line) => line.slice(13));
    expect(events).toEqual([
      'registered GREETER/g-1 as STARTING at 127.0.0.1:8080 (vip greeter, lease 2s)',
      'GREETER/g-1 STARTING -> UP (re-registered)',
      'GREETER/g-1 UP -> OUT_OF_SERVICE (override set)',
      expect.stringMatching(/^evicted GREETER\/g-1: no renewal for [\d.]+s \(lease 2s\)$/),
    ]);
    expect(out.stdout).toMatch(/SIGTERM received, stopping\nkaryon registry: stopped\n$/);
    expect(out.stderr).toBe('');
  });

  it('stops cleanly on SIGINT, with keep-alive clients connected', async () => {
    const { child, out, exited } = karyon(['registry', '--port', '0', '--host', '127.0.0.1', '--verbose']);
    await waitFor(() => out.stdout.includes('Ctrl-C to stop'), 'the registry to listen');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/eureka)/.exec(out.stdout)![1]!;
    expect(await send('POST', `${url}/apps/GREETER`, registrationBody('g-1', 'UP'))).toBe(204);
    expect(await send('PUT', `${url}/apps/GREETER/g-1`)).toBe(200);
    await waitFor(() => out.stdout.includes('renewed GREETER/g-1'), 'the verbose heartbeat line');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out.stdout).toContain('karyon registry: stopped');
  });

  it('prints help and the version, and refuses usage mistakes with exit code 2', async () => {
    const help = karyon(['--help']);
    expect(await help.exited).toBe(0);
    expect(help.out.stdout).toMatch(/^Usage: karyon <command>/);
    expect(help.out.stdout).toMatch(/registry\s+run a development Eureka server/);

    const versionRun = karyon(['--version']);
    expect(await versionRun.exited).toBe(0);
    expect(versionRun.out.stdout).toBe(`${version}\n`);

    const bad = karyon(['registry', '--port', 'eighty']);
    expect(await bad.exited).toBe(2);
    expect(bad.out.stderr).toBe(`karyon registry: --port must be an integer between 0 and 65535 (got "eighty")\nRun 'karyon registry --help' for usage.\n`);
  });

  it('fails with exit code 1 and a reason when the port is taken', async () => {
    const taken = new EurekaServer({ port: 0, host: '127.0.0.1' });
    const port = await taken.listen();
    try {
      const run = karyon(['registry', '--port', String(port), '--host', '127.0.0.1']);
      expect(await run.exited).toBe(1);
      expect(run.out.stderr).toMatch(new RegExp(`^karyon registry: Eureka server could not listen on port ${port}: .*EADDRINUSE`));
    } finally {
      await taken.close();
    }
  });
});

describe('karyon (in process)', () => {
  it('names the flag, what it expects and what it got', async () => {
    const cases: [string[], RegExp][] = [
      [['registry', '--bogus'], /^karyon registry: Unknown option '--bogus'/],
      [['registry', 'extra'], /^karyon registry: .*positional argument/i],
      [['registry', '--port', '70000'], /--port must be an integer between 0 and 65535 \(got "70000"\)/],
      [['registry', '--lease-duration', '0'], /--lease-duration must be a positive duration in ms, or with a unit as in 500ms, 30s, 2m \(got "0"\)/],
      [['registry', '--eviction-interval', 'soon'], /--eviction-interval must be a positive duration/],
      [['registry', '--response-cache=-1'], /--response-cache must be a duration/],
      [['registry', '--response-cache', '-1'], /Option '--response-cache' argument is ambiguous/],
      [['registry', '--host', ''], /option 'host' must be a non-empty string/],
      [['registry', '--port'], /--port/],
      [['sidecar'], /^karyon sidecar: --config <file> is required/],
      [['nonsense'], /^karyon: unknown command 'nonsense' \(known: 'registry', 'sidecar'\)/],
    ];
    for (const [args, message] of cases) {
      const run = await runInProcess(args);
      expect({ args, code: await run.code }).toEqual({ args, code: 2 });
      expect(run.out.stderr).toMatch(message);
    }
    const none = await runInProcess([]);
    expect(await none.code).toBe(2);
    expect(none.out.stderr).toMatch(/^Usage: karyon <command>/);
    const registryHelp = await runInProcess(['registry', '-h']);
    expect(await registryHelp.code).toBe(0);
    expect(registryHelp.out.stdout).toContain('--lease-duration <ms>');
  });

  it('accepts durations with units and applies every flag to the server', async () => {
    const run = await runInProcess([
      'registry',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--lease-duration',
      '45s',
      '--eviction-interval',
      '1m',
      '--delta-retention',
      '90000',
      '--response-cache',
      '1500ms',
    ]);
    await waitFor(() => run.out.stdout.includes('Ctrl-C to stop'), 'the registry to listen');
    expect(run.out.stdout).toContain('lease 45s, eviction every 60s, delta kept 90s, response cache every 1500ms');
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/eureka)/.exec(run.out.stdout)![1]!;
    const body = JSON.parse(registrationBody('g-1', 'UP'));
    delete body.instance.leaseInfo;
    expect(await send('POST', `${url}/apps/GREETER`, JSON.stringify(body))).toBe(204);
    const response = await request(`${url}/apps/GREETER/g-1`, { headers: { accept: 'application/json' } });
    expect(((await response.body.json()) as { instance: { leaseInfo: { durationInSecs: number } } }).instance.leaseInfo.durationInSecs).toBe(45);
    run.stop.abort('SIGTERM');
    expect(await run.code).toBe(0);
    expect(run.out.stdout).toContain('karyon registry: stopped');
  });
});
