import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthMonitor } from 'karyon-ts/extend';
import { TtlCheck, bundledCheckScript, httpCheck, scriptCheck, tcpCheck, systemClock } from 'karyon-ts';
import { parseHostPort } from '../../src/health/checks/tcpCheck.js';
import type { HealthResult } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no script a check ran outlives the file.
killSpawnedProcesses();

const dir = mkdtempSync(join(tmpdir(), 'karyon-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(fn: (signal: AbortSignal) => unknown): Promise<HealthResult> {
  return (await fn(new AbortController().signal)) as HealthResult;
}

function sh(script: string): string[] {
  return ['sh', '-c', script];
}

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const status = req.url === '/big' ? 200 : Number(req.url?.slice(1) || '200');
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(req.url === '/big' ? 'x'.repeat(100_000) : `answered ${status}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('script checks', () => {
  it('map exit 0 to UP, 1 to WARN and anything else to DOWN, keeping stdout and stderr', async () => {
    expect(await run(scriptCheck({ args: sh('echo fine; exit 0') }))).toEqual({ status: 'UP', details: { exitCode: 0, output: 'fine' } });
    expect(await run(scriptCheck({ args: sh('echo slow >&2; exit 1') }))).toEqual({ status: 'WARN', details: { exitCode: 1, output: 'slow' } });
    expect(await run(scriptCheck({ args: sh('echo broken; exit 2') }))).toEqual({ status: 'DOWN', details: { exitCode: 2, output: 'broken' } });
    expect((await run(scriptCheck({ args: sh('exit 7') }))).status).toBe('DOWN');
    const killed = await run(scriptCheck({ args: sh('kill -9 $$') }));
    expect(killed).toMatchObject({ status: 'DOWN', details: { exitCode: null, signal: 'SIGKILL' } });
  });

  it('keep at most maxOutputBytes of output and say how much was dropped', async () => {
    const result = await run(scriptCheck({ args: sh('head -c 10000 /dev/zero | tr "\\0" a'), maxOutputBytes: 100 }));
    expect(result.details?.output).toBe(`${'a'.repeat(100)}\n... (9900 more bytes not kept)`);
  });

  it('run in the given directory with the given environment', async () => {
    const result = await run(scriptCheck({ args: sh('echo "$(pwd) $CHECK_WORD"'), cwd: dir, env: { PATH: process.env.PATH, CHECK_WORD: 'hello' } }));
    expect(result.details?.output).toBe(`${dir} hello`);
  });

  it('reject with a reason when the program cannot be run', async () => {
    await expect(run(scriptCheck({ args: [join(dir, 'no-such-script')] }))).rejects.toThrow(/could not be run: spawn .*ENOENT/);
  });

  it('kill the script and what it started when the timeout aborts the signal', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    const check = scriptCheck({ args: sh(`sleep 60 & echo $! > ${pidFile}; wait`) });
    const monitor = new HealthMonitor({ clock: systemClock });
    monitor.add('slow', check, { timeoutMs: 500 });
    const started = Date.now();
    await monitor.runAll();
    expect(Date.now() - started).toBeLessThan(10_000);
    const report = monitor.report().checks.slow!;
    expect(report.status).toBe('CRITICAL');
    expect(report.lastError).toMatch(/timed out after 500 ms/);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    await waitFor(() => !alive(grandchild), 5_000, 'the script\'s child to be killed');
  });

  it('reject bad arguments naming the option', () => {
    expect(() => scriptCheck({ args: [] })).toThrow(/option 'script' must be a non-empty list of strings/);
    expect(() => scriptCheck({ args: ['ok', 3 as unknown as string] })).toThrow(/option 'script'/);
    expect(() => scriptCheck({ args: ['x'], maxOutputBytes: -1 })).toThrow(/option 'maxOutputBytes'/);
  });

  it('ship a kill-switch script: critical while the file exists, with its first line as the reason', async () => {
    const file = join(dir, 'disabled');
    const check = scriptCheck({ args: [bundledCheckScript('kill-switch'), file] });
    expect(await run(check)).toMatchObject({ status: 'UP', details: { output: `kill switch ${file} is off` } });
    writeFileSync(file, 'maintenance window\n');
    expect(await run(check)).toMatchObject({ status: 'DOWN', details: { exitCode: 2, output: `kill switch ${file} is on: maintenance window` } });
    rmSync(file);
    expect((await run(check)).status).toBe('UP');
  });

  it('ship an http-200 script: passing only when the URL answers 200', async () => {
    const script = bundledCheckScript('http-200');
    expect(await run(scriptCheck({ args: [script, `${base}/200`] }))).toMatchObject({ status: 'UP', details: { output: `GET ${base}/200: HTTP 200` } });
    expect(await run(scriptCheck({ args: [script, `${base}/503`] }))).toMatchObject({ status: 'DOWN', details: { output: `GET ${base}/503: HTTP 503` } });
    expect(await run(scriptCheck({ args: [script, 'http://127.0.0.1:1/'] }))).toMatchObject({ status: 'DOWN', details: { output: 'GET http://127.0.0.1:1/: no answer' } });
  });

  it('name the bundled scripts it has', () => {
    expect(() => bundledCheckScript('nope' as 'http-200')).toThrow(/one of 'http-200', 'kill-switch'/);
  });
});

describe('HTTP checks', () => {
  it('map 2xx to UP, 429 to WARN and anything else to DOWN, keeping the body', async () => {
    expect(await run(httpCheck({ url: `${base}/200` }))).toEqual({ status: 'UP', details: { statusCode: 200, output: 'answered 200' } });
    expect(await run(httpCheck({ url: `${base}/204` }))).toMatchObject({ status: 'UP', details: { statusCode: 204 } });
    expect(await run(httpCheck({ url: `${base}/429` }))).toEqual({ status: 'WARN', details: { statusCode: 429, output: 'answered 429' } });
    expect(await run(httpCheck({ url: `${base}/503` }))).toEqual({ status: 'DOWN', details: { statusCode: 503, output: 'answered 503' } });
    expect((await run(httpCheck({ url: `${base}/301` }))).status).toBe('DOWN');
  });

  it('keep only the start of a long body', async () => {
    const result = await run(httpCheck({ url: `${base}/big`, maxOutputBytes: 10 }));
    expect(result.details?.output).toMatch(/^x{10}\n\.\.\. \(\d+ more bytes not kept\)$/);
  });

  it('fail when nothing answers, and validate the URL', async () => {
    await expect(run(httpCheck({ url: 'http://127.0.0.1:1/' }))).rejects.toThrow(/ECONNREFUSED/);
    expect(() => httpCheck({ url: 'ftp://example.com/' })).toThrow(/option 'http' must be an http:\/\/ or https:\/\/ URL/);
    expect(() => httpCheck({ url: 'not a url' })).toThrow(/option 'http'/);
  });
});

describe('TCP checks', () => {
  it('are UP when a connection opens and DOWN when it is refused', async () => {
    const tcp = createTcpServer((socket) => socket.end());
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const port = (tcp.address() as { port: number }).port;
    expect(await run(tcpCheck({ host: '127.0.0.1', port }))).toEqual({ status: 'UP', details: { output: `TCP connect 127.0.0.1:${port}: success` } });
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const down = await run(tcpCheck({ host: '127.0.0.1', port }));
    expect(down.status).toBe('DOWN');
    expect(down.details?.output).toMatch(/ECONNREFUSED/);
  });

  it('parse Consul host:port notation', () => {
    expect(parseHostPort('db.internal:5432')).toEqual({ host: 'db.internal', port: 5432 });
    expect(parseHostPort('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => parseHostPort('localhost')).toThrow(/option 'tcp' must be 'host:port'/);
    expect(() => parseHostPort('h:70000')).toThrow(/option 'tcp'/);
  });
});

describe('TTL checks', () => {
  it('are critical until the first report, follow reports, and expire after the TTL', () => {
    const clock = new ManualClock();
    const ttl = new TtlCheck({ ttlMs: 10_000, clock });
    const status = (): HealthResult => ttl.check(new AbortController().signal) as HealthResult;
    expect(status()).toEqual({ status: 'DOWN', details: { output: 'TTL check has not been reported yet' } });
    ttl.pass('warmed up');
    expect(status()).toEqual({ status: 'UP', details: { output: 'warmed up', ageMs: 0 } });
    clock.advance(4_000);
    ttl.warn('queue long');
    expect(status().status).toBe('WARN');
    clock.advance(10_000);
    expect(status()).toMatchObject({ status: 'WARN', details: { ageMs: 10_000 } });
    clock.advance(1);
    expect(status()).toEqual({
      status: 'DOWN',
      details: { output: 'TTL expired: last report 10001 ms ago (ttl 10000 ms): queue long', ageMs: 10_001 },
    });
    ttl.fail('db gone');
    expect(status()).toMatchObject({ status: 'DOWN', details: { output: 'db gone' } });
    expect(ttl.last).toEqual({ status: 'critical', output: 'db gone', at: clock.now() });
  });

  it('turn a service check CRITICAL and back through the monitor', async () => {
    const clock = new ManualClock();
    const ttl = new TtlCheck({ ttlMs: 5_000, clock });
    const monitor = new HealthMonitor({ clock });
    monitor.add('app', ttl.check);
    await monitor.runAll();
    expect(monitor.ready).toBe(false);
    ttl.pass();
    await monitor.runAll();
    expect(monitor.ready).toBe(true);
    clock.advance(5_001);
    await monitor.runAll();
    expect(monitor.ready).toBe(false);
  });

  it('reject a bad TTL or status', () => {
    expect(() => new TtlCheck({ ttlMs: 0 })).toThrow(/option 'ttlMs' must be a positive number of milliseconds/);
    expect(() => new TtlCheck({} as { ttlMs: number })).toThrow(/option 'ttlMs'/);
    expect(() => new TtlCheck({ ttlMs: 10 }).update('ok' as 'passing')).toThrow(/option 'status' must be 'passing', 'warning' or 'critical'/);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
