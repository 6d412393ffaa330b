import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defineConfig } from 'karyon-ts';
import { createSidecar } from 'karyon-ts/sidecar';
import type { Sidecar, SidecarOptions } from 'karyon-ts/sidecar';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';
import { freePort, killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here (the sidecars' applications included) outlives the file.
killSpawnedProcesses();

// Real child processes under real sidecars, registered in a real (development) Eureka server.

/** An application as the sidecar sees it: a plain Node HTTP server configured by its environment. */
const upstreamSource = [
  "import { createServer } from 'node:http';",
  "import { createSocket } from 'node:dgram';",
  "import { readFileSync } from 'node:fs';",
  'const port = Number(process.env.PORT);',
  'const started = Date.now();',
  'const readyAfter = Number(process.env.READY_AFTER_MS || 0);',
  "let greeting = 'hello';",
  'let sick = false;',
  'const load = () => {',
  '  const file = process.env.KARYON_CONFIG_FILE;',
  '  if (!file) return;',
  "  const match = /^greeting=(.*)$/m.exec(readFileSync(file, 'utf8'));",
  '  if (match) greeting = match[1];',
  "  console.log('upstream ' + port + ' greeting=' + greeting);",
  '};',
  'load();',
  "process.on('SIGHUP', load);",
  'if (process.env.STATSD_PORT) {',
  "  const socket = createSocket('udp4');",
  "  socket.send('upstream.started:1|c|#port:' + port, Number(process.env.STATSD_PORT), process.env.STATSD_HOST, () => socket.close());",
  '}',
  'const server = createServer((req, res) => {',
  "  const url = new URL(req.url, 'http://x');",
  "  if (url.pathname === '/health') {",
  '    const ready = Date.now() - started >= readyAfter;',
  "    res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'warming up');",
  "  } else if (url.pathname === '/live') {",
  "    res.writeHead(sick ? 500 : 200).end(sick ? 'stuck' : 'alive');",
  "  } else if (url.pathname === '/sicken') {",
  '    sick = true;',
  "    res.writeHead(200).end('sick now');",
  "  } else if (url.pathname === '/crash') {",
  "    res.writeHead(200).end('crashing');",
  "    setTimeout(() => process.exit(Number(url.searchParams.get('code') || 3)), 20);",
  '  } else {',
  "    let body = '';",
  "    req.on('data', (chunk) => (body += chunk));",
  "    req.on('end', () => {",
  "      res.writeHead(200, { 'content-type': 'application/json' });",
  "      res.end(JSON.stringify({ port, greeting, method: req.method, path: req.url, body, forwardedFor: req.headers['x-forwarded-for'] || null }));",
  '    });',
  '  }',
  '});',
  "server.listen(port, '127.0.0.1', () => console.log('upstream ' + port + ' listening'));",
  "process.on('SIGTERM', async () => {",
  '  if (process.env.EUREKA_APP_URL) {',
  "    const res = await fetch(process.env.EUREKA_APP_URL, { headers: { accept: 'application/json' } });",
  '    const body = await res.json();',
  "    console.log('upstream ' + port + ' got SIGTERM while Eureka said ' + [body.application.instance].flat()[0].status);",
  '  }',
  '  server.close(() => process.exit(0));',
  '  server.closeAllConnections();',
  '});',
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-'));
const upstreamFile = join(dir, 'upstream.mjs');
writeFileSync(upstreamFile, upstreamSource);

let eureka: EurekaServer;
beforeAll(async () => {
  eureka = new EurekaServer({ port: 0, host: '127.0.0.1' });
  await eureka.listen();
});
afterAll(async () => {
  await eureka.close();
  rmSync(dir, { recursive: true, force: true });
});

const sidecars: Sidecar[] = [];
const strays: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(sidecars.splice(0).map((sidecar) => sidecar.stop('SIGKILL')));
  for (const child of strays.splice(0)) killTree(child);
});

interface Made {
  readonly sidecar: Sidecar;
  readonly port: number;
  readonly output: { text: string };
}

type Options = SidecarOptions & { readonly app: SidecarOptions['app']; readonly process: NonNullable<SidecarOptions['process']> };

/**
 * A sidecar for an upstream process on a free port, registered in the test's Eureka server; `customize`
 * changes the options (it gets them whole, the port included).
 */
async function makeSidecar(name: string, customize: (base: Options) => SidecarOptions = (base) => base, env: Record<string, string> = {}): Promise<Made> {
  const port = await freePort();
  const output = { text: '' };
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
  const base: Options = {
    app: { name, port, ipAddr: '127.0.0.1', hostName: 'localhost', instanceId: `${name}-${port}` },
    port: 0,
    registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 1000, registryFetchIntervalMs: 100 } },
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: 300, readinessPollMs: 50 },
    process: { command: process.execPath, args: [upstreamFile], env, stdout: stream, stderr: stream, stopTimeoutMs: 5000 },
    checks: [{ name: 'http', http: `http://127.0.0.1:${port}/health`, intervalMs: 100, timeoutMs: 5000 }],
  };
  const sidecar = createSidecar(customize(base));
  sidecars.push(sidecar);
  return { sidecar, port, output };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** The status Eureka gives an instance, or undefined when it has none. */
