import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Server as NetServer, connect } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServerTracker, listen } from 'karyon-ts';
import { createService } from 'karyon-ts';
import { InMemoryRegistry, EurekaServer } from 'karyon-ts/testing';
import type { Service } from 'karyon-ts';
import { memoryLogger } from '../support/logger.js';

// The admin and development Eureka servers against request targets Node's parser accepts but URL parsing
// refuses, and against an 'error' event emitted after they started listening (as an accept failing with
// EMFILE does).

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Request targets that `new URL(target, base)` refuses: a scheme-relative authority with a bad port or host. */
const malformedTargets = ['//a:b/status', '//[', '//x:-1/', '//a:b/eureka/apps'];

/** Sends one raw request head over a fresh loopback connection; resolves with the status and body once it closes. */
function rawRequest(port: number, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(head));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      if (match === null) {
        reject(new Error(`no HTTP response: ${JSON.stringify(text)}`));
        return;
      }
      resolve({ status: Number(match[1]), body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

async function adminService(): Promise<{ service: Service; port: number; lines: string[] }> {
  const logger = memoryLogger();
  const service = createService({
    name: 'hardening-test',
    port: 8080,
    hostName: 'localhost',
    registry: new InMemoryRegistry(),
    admin: { port: 0, host: '127.0.0.1' },
    lifecycle: { deregistrationDelayMs: 0 },
    logger,
  });
  cleanups.push(() => service.stop());
  await service.start();
  return { service, port: Number(new URL(service.adminUrl!).port), lines: logger.lines };
}

async function eurekaServer(): Promise<{ server: EurekaServer; lines: string[] }> {
  const logger = memoryLogger();
  const server = new EurekaServer({ port: 0, host: '127.0.0.1', logger });
  cleanups.push(() => server.close());
  await server.listen();
  return { server, lines: logger.lines };
}

/** The node:http servers that start listening while `run` runs. */
async function serversStartedBy(run: () => Promise<unknown>): Promise<Server[]> {
  const spy = vi.spyOn(NetServer.prototype, 'listen');
  try {
    await run();
    return spy.mock.contexts as Server[];
  } finally {
    spy.mockRestore();
  }
}

function acceptFailure(): NodeJS.ErrnoException {
  return Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', errno: -24, syscall: 'accept' });
}

const errorLines = (lines: readonly string[]): string[] => lines.filter((line) => line.startsWith('error '));

describe('a request target URL parsing refuses', () => {
  it('gets a 400 naming it from the admin server, with nothing logged at error level', async () => {
    const { port, lines } = await adminService();
    for (const target of malformedTargets) {
      const response = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(response.status, target).toBe(400);
      expect(JSON.parse(response.body), target).toEqual({ error: `malformed request target ${JSON.stringify(target)}` });
    }
    expect(errorLines(lines)).toEqual([]);
    // The server goes on serving.
    expect((await rawRequest(port, 'GET /livez HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).status).toBe(200);
  });

  it('gets a 400 naming it from the development Eureka server, with nothing logged at error level', async () => {
    const { server, lines } = await eurekaServer();
    for (const target of malformedTargets) {
      const response = await rawRequest(server.port!, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      expect(response.status, target).toBe(400);
      expect(response.body, target).toBe(`malformed request target ${JSON.stringify(target)}`);
    }
    expect(errorLines(lines)).toEqual([]);
    const apps = await rawRequest(server.port!, 'GET /eureka/apps HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\nConnection: close\r\n\r\n');
    expect(apps.status).toBe(200);
  });
});

describe("an 'error' event after listening", () => {
  it('is logged with the server name by listen(), and the server keeps serving', async () => {
    const logger = memoryLogger();
    const tracker = new ServerTracker(createServer((_req, res) => res.end('ok')));
    cleanups.push(() => tracker.drain(100));
    const port = await listen(tracker.server, 0, '127.0.0.1', { name: 'test server', logger });
    // With no 'error' listener, emit() throws the error: in Node's accept callback, that crashes the process.
    expect(() => tracker.server.emit('error', acceptFailure())).not.toThrow();
    expect(logger.lines).toEqual(['error test server error: accept EMFILE']);
    expect(await (await request(`http://127.0.0.1:${port}/`)).body.text()).toBe('ok');
    // A second listen() adds no second listener.
    await listen(tracker.server, 0, '127.0.0.1', { name: 'test server', logger });
    expect(tracker.server.listenerCount('error')).toBe(1);
  });

  it('does not crash the admin server, which logs it at error level', async () => {
    let started: { port: number; lines: string[] } | undefined;
    const servers = await serversStartedBy(async () => (started = await adminService()));
    expect(servers).toHaveLength(1);
    const [server] = servers as [Server];
    expect(() => server.emit('error', acceptFailure())).not.toThrow();
    expect(errorLines(started!.lines)).toEqual(['error admin server error: accept EMFILE']);
    expect((await request(`http://127.0.0.1:${started!.port}/livez`)).statusCode).toBe(200);
  });

  it('does not crash the development Eureka server, which logs it at error level', async () => {
    let started: { server: EurekaServer; lines: string[] } | undefined;
    const servers = await serversStartedBy(async () => (started = await eurekaServer()));
    expect(servers).toHaveLength(1);
    const [server] = servers as [Server];
    expect(() => server.emit('error', acceptFailure())).not.toThrow();
    expect(errorLines(started!.lines)).toEqual(['error Eureka server error: accept EMFILE']);
    const apps = await request(`${started!.server.url}/apps`, { headers: { accept: 'application/json' } });
    expect(apps.statusCode).toBe(200);
    await apps.body.text();
  });

  it('is not what reports a failed listen: listen() rejects, and nothing is logged', async () => {
    const logger = memoryLogger();
    const taken = createServer();
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const port = await listen(taken, 0, '127.0.0.1');
    const second = createServer();
    await expect(listen(second, port, '127.0.0.1', { name: 'second', logger })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(logger.lines).toEqual([]);
    expect(second.listenerCount('error')).toBe(0);
  });
});