async function eurekaStatus(app: string, id: string): Promise<string | undefined> {
  const res = await request(`${eureka.url}/apps/${app.toUpperCase()}/${encodeURIComponent(id)}`, { headers: { accept: 'application/json' } });
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  const body = (await res.body.json()) as { instance: { status: string } };
  return body.instance.status;
}

describe('sidecar with a real child process', () => {
  it('answers Prana\'s endpoints with Prana\'s shapes, and JSON variants', async () => {
    const config = defineConfig<{ greeting: string; db: { password: string } }>({
      schema: { greeting: { doc: 'greeting', format: String, default: 'hi' }, db: { password: { doc: 'pw', format: String, default: 's3cret', sensitive: true } } },
    });
    const { sidecar, port } = await makeSidecar('prana', (base) => ({ ...base, config: { config } }));
    await sidecar.start();
    const base = sidecar.url!;

    const ping = await get(`${base}/ping`);
    expect(ping).toMatchObject({ status: 200, text: 'pong' });
    expect(ping.headers['cache-control']).toBe('must-revalidate,no-cache,no-store');
    expect(JSON.parse((await get(`${base}/ping?format=json`)).text)).toEqual({ pong: true, status: 'UP' });

    const health = await get(`${base}/healthcheck`);
    expect(health).toMatchObject({ status: 200, text: '<health>ok</health>' });
    expect(health.headers['content-type']).toBe('application/xml');
    const healthJson = await get(`${base}/healthcheck`, { accept: 'application/json' });
    expect(JSON.parse(healthJson.text)).toMatchObject({
      healthy: true,
      status: 'UP',
      checks: { http: { kind: 'readiness', status: 'PASSING' }, process: { status: 'PASSING', output: expect.stringMatching(/^process \d+ is running$/) } },
    });

    expect(JSON.parse((await get(`${base}/status`)).text)).toEqual({ status: 'UP' });
    expect(JSON.parse((await get(`${base}/dynamicproperties?id=greeting&id=db.password&id=nope`)).text)).toEqual({
      greeting: 'hi',
      'db.password': 's3cret',
      nope: null,
    });

    await waitFor(async () => JSON.parse((await get(`${base}/eureka/hosts?appName=prana`)).text).length === 1, 10_000, 'discovery of itself');
    expect(JSON.parse((await get(`${base}/eureka/hosts?appName=prana`)).text)).toEqual(['localhost']);
    expect(JSON.parse((await get(`${base}/eureka/hosts?appName=prana&vip=other`)).text)).toEqual([]);
    const noApp = await get(`${base}/eureka/hosts`);
    expect(noApp.status).toBe(400);
    expect(JSON.parse(noApp.text)).toEqual({ reason: 'Bad Request', message: 'appName has to be specified' });
    expect(JSON.parse((await get(`${base}/instances?vip=prana`)).text)).toEqual([
      expect.objectContaining({ instanceId: `prana-${port}`, app: 'PRANA', hostName: 'localhost', port, status: 'UP', url: `http://127.0.0.1:${port}` }),
    ]);

    // The proxy, both Prana forms and the plain one, to itself.
    const viaQuery = await get(`${base}/proxy?vip=prana&path=${encodeURIComponent('/hello?x=1')}`);
    expect(viaQuery.status).toBe(200);
    expect(JSON.parse(viaQuery.text)).toMatchObject({ port, path: '/hello?x=1', forwardedFor: '127.0.0.1' });
    expect(viaQuery.headers['x-karyon-instance']).toBe(`prana-${port}`);
    expect(JSON.parse((await get(`${base}/proxy/prana/hello?y=2`)).text)).toMatchObject({ path: '/hello?y=2' });
    const post = await request(`${base}/prana/echo`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    expect(await post.body.json()).toMatchObject({ method: 'POST', path: '/echo', body: 'payload' });
    const missing = await get(`${base}/proxy?vip=nobody&path=/`);
    expect(missing.status).toBe(503);
    expect(missing.headers['content-type']).toBe('application/xml');
    expect(missing.text).toBe("<status><status_code>503</status_code><message>no instance of &apos;nobody&apos; is available</message></status>");
    const missingJson = await get(`${base}/nobody/x`);
    expect(missingJson.status).toBe(503);
    expect(JSON.parse(missingJson.text)).toEqual({ error: "no instance of 'nobody' is available", code: 'ERR_NO_INSTANCES' });

    // OUT_OF_SERVICE from the admin API: Prana's status follows Eureka's; the health is still ok.
    const oos = await request(`${sidecar.service.adminUrl!}/status`, { method: 'PUT', body: '{"status":"OUT_OF_SERVICE"}' });
    expect(oos.statusCode).toBe(200);
    await oos.body.dump();
    expect(JSON.parse((await get(`${base}/status`)).text)).toEqual({ status: 'OUT_OF_SERVICE' });
    expect((await get(`${base}/healthcheck`)).text).toBe('<health>ok</health>');
    await waitFor(async () => (await eurekaStatus('prana', `prana-${port}`)) === 'OUT_OF_SERVICE', 10_000, 'OUT_OF_SERVICE in Eureka');

    expect(JSON.parse((await get(`${base}/process`)).text)).toMatchObject({ mode: 'spawn', state: 'running', restarts: 0 });
    expect((await get(`${base}/nowhere`)).status).toBe(503);
    expect((await request(`${base}/ping`, { method: 'POST' })).statusCode).toBe(405);
  });

  it('proxies large and chunked bodies both ways, streaming what it does not buffer', async () => {
    const { sidecar, port } = await makeSidecar('bulk', (base) => ({ ...base, proxy: { maxBufferedBodyBytes: 1024 } }));
    await sidecar.start();
    await waitFor(async () => (await get(`${sidecar.url!}/instances?vip=bulk`)).text.includes('"UP"'), 10_000, 'discovery');
    const big = 'x'.repeat(3 * 1024 * 1024);
    const sized = await request(`${sidecar.url!}/bulk/upload`, { method: 'PUT', body: big });
    const echoed = (await sized.body.json()) as { body: string; port: number };
    expect(sized.statusCode).toBe(200);
    expect(echoed.body.length).toBe(big.length);
    expect(echoed.port).toBe(port);
    async function* chunks() {
      for (let i = 0; i < 50; i++) yield Buffer.from(`chunk-${i};`);
    }
    const chunked = await request(`${sidecar.url!}/bulk/chunked`, { method: 'POST', body: Readable.from(chunks()) });
    expect(((await chunked.body.json()) as { body: string }).body).toBe(Array.from({ length: 50 }, (_, i) => `chunk-${i};`).join(''));
  });

  it('keeps a process that takes 2 s to become ready STARTING until then', async () => {
    const { sidecar, port } = await makeSidecar('slow', undefined, { READY_AFTER_MS: '2000' });
    let spawnedAt = 0;
    sidecar.on('processStart', () => (spawnedAt = Date.now()));
    const seen: string[] = [];
    sidecar.service.on('stateChange', (change) => seen.push(`${change.to}@${change.at}`));
    const starting = sidecar.start();
    await waitFor(async () => (await eurekaStatus('slow', `slow-${port}`)) === 'STARTING', 10_000, 'STARTING in Eureka');
    const base = sidecar.url!;
    expect((await get(`${base}/healthcheck`)).status).toBe(503);
    const waiting = JSON.parse((await get(`${base}/healthcheck?format=json`)).text);
    expect(waiting).toMatchObject({ healthy: false, status: 'STARTING' });
    await starting;
    const upAt = Number(seen.find((s) => s.startsWith('UP@'))!.slice(3));
    expect(upAt - spawnedAt).toBeGreaterThanOrEqual(2000);
    await waitFor(async () => (await eurekaStatus('slow', `slow-${port}`)) === 'UP', 10_000, 'UP in Eureka');
    expect(seen[0]?.split('@')[0]).toBe('UP');
  });

  it('goes DOWN while the kill-switch file exists and back UP when it is removed', async () => {
    const file = join(dir, 'kill-switch');
    const { sidecar: switched, port } = await makeSidecar('switched', (base) => ({
      ...base,
      checks: [
        { name: 'http', http: `http://127.0.0.1:${base.app.port}/health`, intervalMs: 100 },
        { name: 'kill-switch', script: ['karyon:kill-switch', file], intervalMs: 100, timeoutMs: 2000 },
      ],
    }));
    await switched.start();
    const id = `switched-${port}`;
    await waitFor(async () => (await eurekaStatus('switched', id)) === 'UP', 10_000, 'UP');
    writeFileSync(file, 'maintenance\n');
    await waitFor(async () => (await eurekaStatus('switched', id)) === 'DOWN', 10_000, 'DOWN after the file appeared');
    expect(switched.service.status).toBe('DOWN');
    const health = JSON.parse((await get(`${switched.url!}/healthcheck?format=json`)).text);
    expect(health.checks['kill-switch']).toMatchObject({ status: 'CRITICAL', output: `kill switch ${file} is on: maintenance` });
    expect(JSON.parse((await get(`${switched.url!}/status`)).text)).toEqual({ status: 'DOWN' });
    rmSync(file);
    await waitFor(async () => (await eurekaStatus('switched', id)) === 'UP', 10_000, 'UP after the file went');
    const transitions = switched.service.transitions.map((t) => t.to);
    expect(transitions[0]).toBe('UP');
    expect(transitions).toContain('DOWN');
    expect(transitions.at(-1)).toBe('UP');
  });

  it('reports a crash, goes DOWN and deregisters (restart: never)', async () => {
    // The crash is seen through the process's exit: an HTTP check run between the application closing its port and
    // its exit reaching the sidecar would go DOWN first (as it should), a race that the machine's load decides.
    const { sidecar, port } = await makeSidecar('crashy', (base) => ({ ...base, checks: (base.checks ?? []).map((check) => ({ ...check, intervalMs: 60_000 })) }));
    const exits: unknown[] = [];
    sidecar.on('processExit', (exit, final) => exits.push({ code: exit.code, requested: exit.requested, final }));
    await sidecar.start();
    const id = `crashy-${port}`;
    await waitFor(async () => (await eurekaStatus('crashy', id)) === 'UP', 10_000, 'UP');
    const states: string[] = [];
    sidecar.service.on('stateChange', (change) => states.push(change.to));
    await get(`http://127.0.0.1:${port}/crash?code=3`);
    const outcome = await sidecar.finished;
    expect(outcome).toMatchObject({ reason: 'process-exited', exitCode: 3, exit: { code: 3, signal: null, requested: false } });
    expect(exits).toEqual([{ code: 3, requested: false, final: true }]);
    expect(states).toEqual(['SHUTTING_DOWN', 'STOPPED']);
    expect(await eurekaStatus('crashy', id)).toBeUndefined();
  });

  it('restarts a crashed process when configured, DOWN until it is ready again', async () => {
    const made = await makeSidecar('phoenix', (base) => ({ ...base, process: { ...base.process, restart: 'on-failure', restartBackoffMs: 200, checkIntervalMs: 50 } }));
    const sidecar = made.sidecar;
    await sidecar.start();
    const states: string[] = [];
    sidecar.service.on('stateChange', (change) => states.push(change.to));
    const restarted = new Promise<{ restarts: number }>((resolve) => sidecar.once('processStart', resolve));
    await get(`http://127.0.0.1:${made.port}/crash?code=9`);
    expect(await restarted).toMatchObject({ restarts: 1 });
    await waitFor(() => sidecar.service.status === 'UP' && states.includes('DOWN'), 10_000, 'back UP after the restart');
    expect(states[0]).toBe('DOWN');
    expect(states.at(-1)).toBe('UP');
    expect(JSON.parse((await get(`${sidecar.url!}/process`)).text)).toMatchObject({ state: 'running', restarts: 1, lastExit: { code: 9 } });
  });

  it('restarts a process whose liveness check turns critical, when restarts are on', async () => {
    const { sidecar, port } = await makeSidecar('stuck', (base) => ({
      ...base,
      process: { ...base.process, restart: 'on-failure', restartBackoffMs: 100, checkIntervalMs: 50 },
      checks: [...(base.checks ?? []), { name: 'alive', kind: 'liveness', http: `http://127.0.0.1:${base.app.port}/live`, intervalMs: 100, timeoutMs: 5000 }],
    }));
    await sidecar.start();
    const exits: { requested: boolean; final: boolean }[] = [];
    sidecar.on('processExit', (exit, final) => exits.push({ requested: exit.requested, final }));
    const restarted = new Promise<{ restarts: number }>((resolve) => sidecar.once('processStart', resolve));
    await get(`http://127.0.0.1:${port}/sicken`);
    expect(await restarted).toMatchObject({ restarts: 1 });
    expect(exits).toEqual([{ requested: false, final: false }]);
    await waitFor(() => sidecar.service.healthReport().checks.alive?.status === 'PASSING' && sidecar.service.status === 'UP', 10_000, 'alive and UP again');
  });

  it('on stop: DOWN in Eureka, then SIGTERM to the process, a wait for it, then the cancel', async () => {
    const made = await makeSidecar('orderly', undefined, { EUREKA_APP_URL: `${eureka.url}/apps/ORDERLY` });
    const sidecar = made.sidecar;
    await sidecar.start();
    await waitFor(async () => (await eurekaStatus('orderly', `orderly-${made.port}`)) === 'UP', 10_000, 'UP');
    const exits: { code: number | null; requested: boolean }[] = [];
    sidecar.on('processExit', (exit) => exits.push({ code: exit.code, requested: exit.requested }));
    await sidecar.stop();
    expect(made.output.text).toContain(`upstream ${made.port} got SIGTERM while Eureka said DOWN`);
    expect(exits).toEqual([{ code: 0, requested: true }]);
    expect(await eurekaStatus('orderly', `orderly-${made.port}`)).toBeUndefined();
    expect(await sidecar.finished).toMatchObject({ reason: 'stopped', exitCode: 0 });
  });

  it('fails the start when the process exits before it is ready', async () => {
    const { sidecar } = await makeSidecar('early', (base) => ({ ...base, process: { ...base.process, args: ['-e', 'process.exit(4)'] } }));
    await expect(sidecar.start()).rejects.toThrow(/the process exited with code 4 before it was ready/);
    expect(await sidecar.finished).toMatchObject({ reason: 'process-exited', exitCode: 4 });
    expect(sidecar.service.status).toBe('FAILED');
  });

  it('stops in order when stopped while it waits for readiness, and closes twice without harm', async () => {
    const { sidecar, port, output } = await makeSidecar('interrupted', undefined, { READY_AFTER_MS: '60000' });
    // Handled from the start: the rejection comes while the stops below are still being awaited.
    const starting = sidecar.start();
    starting.catch(() => undefined);
    await waitFor(async () => (await eurekaStatus('interrupted', `interrupted-${port}`)) === 'STARTING', 10_000, 'STARTING');
    await waitFor(() => output.text.includes(`upstream ${port} listening`), 10_000, 'the process to listen');
    const exits: boolean[] = [];
    sidecar.on('processExit', (exit) => exits.push(exit.requested));
    await Promise.all([sidecar.stop(), sidecar.close(), sidecar[Symbol.asyncDispose]()]);
    await expect(starting).rejects.toMatchObject({ code: 'ERR_START_ABORTED' });
    expect(await sidecar.finished).toMatchObject({ reason: 'stopped', exitCode: 0 });
    expect(exits).toEqual([true]);
    expect(sidecar.service.status).toBe('STOPPED');
    expect(await eurekaStatus('interrupted', `interrupted-${port}`)).toBeUndefined();
  });

  it('waits for a TTL readiness check the application reports to over HTTP', async () => {
    const { sidecar, port, output } = await makeSidecar('ttl', (base) => ({ ...base, checks: [{ name: 'app', ttlMs: 5000 }] }));
    const starting = sidecar.start();
    await waitFor(() => sidecar.url !== undefined, 10_000, 'the sidecar to listen');
    // Registered as STARTING and its application listening, the service waits for the check's first report.
    await waitFor(async () => (await eurekaStatus('ttl', `ttl-${port}`)) === 'STARTING', 10_000, 'STARTING');
    await waitFor(() => output.text.includes(`upstream ${port} listening`), 10_000, 'the process to listen');
    expect(sidecar.service.status).toBe('STARTING');
    const bad = await request(`${sidecar.url!}/v1/agent/check/pass/nope`, { method: 'PUT' });
    expect(bad.statusCode).toBe(404);
    await bad.body.dump();
    const pass = await request(`${sidecar.url!}/v1/agent/check/pass/app?note=warmed`, { method: 'PUT' });
    expect(pass.statusCode).toBe(200);
    await pass.body.dump();
    await starting;
    expect(sidecar.service.status).toBe('UP');
    const update = await request(`${sidecar.url!}/v1/agent/check/update/app`, { method: 'PUT', body: '{"Status":"critical","Output":"db gone"}' });
    expect(update.statusCode).toBe(200);
    await update.body.dump();
    await waitFor(() => sidecar.service.status === 'DOWN', 10_000, 'DOWN after the critical report');
    expect(sidecar.service.healthReport().checks.app!.lastResult).toEqual({ status: 'DOWN', details: { output: 'db gone', ageMs: expect.any(Number) } });
  });

  it('counts a warning readiness check as passing, successBeforePassing runs in a row, as the service\'s health check does', async () => {
    const { sidecar, port } = await makeSidecar('warned', (base) => ({ ...base, checks: [{ name: 'app', ttlMs: 5000, successBeforePassing: 3 }] }));
    const starting = sidecar.start();
    await waitFor(() => sidecar.url !== undefined, 10_000, 'the sidecar to listen');
    await waitFor(async () => (await eurekaStatus('warned', `warned-${port}`)) === 'STARTING', 10_000, 'STARTING');
    const warn = await request(`${sidecar.url!}/v1/agent/check/warn/app?note=cold%20cache`, { method: 'PUT' });
    expect(warn.statusCode).toBe(200);
    await warn.body.dump();
    await starting;
    expect(sidecar.service.status).toBe('UP');
    expect(sidecar.service.healthReport().checks.app!.status).toBe('WARNING');
  });

  it('watches an already running process by pid, and stops when it is gone', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [upstreamFile], { env: { ...process.env, PORT: String(port) }, stdio: 'ignore' });
    strays.push(child);
    const { sidecar } = await makeSidecar('watched', (base) => ({
      ...base,
      app: { ...base.app, port, instanceId: `watched-${port}` },
      process: { pid: child.pid!, checkIntervalMs: 50 },
      checks: [{ name: 'http', http: `http://127.0.0.1:${port}/health`, intervalMs: 100 }],
    }));
    await sidecar.start();
    expect(JSON.parse((await get(`${sidecar.url!}/process`)).text)).toMatchObject({ mode: 'watch', state: 'running', pid: child.pid });
    child.kill('SIGKILL');
    expect(await sidecar.finished).toMatchObject({ reason: 'process-exited', exitCode: 1, exit: { code: null } });
  });

  it('renders the configuration for the process and sends it SIGHUP on every change', async () => {
    const template = join(dir, 'app.properties.template');
    const output = join(dir, 'app.properties');
    writeFileSync(template, 'greeting=${greeting}\n');
    const config = defineConfig<{ greeting: string }>({ schema: { greeting: { doc: 'greeting', format: String, default: 'hello' } } });
    const { sidecar } = await makeSidecar('templated', (base) => ({ ...base, config: { config, template, output } }));
    await sidecar.start();
    expect(readFileSync(output, 'utf8')).toBe('greeting=hello\n');
    const hello = async () => JSON.parse((await get(`${sidecar.url!}/proxy/templated/hello`)).text).greeting;
    await waitFor(async () => (await get(`${sidecar.url!}/instances?vip=templated`)).text.includes('"UP"'), 10_000, 'discovery');
    expect(await hello()).toBe('hello');
    const put = await request(`${sidecar.service.adminUrl!}/config/greeting`, { method: 'PUT', body: '{"value":"bonjour"}', headers: { 'content-type': 'application/json' } });
    expect(put.statusCode).toBe(200);
    await put.body.dump();
    await waitFor(async () => (await hello()) === 'bonjour', 10_000, 'the process to reload the rendered file');
    expect(readFileSync(output, 'utf8')).toBe('greeting=bonjour\n');
  });

  it('relays the statsd the process sends, with the standard tags, through the service metrics', async () => {
    const collector = createSocket('udp4');
    const lines: string[] = [];
    collector.on('message', (message) => lines.push(...message.toString().split('\n')));
    await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
    const made = await makeSidecar('metered', (base) => ({
      ...base,
      app: { ...base.app, zone: 'eu-1a' },
      metrics: { host: '127.0.0.1', port: collector.address().port, maxBufferSize: 0, prometheus: true },
      statsdRelay: { port: 0 },
    }));
    const sidecar = made.sidecar;
    try {
      await sidecar.start();
      const tags = `app:metered,instance:metered-${made.port},zone:eu-1a`;
      await waitFor(() => lines.includes(`upstream.started:1|c|#${tags},port:${made.port}`), 10_000, 'the process\'s counter, relayed');
      // More lines straight to the relay: several per datagram, a sample rate, a gauge delta, a set, bad ones.
      const sender = createSocket('udp4');
      const relayPort = sidecar.statsdRelayPort!;
      await new Promise<void>((resolve) => sender.send('jobs:2|c|@0.5\nqueue:+3|g\nusers:alice|s\nlatency:12.5|ms|#route:/x,app:spoofed\n_e{1,1}:a|b\nbroken', relayPort, '127.0.0.1', () => resolve()));
      sender.close();
      await waitFor(() => lines.some((l) => l.startsWith('latency:')), 10_000, 'the relayed lines');
      expect(lines).toEqual(expect.arrayContaining([`jobs:4|c|#${tags}`, `queue:+3|g|#${tags}`, `users:alice|s|#${tags}`, `latency:12.5|ms|#${tags},route:/x`]));
      expect(sidecar.statsdRelay!.stats()).toMatchObject({ relayed: 5, rejected: 2 });
      const exposition = await get(`${sidecar.service.adminUrl!}/metrics`);
      expect(exposition.text).toMatch(/upstream_started_total\{[^}]*app="metered"[^}]*\} 1/);
    } finally {
      collector.close();
    }
  });
});

describe('egress proxy across three real upstream instances', () => {
  it('balances over them and keeps answering when one is killed', async () => {
    const upstreams = await Promise.all([0, 1, 2].map(() => makeSidecar('upstream', (base) => ({ ...base, lifecycle: { deregistrationDelayMs: 200, readinessPollMs: 50 } }))));
    await Promise.all(upstreams.map((u) => u.sidecar.start()));
    const caller = createSidecar({
      app: { name: 'caller', port: await freePort(), ipAddr: '127.0.0.1' },
      port: 0,
      registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 1000, registryFetchIntervalMs: 100 } },
      admin: { port: 0, host: '127.0.0.1' },
      lifecycle: { deregistrationDelayMs: 0 },
      proxy: { balancer: 'round-robin', retries: { maxRetries: 2, budget: { minRetriesPerSecond: 1000 } } },
    });
    sidecars.push(caller);
    await caller.start();
    const base = caller.url!;
    await waitFor(async () => JSON.parse((await get(`${base}/instances?vip=upstream`)).text).length === 3, 10_000, 'three UP upstreams');

    const call = async () => {
      const res = await request(`${base}/upstream/hello`);
      const text = await res.body.text();
      return { status: res.statusCode, port: res.statusCode === 200 ? (JSON.parse(text) as { port: number }).port : undefined };
    };
    const counts = new Map<number | undefined, number>();
    for (let i = 0; i < 60; i++) {
      const { status, port } = await call();
      expect(status).toBe(200);
      counts.set(port, (counts.get(port) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(upstreams.map((u) => u.port).sort());
    for (const n of counts.values()) expect(n).toBe(20);

    // Kill one upstream's process outright: its sidecar goes DOWN and deregisters; calls never fail.
    const victim = upstreams[0]!;
    const victimPid = victim.sidecar.process!.pid!;
    process.kill(victimPid, 'SIGKILL');
    const during = new Map<number | undefined, number>();
    const deadline = Date.now() + 20_000;
    let gone = false;
    while (!gone) {
      const { status, port } = await call();
      expect(status).toBe(200);
      during.set(port, (during.get(port) ?? 0) + 1);
      gone = !JSON.parse((await get(`${base}/instances?vip=upstream&status=any`)).text).some((i: { port: number }) => i.port === victim.port);
      if (Date.now() > deadline) throw new Error('the killed instance never left the registry');
    }
    expect(await victim.sidecar.finished).toMatchObject({ reason: 'process-exited', exit: { signal: 'SIGKILL' }, exitCode: 137 });
    const after = new Map<number | undefined, number>();
    for (let i = 0; i < 40; i++) {
      const { status, port } = await call();
      expect(status).toBe(200);
      after.set(port, (after.get(port) ?? 0) + 1);
    }
    expect([...after.keys()].sort()).toEqual([upstreams[1]!.port, upstreams[2]!.port].sort());
    const stats = caller.proxy.clients.get('upstream')!.stats();
    expect(stats.errors).toBe(0);
  }, 60_000);
});

